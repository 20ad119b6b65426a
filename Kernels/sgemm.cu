// The SGEMM kernel `mhs gpu` launches when cuBLAS cannot be found: C = A x B for row-major
// float matrices (M x K times K x N), 16 x 16 tiles staged through shared memory.
// Compiled to PTX by Kernels/make_ptx.sh; the PTX is embedded in Sources/MHSGPU/SGEMMKernel.swift
// and JIT-compiled by the driver (cuModuleLoadData) for whatever GPU is present.
#define TILE 16

extern "C" __global__ void mhs_sgemm(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c,
                                     int m, int n, int k) {
    __shared__ float as[TILE][TILE];
    __shared__ float bs[TILE][TILE];
    int row = blockIdx.y * TILE + threadIdx.y;
    int col = blockIdx.x * TILE + threadIdx.x;
    float sum = 0.0f;
    for (int t = 0; t < k; t += TILE) {
        as[threadIdx.y][threadIdx.x] = (row < m && t + threadIdx.x < k) ? a[row * k + t + threadIdx.x] : 0.0f;
        bs[threadIdx.y][threadIdx.x] = (col < n && t + threadIdx.y < k) ? b[(t + threadIdx.y) * n + col] : 0.0f;
        __syncthreads();
#pragma unroll
        for (int i = 0; i < TILE; ++i) sum += as[threadIdx.y][i] * bs[i][threadIdx.x];
        __syncthreads();
    }
    if (row < m && col < n) c[row * n + col] = sum;
}

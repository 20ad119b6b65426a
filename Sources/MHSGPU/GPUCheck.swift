import Foundation

/// The GPU test of Techcyte's template, without PyTorch: the device's name, a timed
/// N×N single-precision matrix product on it and one element of the result, checked
/// against the same element computed on the CPU.
public enum GPUCheck {
    /// What multiplies the matrices.
    public enum Kernel: String, Sendable, CaseIterable {
        /// cuBLAS when it can be found, else the PTX kernel.
        case auto
        /// cuBLAS only (an error when it is missing).
        case cublas
        /// The embedded PTX kernel (`Kernels/sgemm.cu`), JIT-compiled by the driver.
        case ptx
    }

    /// The outcome on one device.
    public struct Report: Sendable {
        public var device: CUDAStatus.Device
        /// e.g. `cuBLAS 13.1.0 (…/libcublas.so.13)` or `PTX kernel mhs_sgemm (driver JIT)`.
        public var kernel: String
        public var size: Int
        /// Median time of one product, and the fastest.
        public var medianMilliseconds: Double
        public var bestMilliseconds: Double
        /// 2·N³ / median time.
        public var gflops: Double
        /// The first checked element (row, column), the GPU's value and the CPU's.
        public var sample: (row: Int, column: Int, gpu: Float, cpu: Double)
        /// Elements compared with the CPU, and the largest error relative to Σ|aᵢₖ·bₖⱼ|.
        public var checked: Int
        public var maxRelativeError: Double
        /// Why cuBLAS was not used, when it was not.
        public var cublasNote: String?
        /// Whether every checked element agrees (relative error ≤ 1e-4).
        public var passed: Bool { maxRelativeError <= 1e-4 }
    }

    /// A failure of the check itself.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Runs the check on `device` (default 0). Blocks while the GPU works (a few ms).
    public static func run(
        driver: CUDADriver, status: CUDAStatus, device index: Int = 0, size: Int = 1000, iterations: Int = 20,
        kernel: Kernel = .auto, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Failure) -> Report {
        guard status.devices.indices.contains(index) else { throw Failure(description: "no CUDA device \(index)") }
        do {
            let device = try driver.activate(device: index)
            defer { driver.deactivate(device: device) }
            // Everything allocated on the device lives inside `measure`, so it is freed
            // before the context is released.
            return try measure(driver: driver, status: status, index: index, size: size, iterations: iterations, kernel: kernel, environment: environment)
        } catch let e as Failure {
            throw e
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    private static func measure(
        driver: CUDADriver, status: CUDAStatus, index: Int, size: Int, iterations: Int, kernel: Kernel, environment: [String: String]
    ) throws -> Report {
        let n = size
        let a = matrix(n * n, seed: 1), b = matrix(n * n, seed: 2)
        do {
            let da = try driver.upload(a), db = try driver.upload(b), dc = try driver.allocate(floats: n * n)

            var cublasNote: String?
            var multiply: () throws -> Void
            var kernelName: String
            var blasHandle: CUBLAS.Handle?
            if kernel != .ptx {
                var attempts: [String] = []
                if let blas = CUBLAS.load(environment: environment, attempts: &attempts) {
                    let handle = try blas.handle()
                    blasHandle = handle
                    kernelName = "cuBLAS \(handle.version) (\(blas.path))"
                } else {
                    if kernel == .cublas { throw Failure(description: "cuBLAS not found; tried: \(attempts.joined(separator: "; "))") }
                    cublasNote = "cuBLAS not found (\(attempts.joined(separator: "; ")))"
                    kernelName = ""
                }
            } else {
                cublasNote = "PTX kernel asked for"
                kernelName = ""
            }
            var module: OpaquePointer?
            defer { if let module { _ = driver.moduleUnload(module) } }
            if let handle = blasHandle {
                multiply = { try handle.sgemm(m: n, n: n, k: n, a: da.address, b: db.address, c: dc.address) }
            } else {
                let ptx = SGEMMKernel.ptx
                let loaded = ptx.withCString { driver.moduleLoadData(&module, $0) }
                try driver.check(loaded, "cuModuleLoadData (PTX JIT)")
                var function: OpaquePointer?
                try driver.check(driver.moduleGetFunction(&function, module!, SGEMMKernel.entry), "cuModuleGetFunction(\(SGEMMKernel.entry))")
                let fn = function!
                kernelName = "PTX kernel \(SGEMMKernel.entry), \(SGEMMKernel.tile)x\(SGEMMKernel.tile) tiles (driver JIT)"
                multiply = {
                    var pa = da.address, pb = db.address, pc = dc.address
                    var m32 = Int32(n), n32 = Int32(n), k32 = Int32(n)
                    let grid = UInt32((n + SGEMMKernel.tile - 1) / SGEMMKernel.tile), block = UInt32(SGEMMKernel.tile)
                    let rc = withUnsafeMutablePointer(to: &pa) { a in
                        withUnsafeMutablePointer(to: &pb) { b in
                            withUnsafeMutablePointer(to: &pc) { c in
                                withUnsafeMutablePointer(to: &m32) { mm in
                                    withUnsafeMutablePointer(to: &n32) { nn in
                                        withUnsafeMutablePointer(to: &k32) { kk in
                                            var params: [UnsafeMutableRawPointer?] = [
                                                UnsafeMutableRawPointer(a), UnsafeMutableRawPointer(b), UnsafeMutableRawPointer(c),
                                                UnsafeMutableRawPointer(mm), UnsafeMutableRawPointer(nn), UnsafeMutableRawPointer(kk),
                                            ]
                                            return params.withUnsafeMutableBufferPointer {
                                                driver.launchKernel(fn, grid, grid, 1, block, block, 1, 0, nil, $0.baseAddress, nil)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    try driver.check(rc, "cuLaunchKernel(\(SGEMMKernel.entry))")
                }
            }

            // One product to warm up (cuBLAS picks its kernel, the driver JITs the PTX), then timed ones.
            try multiply()
            try driver.synchronize()
            var times: [Double] = []
            for _ in 0..<max(1, iterations) {
                let start = ContinuousClock.now
                try multiply()
                try driver.synchronize()
                times.append((ContinuousClock.now - start) / .milliseconds(1))
            }
            let c = try driver.download(dc)
            times.sort()
            let median = times[times.count / 2]

            // The first sample is the template's kind of "result sample"; the rest spread over the matrix.
            var samples = [(min(123, n - 1), min(456, n - 1)), (0, 0), (n - 1, n - 1)]
            var rng = UInt64(0x9E37_79B9_7F4A_7C15)
            for _ in 0..<13 {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                samples.append((Int(rng >> 33) % n, Int(rng >> 13) % n))
            }
            var worst = 0.0
            var first: (Int, Int, Float, Double) = (0, 0, 0, 0)
            for (i, (r, col)) in samples.enumerated() {
                var exact = 0.0, scale = 0.0
                for t in 0..<n {
                    let p = Double(a[r * n + t]) * Double(b[t * n + col])
                    exact += p
                    scale += abs(p)
                }
                let got = c[r * n + col]
                worst = max(worst, abs(Double(got) - exact) / max(scale, 1e-30))
                if i == 0 { first = (r, col, got, exact) }
            }
            return Report(
                device: status.devices[index], kernel: kernelName, size: n, medianMilliseconds: median, bestMilliseconds: times[0],
                gflops: 2 * Double(n) * Double(n) * Double(n) / (median / 1000) / 1e9,
                sample: (first.0, first.1, first.2, first.3), checked: samples.count, maxRelativeError: worst, cublasNote: cublasNote)
        } catch let e as Failure {
            throw e
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    /// Deterministic values in [-1, 1).
    static func matrix(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x2545_F491_4F6C_DD1D
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(state >> 40) - (1 << 23)) / Float(1 << 23)
        }
    }
}

extension GPUCheck.Report {
    /// One line: size, device, time, throughput, kernel, the sample and the verdict.
    public var line: String {
        let ms = String(format: "%.3f", medianMilliseconds)
        let sampleText = String(format: "C[%d,%d] = %.5f (CPU %.5f)", sample.row, sample.column, Double(sample.gpu), sample.cpu)
        return "GPU check: \(size)x\(size) SGEMM on \(device.name) in \(ms) ms (\(Int(gflops.rounded())) GFLOP/s) with \(kernel); \(sampleText); "
            + (passed ? "\(checked) elements match the CPU" : "MISMATCH: relative error \(String(format: "%.1e", maxRelativeError))")
    }
}

extension GPUCheck {
    /// The short form for `mhs run`: the check on device 0 with a few timed products, as
    /// one line (a failure is a line too: the task goes on, on the CPU if need be).
    public static func summary(status: CUDAStatus, environment: [String: String]) -> String {
        do {
            let driver = try CUDADriver(environment: environment)
            return try run(driver: driver, status: status, iterations: 5, environment: environment).line
        } catch {
            return "GPU check failed: \(error)"
        }
    }
}

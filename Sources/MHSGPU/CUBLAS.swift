import MHSDynamicLibrary

/// cuBLAS, found at run time: `MHS_CUBLAS_LIB`, the `nvidia-cublas` Python package's copy
/// (CUDA 13 wheels keep it in `nvidia/cu13/lib`, CUDA 12 ones in `nvidia/cublas/lib`), then
/// the system's `libcublas.so.13` / `.12`. `libcublasLt` from the same folder is loaded
/// first (a companion), because `libcublas` needs it and the wheel's folder is not on the
/// loader's path.
public final class CUBLAS: @unchecked Sendable {
    // @unchecked: immutable function pointers.
    typealias CreateFn = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32
    typealias DestroyFn = @convention(c) (OpaquePointer) -> Int32
    typealias VersionFn = @convention(c) (OpaquePointer, UnsafeMutablePointer<Int32>) -> Int32
    typealias SgemmFn = @convention(c) (
        OpaquePointer, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>, UnsafeRawPointer?, Int32,
        UnsafeRawPointer?, Int32, UnsafePointer<Float>, UnsafeMutableRawPointer?, Int32
    ) -> Int32

    /// Where it was loaded from.
    public let path: String
    let create: CreateFn
    let destroy: DestroyFn
    let getVersion: VersionFn
    let sgemm: SgemmFn

    /// Finds and loads cuBLAS, or returns nil with every place tried in `attempts`.
    public static func load(locations: LibraryLocations, attempts: inout [String]) -> CUBLAS? {
        var search = LibrarySearch(
            variable: "MHS_CUBLAS_LIB",
            packageFiles: ["nvidia/cu13/lib/libcublas.so.*", "nvidia/cublas/lib/libcublas.so.*"],
            sonames: ["libcublas.so.13", "libcublas.so.12", "libcublas.so"], companions: ["libcublasLt.so.*"])
        let lib = search.load(from: locations)
        attempts = search.attempts
        guard let lib else { return nil }
        guard let create = lib.function("cublasCreate_v2", as: CreateFn.self),
            let destroy = lib.function("cublasDestroy_v2", as: DestroyFn.self),
            let version = lib.function("cublasGetVersion_v2", as: VersionFn.self),
            let sgemm = lib.function("cublasSgemm_v2", as: SgemmFn.self)
        else {
            attempts.append("\(lib.path): lacks cublasCreate_v2/cublasSgemm_v2")
            return nil
        }
        return CUBLAS(path: lib.path, create: create, destroy: destroy, getVersion: version, sgemm: sgemm)
    }

    private init(path: String, create: CreateFn, destroy: DestroyFn, getVersion: VersionFn, sgemm: SgemmFn) {
        self.path = path
        self.create = create
        self.destroy = destroy
        self.getVersion = getVersion
        self.sgemm = sgemm
    }

    /// A cuBLAS handle on the current context.
    public final class Handle: @unchecked Sendable {
        // @unchecked: used by one check at a time.
        let raw: OpaquePointer
        let blas: CUBLAS
        init(_ blas: CUBLAS) throws(CUBLASError) {
            var h: OpaquePointer?
            let rc = blas.create(&h)
            guard rc == 0, let h else { throw CUBLASError(call: "cublasCreate_v2", status: rc) }
            raw = h
            self.blas = blas
        }
        deinit { _ = blas.destroy(raw) }

        /// `cublasGetVersion_v2`, e.g. `13.1.0`.
        public var version: String {
            var v: Int32 = 0
            guard blas.getVersion(raw, &v) == 0 else { return "?" }
            return "\(v / 10000).\(v % 10000 / 100).\(v % 100)"
        }

        /// C = A·B for row-major A (m×k), B (k×n), C (m×n) in device memory: cuBLAS is
        /// column-major, so this asks it for Cᵀ = Bᵀ·Aᵀ.
        public func sgemm(m: Int, n: Int, k: Int, a: UInt64, b: UInt64, c: UInt64) throws(CUBLASError) {
            var alpha: Float = 1, beta: Float = 0
            let rc = blas.sgemm(
                raw, 0, 0, Int32(n), Int32(m), Int32(k), &alpha, UnsafeRawPointer(bitPattern: UInt(b)), Int32(n),
                UnsafeRawPointer(bitPattern: UInt(a)), Int32(k), &beta, UnsafeMutableRawPointer(bitPattern: UInt(c)), Int32(n))
            guard rc == 0 else { throw CUBLASError(call: "cublasSgemm_v2", status: rc) }
        }
    }

    /// A handle on the current context.
    public func handle() throws(CUBLASError) -> Handle { try Handle(self) }
}

/// A cuBLAS call that returned a status other than `CUBLAS_STATUS_SUCCESS`.
public struct CUBLASError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var status: Int32
    public var description: String {
        let names: [Int32: String] = [
            1: "NOT_INITIALIZED", 3: "ALLOC_FAILED", 7: "INVALID_VALUE", 8: "ARCH_MISMATCH", 11: "MAPPING_ERROR",
            13: "EXECUTION_FAILED", 14: "INTERNAL_ERROR", 15: "NOT_SUPPORTED", 16: "LICENSE_ERROR",
        ]
        return "\(call) failed: CUBLAS_STATUS_\(names[status] ?? "\(status)")"
    }
}

import MHSDynamicLibrary

#if canImport(Glibc)
import Glibc
#endif

/// A CUDA driver API call that failed: the call, its `CUresult` and the driver's name and
/// text for it.
public struct CUDAError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var code: Int32
    public var name: String
    public var message: String
    public var description: String { "\(call) failed: \(name) (\(code)): \(message)" }
}

/// The CUDA driver API from `libcuda.so.1`, by its real exported names (`cuMemAlloc_v2`,
/// not the header's `cuMemAlloc` macro). No toolkit or header is needed: the NVIDIA
/// container toolkit injects the host's driver library.
public final class CUDADriver: @unchecked Sendable {
    // @unchecked: immutable function pointers; the driver API is thread-safe.

    public typealias Result = Int32
    typealias IntOutFn = @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    typealias InitFn = @convention(c) (UInt32) -> Result
    typealias DeviceGetFn = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Result
    typealias NameFn = @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Result
    typealias TotalMemFn = @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Result
    typealias AttributeFn = @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Result
    typealias PrimaryRetainFn = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32) -> Result
    typealias DeviceFn = @convention(c) (Int32) -> Result
    typealias SetCurrentFn = @convention(c) (OpaquePointer?) -> Result
    typealias VoidFn = @convention(c) () -> Result
    typealias AllocFn = @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> Result
    typealias FreeFn = @convention(c) (UInt64) -> Result
    typealias HtoDFn = @convention(c) (UInt64, UnsafeRawPointer, Int) -> Result
    typealias DtoHFn = @convention(c) (UnsafeMutableRawPointer, UInt64, Int) -> Result
    typealias ModuleLoadFn = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafeRawPointer) -> Result
    typealias GetFunctionFn = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, OpaquePointer, UnsafePointer<CChar>) -> Result
    typealias ModuleUnloadFn = @convention(c) (OpaquePointer) -> Result
    typealias LaunchFn = @convention(c) (
        OpaquePointer, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, OpaquePointer?,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
    ) -> Result
    typealias ErrorTextFn = @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result
    typealias MemInfoFn = @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> Result

    /// Where the library was loaded from.
    public let path: String
    let cuInit: InitFn
    let driverGetVersion: IntOutFn
    let deviceGetCount: IntOutFn
    let deviceGet: DeviceGetFn
    let deviceGetName: NameFn
    let deviceTotalMem: TotalMemFn
    let deviceGetAttribute: AttributeFn
    let primaryCtxRetain: PrimaryRetainFn
    let primaryCtxRelease: DeviceFn
    let ctxSetCurrent: SetCurrentFn
    let ctxSynchronize: VoidFn
    let memAlloc: AllocFn
    let memFree: FreeFn
    let memcpyHtoD: HtoDFn
    let memcpyDtoH: DtoHFn
    let memGetInfo: MemInfoFn
    let moduleLoadData: ModuleLoadFn
    let moduleGetFunction: GetFunctionFn
    let moduleUnload: ModuleUnloadFn
    let launchKernel: LaunchFn
    let getErrorName: ErrorTextFn
    let getErrorString: ErrorTextFn

    /// Why the driver could not be loaded.
    public enum LoadFailure: Error, Sendable, CustomStringConvertible {
        case notFound(String)
        case missingSymbol(path: String, name: String)
        public var description: String {
            switch self {
            case .notFound(let why): why
            case .missingSymbol(let path, let name): "\(path) lacks \(name): not a CUDA driver library"
            }
        }
    }

    /// Loads `MHS_CUDA_LIB` or `libcuda.so.1`.
    public init(locations: LibraryLocations) throws(LoadFailure) {
        let name = locations.file("MHS_CUDA_LIB") ?? "libcuda.so.1"
        var failure = ""
        guard let lib = SharedLibrary.open(name, failure: &failure) else {
            let missing = failure.contains("No such file") || failure.contains("cannot open shared object")
            throw .notFound("\(name) not found" + (missing ? "" : " (\(failure))"))
        }
        func f<T>(_ symbol: String, _ type: T.Type) throws(LoadFailure) -> T {
            guard let fn = lib.function(symbol, as: type) else { throw .missingSymbol(path: name, name: symbol) }
            return fn
        }
        path = name
        cuInit = try f("cuInit", InitFn.self)
        driverGetVersion = try f("cuDriverGetVersion", IntOutFn.self)
        deviceGetCount = try f("cuDeviceGetCount", IntOutFn.self)
        deviceGet = try f("cuDeviceGet", DeviceGetFn.self)
        deviceGetName = try f("cuDeviceGetName", NameFn.self)
        deviceTotalMem = try f("cuDeviceTotalMem_v2", TotalMemFn.self)
        deviceGetAttribute = try f("cuDeviceGetAttribute", AttributeFn.self)
        primaryCtxRetain = try f("cuDevicePrimaryCtxRetain", PrimaryRetainFn.self)
        primaryCtxRelease = try f("cuDevicePrimaryCtxRelease_v2", DeviceFn.self)
        ctxSetCurrent = try f("cuCtxSetCurrent", SetCurrentFn.self)
        ctxSynchronize = try f("cuCtxSynchronize", VoidFn.self)
        memAlloc = try f("cuMemAlloc_v2", AllocFn.self)
        memFree = try f("cuMemFree_v2", FreeFn.self)
        memcpyHtoD = try f("cuMemcpyHtoD_v2", HtoDFn.self)
        memcpyDtoH = try f("cuMemcpyDtoH_v2", DtoHFn.self)
        memGetInfo = try f("cuMemGetInfo_v2", MemInfoFn.self)
        moduleLoadData = try f("cuModuleLoadData", ModuleLoadFn.self)
        moduleGetFunction = try f("cuModuleGetFunction", GetFunctionFn.self)
        moduleUnload = try f("cuModuleUnload", ModuleUnloadFn.self)
        launchKernel = try f("cuLaunchKernel", LaunchFn.self)
        getErrorName = try f("cuGetErrorName", ErrorTextFn.self)
        getErrorString = try f("cuGetErrorString", ErrorTextFn.self)
    }

    /// Throws a ``CUDAError`` naming `call` when `result` is not `CUDA_SUCCESS`.
    func check(_ result: Result, _ call: String) throws(CUDAError) {
        guard result != 0 else { return }
        var name: UnsafePointer<CChar>?
        var text: UnsafePointer<CChar>?
        _ = getErrorName(result, &name)
        _ = getErrorString(result, &text)
        throw CUDAError(
            call: call, code: result, name: name.map { String(cString: $0) } ?? "CUDA_ERROR_\(result)",
            message: text.map { String(cString: $0) } ?? "unknown error")
    }

    /// `cuDriverGetVersion` as `major.minor`.
    public func version() -> String? {
        var v: Int32 = 0
        return driverGetVersion(&v) == 0 ? "\(v / 1000).\(v % 1000 / 10)" : nil
    }

    /// `cuInit(0)`.
    public func initialize() throws(CUDAError) { try check(cuInit(0), "cuInit") }

    /// Makes device `index`'s primary context current on this thread (the context the
    /// CUDA runtime, cuBLAS and ONNX Runtime also use) and returns the device handle.
    public func activate(device index: Int) throws(CUDAError) -> Int32 {
        var device: Int32 = 0
        try check(deviceGet(&device, Int32(index)), "cuDeviceGet")
        var context: OpaquePointer?
        try check(primaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain")
        try check(ctxSetCurrent(context), "cuCtxSetCurrent")
        return device
    }

    /// Releases what ``activate(device:)`` retained.
    public func deactivate(device: Int32) {
        _ = ctxSetCurrent(nil)
        _ = primaryCtxRelease(device)
    }

    /// Device memory that frees itself.
    public final class DeviceBuffer: @unchecked Sendable {
        // @unchecked: the address is a plain integer; use is confined to one check.
        public let address: UInt64
        public let bytes: Int
        let driver: CUDADriver
        init(driver: CUDADriver, bytes: Int) throws(CUDAError) {
            var a: UInt64 = 0
            try driver.check(driver.memAlloc(&a, bytes), "cuMemAlloc_v2(\(bytes) bytes)")
            self.driver = driver
            self.bytes = bytes
            address = a
        }
        deinit { _ = driver.memFree(address) }
    }

    /// Allocates `count` floats on the current context's device and copies `values` there when given.
    public func upload(_ values: [Float]) throws(CUDAError) -> DeviceBuffer {
        let buffer = try DeviceBuffer(driver: self, bytes: values.count * 4)
        let rc = values.withUnsafeBytes { memcpyHtoD(buffer.address, $0.baseAddress!, $0.count) }
        try check(rc, "cuMemcpyHtoD_v2")
        return buffer
    }

    /// Device memory for `count` floats, uninitialised.
    public func allocate(floats count: Int) throws(CUDAError) -> DeviceBuffer {
        try DeviceBuffer(driver: self, bytes: count * 4)
    }

    /// Copies a device buffer back as floats.
    public func download(_ buffer: DeviceBuffer) throws(CUDAError) -> [Float] {
        var out = [Float](repeating: 0, count: buffer.bytes / 4)
        let rc = out.withUnsafeMutableBytes { memcpyDtoH($0.baseAddress!, buffer.address, $0.count) }
        try check(rc, "cuMemcpyDtoH_v2")
        return out
    }

    /// `cuCtxSynchronize`.
    public func synchronize() throws(CUDAError) { try check(ctxSynchronize(), "cuCtxSynchronize") }

    /// A module compiled from PTX by the driver; unloaded when released.
    public final class Module: @unchecked Sendable {
        // @unchecked: the handle is used by one check at a time.
        let raw: OpaquePointer
        let driver: CUDADriver
        /// JIT-compiles `ptx` for the current context's device.
        public init(driver: CUDADriver, ptx: String) throws(CUDAError) {
            var module: OpaquePointer?
            let rc = ptx.withCString { driver.moduleLoadData(&module, $0) }
            try driver.check(rc, "cuModuleLoadData (PTX JIT)")
            raw = module!
            self.driver = driver
        }
        deinit { _ = driver.moduleUnload(raw) }

        /// The entry point `name`.
        public func function(_ name: String) throws(CUDAError) -> OpaquePointer {
            var function: OpaquePointer?
            try driver.check(driver.moduleGetFunction(&function, raw, name), "cuModuleGetFunction(\(name))")
            return function!
        }
    }

    /// A kernel argument, passed by value.
    public enum KernelArgument: Sendable {
        case pointer(UInt64)
        case int32(Int32)
    }

    /// Launches `function` on a 2-D grid of 2-D blocks (`cuLaunchKernel`, default stream).
    public func launch(
        _ function: OpaquePointer, grid: (x: UInt32, y: UInt32), block: (x: UInt32, y: UInt32), arguments: [KernelArgument]
    ) throws(CUDAError) {
        // Each argument in its own 8-byte slot; the driver reads each through a pointer.
        let slots = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, arguments.count))
        defer { slots.deallocate() }
        var pointers: [UnsafeMutableRawPointer?] = []
        for (i, argument) in arguments.enumerated() {
            let slot = UnsafeMutableRawPointer(slots + i)
            switch argument {
            case .pointer(let address): slot.storeBytes(of: address, as: UInt64.self)
            case .int32(let value): slot.storeBytes(of: value, as: Int32.self)
            }
            pointers.append(slot)
        }
        let rc = pointers.withUnsafeMutableBufferPointer {
            launchKernel(function, grid.x, grid.y, 1, block.x, block.y, 1, 0, nil, $0.baseAddress, nil)
        }
        try check(rc, "cuLaunchKernel")
    }
}

import Foundation
import MHSDynamicLibrary
import MHSGPU

/// Why inference could not be set up or run.
public enum InferenceError: Error, Sendable, CustomStringConvertible {
    /// No ONNX Runtime library could be loaded; `searched` lists each place and why.
    case runtimeNotFound(searched: [String])
    /// ONNX Runtime refused a call: its own error code and message.
    case runtime(call: String, code: Int32, message: String)
    /// A tensor or name the model does not accept.
    case invalidInput(String)
    /// `MHS_INFERENCE_DEVICE=cuda` but the CUDA execution provider cannot be used.
    case cudaUnavailable(String)

    public var description: String {
        switch self {
        case .runtimeNotFound(let searched):
            "ONNX Runtime (libonnxruntime.so) not found. Install it (pip install onnxruntime, or onnxruntime-gpu for CUDA) or set MHS_ONNXRUNTIME_LIB to the library. Searched: "
                + searched.joined(separator: "; ")
        case .runtime(let call, let code, let message): "ONNX Runtime \(call) failed (\(Self.codeName(code))): \(message)"
        case .invalidInput(let why): why
        case .cudaUnavailable(let why): "MHS_INFERENCE_DEVICE=cuda, but the CUDA execution provider cannot be used: \(why)"
        }
    }

    static func codeName(_ code: Int32) -> String {
        let names = [
            "ORT_OK", "ORT_FAIL", "ORT_INVALID_ARGUMENT", "ORT_NO_SUCHFILE", "ORT_NO_MODEL", "ORT_ENGINE_ERROR",
            "ORT_RUNTIME_EXCEPTION", "ORT_INVALID_PROTOBUF", "ORT_MODEL_LOADED", "ORT_NOT_IMPLEMENTED", "ORT_INVALID_GRAPH",
            "ORT_EP_FAIL",
        ]
        return names.indices.contains(Int(code)) ? names[Int(code)] : "code \(code)"
    }
}

/// The `OrtApi` function table: entries are called by their 0-based slot in
/// `onnxruntime_c_api.h` (API version 13 layout; the table is append-only).
struct ORTAPI: @unchecked Sendable {
    // @unchecked: a pointer to ONNX Runtime's static, immutable table.
    let table: UnsafePointer<UnsafeRawPointer?>

    enum Slot: Int {
        case getErrorCode = 1, getErrorMessage = 2, createEnv = 3, createSession = 7, createSessionFromArray = 8, run = 9
        case createSessionOptions = 10, setSessionGraphOptimizationLevel = 23, setIntraOpNumThreads = 24
        case setInterOpNumThreads = 25, sessionGetInputCount = 30, sessionGetOutputCount = 31
        case sessionGetInputTypeInfo = 33, sessionGetOutputTypeInfo = 34
        case sessionGetInputName = 36, sessionGetOutputName = 37
        case createTensorWithDataAsOrtValue = 49, getTensorMutableData = 51, castTypeInfoToTensorInfo = 55
        case getOnnxTypeFromTypeInfo = 56, getTensorElementType = 60
        case getDimensionsCount = 61, getDimensions = 62, getTensorTypeAndShape = 65, createCpuMemoryInfo = 69
        case allocatorFree = 76, getAllocatorWithDefaultOptions = 78
        case releaseEnv = 92, releaseStatus = 93, releaseMemoryInfo = 94, releaseSession = 95, releaseValue = 96
        case releaseTypeInfo = 98, releaseTensorTypeAndShapeInfo = 99, releaseSessionOptions = 100
        case getAvailableProviders = 125, releaseAvailableProviders = 126
        case appendCUDAV2 = 204, createCUDAProviderOptions = 205, updateCUDAProviderOptions = 206
        case releaseCUDAProviderOptions = 208
    }

    /// An entry as a C function of type `T`.
    func fn<T>(_ slot: Slot, _ type: T.Type) -> T {
        unsafeBitCast(table[slot.rawValue]!, to: type)
    }

    /// Turns a returned `OrtStatus*` into an error (and releases it).
    func check(_ status: OpaquePointer?, _ call: String) throws(InferenceError) {
        guard let status else { return }
        typealias CodeFn = @convention(c) (OpaquePointer) -> Int32
        typealias MessageFn = @convention(c) (OpaquePointer) -> UnsafePointer<CChar>?
        typealias ReleaseFn = @convention(c) (OpaquePointer) -> Void
        let code = fn(.getErrorCode, CodeFn.self)(status)
        let message = fn(.getErrorMessage, MessageFn.self)(status).map { String(cString: $0) } ?? "no message"
        fn(.releaseStatus, ReleaseFn.self)(status)
        throw .runtime(call: call, code: code, message: message)
    }

    typealias ReleaseFn = @convention(c) (OpaquePointer?) -> Void
    /// Calls a `Release*` entry.
    func release(_ slot: Slot, _ object: OpaquePointer?) {
        guard let object else { return }
        fn(slot, ReleaseFn.self)(object)
    }
}

/// ONNX Runtime's C API, loaded with `dlopen` (no header, no link-time dependency).
///
/// Search order: `MHS_ONNXRUNTIME_LIB`; the `onnxruntime` or `onnxruntime-gpu` Python
/// package's `onnxruntime/capi/libonnxruntime.so.*`; the system's `libonnxruntime.so.1`.
/// The API is the table returned by `OrtGetApiBase()->GetApi(13)`, so any ONNX Runtime
/// from 1.13 on works.
public final class ONNXRuntime: @unchecked Sendable {
    // @unchecked: immutable after init; the OrtEnv and the API table are thread-safe.

    /// Where the library was loaded from.
    public let path: String
    /// `GetVersionString()`, e.g. `1.31.1`.
    public let version: String
    /// The execution providers this build has (e.g. `CPUExecutionProvider`, and
    /// `CUDAExecutionProvider` in onnxruntime-gpu).
    public let availableProviders: [String]

    let api: ORTAPI
    let env: OpaquePointer
    let cpuMemory: OpaquePointer

    /// The API version asked of `GetApi` (ONNX Runtime 1.13).
    static let apiVersion: UInt32 = 13

    typealias GetApiBaseFn = @convention(c) () -> UnsafeRawPointer?
    typealias GetApiFn = @convention(c) (UInt32) -> UnsafeRawPointer?
    typealias VersionStringFn = @convention(c) () -> UnsafePointer<CChar>?

    private static let loaded: Result<ONNXRuntime, InferenceError> = {
        do throws(InferenceError) {
            return .success(try ONNXRuntime(locations: LibraryLocations.current))
        } catch {
            return .failure(error)
        }
    }()

    /// The process-wide runtime, loaded on first use (one `OrtEnv` per process, as ONNX
    /// Runtime asks).
    public static func shared() throws(InferenceError) -> ONNXRuntime { try loaded.get() }

    /// The places searched, in order.
    public static func search() -> LibrarySearch {
        LibrarySearch(
            variable: "MHS_ONNXRUNTIME_LIB", packageFiles: ["onnxruntime/capi/libonnxruntime.so*"],
            sonames: ["libonnxruntime.so.1", "libonnxruntime.so"])
    }

    /// Loads a runtime from `locations` (``shared()`` uses ``LibraryLocations/current``).
    public init(locations: LibraryLocations) throws(InferenceError) {
        var search = Self.search()
        let found = search.load(from: locations) { $0.symbol("OrtGetApiBase") == nil ? "no OrtGetApiBase: not ONNX Runtime" : nil }
        guard let lib = found, let base = lib.function("OrtGetApiBase", as: GetApiBaseFn.self)?() else {
            throw .runtimeNotFound(searched: search.attempts)
        }
        let getApi = unsafeBitCast(base.load(as: UnsafeRawPointer.self), to: GetApiFn.self)
        let versionString = unsafeBitCast(
            base.load(fromByteOffset: MemoryLayout<UnsafeRawPointer>.stride, as: UnsafeRawPointer.self), to: VersionStringFn.self)
        let version = versionString().map { String(cString: $0) } ?? "unknown"
        guard let table = getApi(Self.apiVersion) else {
            throw .runtimeNotFound(searched: search.attempts + [
                "\(lib.path): ONNX Runtime \(version) does not offer C API version \(Self.apiVersion) (1.13 or newer is needed)",
            ])
        }
        let api = ORTAPI(table: table.assumingMemoryBound(to: UnsafeRawPointer?.self))

        typealias CreateEnvFn = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeMutablePointer<OpaquePointer?>) -> OpaquePointer?
        typealias CpuInfoFn = @convention(c) (Int32, Int32, UnsafeMutablePointer<OpaquePointer?>) -> OpaquePointer?
        typealias ProvidersFn = @convention(c) (
            UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>, UnsafeMutablePointer<Int32>
        ) -> OpaquePointer?
        typealias ReleaseProvidersFn = @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, Int32) -> OpaquePointer?
        var env: OpaquePointer?
        // ORT_LOGGING_LEVEL_ERROR (3): ONNX Runtime's warnings stay out of the task's log.
        try api.check(api.fn(.createEnv, CreateEnvFn.self)(3, "mhs", &env), "CreateEnv")
        var memory: OpaquePointer?
        // OrtArenaAllocator (1), OrtMemTypeDefault (0), as the C++ API's MemoryInfo::CreateCpu.
        try api.check(api.fn(.createCpuMemoryInfo, CpuInfoFn.self)(1, 0, &memory), "CreateCpuMemoryInfo")
        var list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        var count: Int32 = 0
        var providers: [String] = []
        if api.fn(.getAvailableProviders, ProvidersFn.self)(&list, &count) == nil, let list {
            providers = (0..<Int(count)).compactMap { list[$0].map { String(cString: $0) } }
            _ = api.fn(.releaseAvailableProviders, ReleaseProvidersFn.self)(list, count)
        }
        self.api = api
        self.env = env!
        self.cpuMemory = memory!
        self.path = lib.path
        self.version = version
        self.availableProviders = providers
    }

    /// Whether this build has the CUDA execution provider (onnxruntime-gpu).
    public var hasCUDAProvider: Bool { availableProviders.contains("CUDAExecutionProvider") }
}

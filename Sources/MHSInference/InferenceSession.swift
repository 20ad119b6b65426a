import Foundation
import MHSDynamicLibrary
import MHSGPU

/// A loaded ONNX model, ready to run on the CPU or, through ONNX Runtime's CUDA execution
/// provider, on a GPU.
///
///     let session = try InferenceSession(modelPath: "model.onnx", device: .auto)
///     print(session.provider)               // "CUDA device 0" or "CPU (8 threads)"
///     let out = try session.run(["rgb": batch])["peaks"]!
///
/// With `.auto`, CUDA is used when a driver answers, the runtime is a CUDA build and the
/// provider loads; otherwise the CPU, with ``fallbackReason`` saying why. `run` may be
/// called from several tasks at once (ONNX Runtime's `Run` is thread-safe).
public final class InferenceSession: @unchecked Sendable {
    // @unchecked: the OrtSession is immutable after creation and `Run` is thread-safe.

    /// Where a session runs.
    public enum Provider: Sendable, Equatable, CustomStringConvertible {
        case cpu(threads: Int)
        case cuda(device: Int)
        public var description: String {
            switch self {
            case .cpu(let t): "CPU (\(t) thread\(t == 1 ? "" : "s"))"
            case .cuda(let d): "CUDA device \(d)"
            }
        }
        public var isGPU: Bool { if case .cuda = self { true } else { false } }
    }

    public let runtime: ONNXRuntime
    public let provider: Provider
    /// Why the GPU is not used although `.auto` would have used it.
    public let fallbackReason: String?
    public let inputNames: [String]
    public let outputNames: [String]
    /// The element type and shape the model declares for each input, in ``inputNames`` order.
    public let inputs: [TensorInfo]
    /// The same for each output, in ``outputNames`` order.
    public let outputs: [TensorInfo]
    let session: OpaquePointer

    /// What a model declares about one of its inputs or outputs.
    public struct TensorInfo: Sendable, Hashable, CustomStringConvertible {
        public var name: String
        /// ONNX's element type (1 float32, 10 float16, 7 int64, ...); nil for a value that is
        /// not a tensor (a sequence or map).
        public var elementType: Int32?
        /// The dimensions, outermost first; nil where the model leaves one open (a symbolic
        /// name such as `batch`, or -1).
        public var dimensions: [Int?]

        /// e.g. `input: float32 [batch, 3, 224, 224]` (an open dimension is written `?`).
        public var description: String {
            "\(name): \(Self.typeName(elementType)) [\(dimensions.map { $0.map(String.init) ?? "?" }.joined(separator: ", "))]"
        }

        /// ONNX's name of an element type.
        public static func typeName(_ type: Int32?) -> String {
            guard let type else { return "not a tensor" }
            let names: [Int32: String] = [
                1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string", 9: "bool",
                10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16",
            ]
            return names[type] ?? "element type \(type)"
        }
    }

    /// Loads a model file.
    /// - Parameter cudaOptions: CUDA provider options beside `device_id` (e.g.
    ///   `cudnn_conv_algo_search: HEURISTIC`), used when the session runs on a GPU.
    public convenience init(
        modelPath: String, device: ComputeDevice = .auto, threads: Int? = nil, gpu: CUDAStatus? = nil, runtime: ONNXRuntime? = nil,
        cudaOptions: [String: String] = [:]
    ) throws(InferenceError) {
        try self.init(source: .path(modelPath), device: device, threads: threads, gpu: gpu, runtime: runtime, cudaOptions: cudaOptions)
    }

    /// Loads a model from its bytes.
    public convenience init(
        model: [UInt8], device: ComputeDevice = .auto, threads: Int? = nil, gpu: CUDAStatus? = nil, runtime: ONNXRuntime? = nil
    ) throws(InferenceError) {
        try self.init(source: .bytes(model), device: device, threads: threads, gpu: gpu, runtime: runtime, cudaOptions: [:])
    }

    enum Source {
        case path(String)
        case bytes([UInt8])
    }

    typealias OptionsFn = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> OpaquePointer?
    typealias SetIntFn = @convention(c) (OpaquePointer, Int32) -> OpaquePointer?
    typealias CreateSessionFn = @convention(c) (OpaquePointer, UnsafePointer<CChar>, OpaquePointer, UnsafeMutablePointer<OpaquePointer?>) -> OpaquePointer?
    typealias CreateFromArrayFn = @convention(c) (OpaquePointer, UnsafeRawPointer, Int, OpaquePointer, UnsafeMutablePointer<OpaquePointer?>) -> OpaquePointer?
    typealias UpdateCUDAFn = @convention(c) (OpaquePointer, UnsafePointer<UnsafePointer<CChar>?>, UnsafePointer<UnsafePointer<CChar>?>, Int) -> OpaquePointer?
    typealias AppendCUDAFn = @convention(c) (OpaquePointer, OpaquePointer) -> OpaquePointer?
    typealias CountFn = @convention(c) (OpaquePointer, UnsafeMutablePointer<Int>) -> OpaquePointer?
    typealias NameFn = @convention(c) (OpaquePointer, Int, OpaquePointer, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> OpaquePointer?
    typealias AllocatorFn = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> OpaquePointer?
    typealias AllocatorFreeFn = @convention(c) (OpaquePointer, UnsafeMutableRawPointer?) -> OpaquePointer?

    init(
        source: Source, device: ComputeDevice, threads: Int?, gpu: CUDAStatus?, runtime given: ONNXRuntime?, cudaOptions: [String: String]
    ) throws(InferenceError) {
        let runtime: ONNXRuntime
        if let given { runtime = given } else { runtime = try ONNXRuntime.shared() }
        let api = runtime.api
        let threads = max(1, threads ?? Processors.online)

        func makeOptions(cudaDevice: Int?) throws(InferenceError) -> OpaquePointer {
            var options: OpaquePointer?
            try api.check(api.fn(.createSessionOptions, OptionsFn.self)(&options), "CreateSessionOptions")
            let o = options!
            do throws(InferenceError) {
                try api.check(api.fn(.setIntraOpNumThreads, SetIntFn.self)(o, Int32(threads)), "SetIntraOpNumThreads")
                // ORT_ENABLE_ALL (99).
                try api.check(api.fn(.setSessionGraphOptimizationLevel, SetIntFn.self)(o, 99), "SetSessionGraphOptimizationLevel")
                if let cudaDevice {
                    var cuda: OpaquePointer?
                    try api.check(api.fn(.createCUDAProviderOptions, OptionsFn.self)(&cuda), "CreateCUDAProviderOptions")
                    defer { api.release(.releaseCUDAProviderOptions, cuda) }
                    let extra = cudaOptions.filter { $0.key != "device_id" }.sorted { $0.key < $1.key }
                    let keys = ["device_id"] + extra.map(\.key), values = ["\(cudaDevice)"] + extra.map(\.value)
                    let status: OpaquePointer? = withCStrings(keys) { k in
                        withCStrings(values) { v in api.fn(.updateCUDAProviderOptions, UpdateCUDAFn.self)(cuda!, k, v, keys.count) }
                    }
                    try api.check(status, "UpdateCUDAProviderOptions")
                    try api.check(api.fn(.appendCUDAV2, AppendCUDAFn.self)(o, cuda!), "SessionOptionsAppendExecutionProvider_CUDA_V2")
                }
            } catch {
                api.release(.releaseSessionOptions, o)
                throw error
            }
            return o
        }

        func create(_ options: OpaquePointer) throws(InferenceError) -> OpaquePointer {
            defer { api.release(.releaseSessionOptions, options) }
            var session: OpaquePointer?
            let status: OpaquePointer?
            switch source {
            case .path(let p):
                status = p.withCString { api.fn(.createSession, CreateSessionFn.self)(runtime.env, $0, options, &session) }
            case .bytes(let b):
                status = b.withUnsafeBytes { api.fn(.createSessionFromArray, CreateFromArrayFn.self)(runtime.env, $0.baseAddress!, $0.count, options, &session) }
            }
            try api.check(status, "CreateSession")
            return session!
        }

        // Decide on CUDA.
        var reason: String?
        var cudaDevice: Int?
        if device != .cpu {
            let status = gpu ?? CUDAProbe.probe(locations: .current)
            if !status.isAvailable {
                reason = "no GPU: \(status.unavailableReason ?? "no device")"
            } else if !runtime.hasCUDAProvider {
                reason = "ONNX Runtime \(runtime.version) at \(runtime.path) is a CPU-only build (providers: \(runtime.availableProviders.joined(separator: ", "))); install onnxruntime-gpu"
            } else {
                cudaDevice = 0
            }
        }
        var made: (OpaquePointer, Provider)?
        if let d = cudaDevice {
            do throws(InferenceError) {
                made = (try create(try makeOptions(cudaDevice: d)), .cuda(device: d))
            } catch {
                reason = "the CUDA provider did not load: \(error)"
            }
        }
        if made == nil, device == .cuda { throw .cudaUnavailable(reason ?? "unknown") }
        let session: OpaquePointer, provider: Provider
        if let made { (session, provider) = made } else { (session, provider) = (try create(try makeOptions(cudaDevice: nil)), .cpu(threads: threads)) }

        // The model's input and output names.
        var allocator: OpaquePointer?
        try api.check(api.fn(.getAllocatorWithDefaultOptions, AllocatorFn.self)(&allocator), "GetAllocatorWithDefaultOptions")
        func names(_ countSlot: ORTAPI.Slot, _ nameSlot: ORTAPI.Slot) throws(InferenceError) -> [String] {
            var n = 0
            try api.check(api.fn(countSlot, CountFn.self)(session, &n), "SessionGet\(countSlot == .sessionGetInputCount ? "Input" : "Output")Count")
            var out: [String] = []
            for i in 0..<n {
                var name: UnsafeMutablePointer<CChar>?
                try api.check(api.fn(nameSlot, NameFn.self)(session, i, allocator!, &name), "SessionGetName")
                out.append(String(cString: name!))
                _ = api.fn(.allocatorFree, AllocatorFreeFn.self)(allocator!, name)
            }
            return out
        }
        typealias TypeInfoFn = @convention(c) (OpaquePointer, Int, UnsafeMutablePointer<OpaquePointer?>) -> OpaquePointer?
        typealias CastFn = @convention(c) (OpaquePointer, UnsafeMutablePointer<OpaquePointer?>) -> OpaquePointer?
        func infos(_ names: [String], _ slot: ORTAPI.Slot) throws(InferenceError) -> [TensorInfo] {
            var out: [TensorInfo] = []
            for (i, name) in names.enumerated() {
                var typeInfo: OpaquePointer?
                try api.check(api.fn(slot, TypeInfoFn.self)(session, i, &typeInfo), "SessionGetTypeInfo(\(name))")
                defer { api.release(.releaseTypeInfo, typeInfo) }
                // Owned by the type info: not released; nil when the value is not a tensor.
                var tensor: OpaquePointer?
                try api.check(api.fn(.castTypeInfoToTensorInfo, CastFn.self)(typeInfo!, &tensor), "CastTypeInfoToTensorInfo(\(name))")
                guard let tensor else {
                    out.append(TensorInfo(name: name, elementType: nil, dimensions: []))
                    continue
                }
                var type: Int32 = 0
                try api.check(api.fn(.getTensorElementType, ElementTypeFn.self)(tensor, &type), "GetTensorElementType(\(name))")
                var rank = 0
                try api.check(api.fn(.getDimensionsCount, DimCountFn.self)(tensor, &rank), "GetDimensionsCount(\(name))")
                var dims = [Int64](repeating: 0, count: rank)
                if rank > 0 {
                    try api.check(dims.withUnsafeMutableBufferPointer { api.fn(.getDimensions, DimsFn.self)(tensor, $0.baseAddress!, rank) }, "GetDimensions(\(name))")
                }
                out.append(TensorInfo(name: name, elementType: type, dimensions: dims.map { $0 > 0 ? Int($0) : nil }))
            }
            return out
        }
        do throws(InferenceError) {
            inputNames = try names(.sessionGetInputCount, .sessionGetInputName)
            outputNames = try names(.sessionGetOutputCount, .sessionGetOutputName)
            inputs = try infos(inputNames, .sessionGetInputTypeInfo)
            outputs = try infos(outputNames, .sessionGetOutputTypeInfo)
        } catch {
            api.release(.releaseSession, session)
            throw error
        }
        self.session = session
        self.provider = provider
        self.runtime = runtime
        fallbackReason = device == .auto && !provider.isGPU ? reason : nil
    }

    deinit { runtime.api.release(.releaseSession, session) }

    typealias CreateTensorFn = @convention(c) (
        OpaquePointer, UnsafeMutableRawPointer, Int, UnsafePointer<Int64>, Int, Int32, UnsafeMutablePointer<OpaquePointer?>
    ) -> OpaquePointer?
    typealias RunFn = @convention(c) (
        OpaquePointer, OpaquePointer?, UnsafePointer<UnsafePointer<CChar>?>, UnsafePointer<OpaquePointer?>, Int,
        UnsafePointer<UnsafePointer<CChar>?>, Int, UnsafeMutablePointer<OpaquePointer?>
    ) -> OpaquePointer?
    typealias TypeShapeFn = @convention(c) (OpaquePointer, UnsafeMutablePointer<OpaquePointer?>) -> OpaquePointer?
    typealias DimCountFn = @convention(c) (OpaquePointer, UnsafeMutablePointer<Int>) -> OpaquePointer?
    typealias DimsFn = @convention(c) (OpaquePointer, UnsafeMutablePointer<Int64>, Int) -> OpaquePointer?
    typealias ElementTypeFn = @convention(c) (OpaquePointer, UnsafeMutablePointer<Int32>) -> OpaquePointer?
    typealias DataFn = @convention(c) (OpaquePointer, UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> OpaquePointer?

    /// Runs the model. Every input the model declares must be given; `outputs` defaults to
    /// all of them. Errors carry ONNX Runtime's own message (a wrong shape names the node).
    public func run(_ inputs: [String: Tensor], outputs: [String]? = nil) throws(InferenceError) -> [String: Tensor] {
        let api = runtime.api
        for name in inputs.keys where !inputNames.contains(name) {
            throw .invalidInput("the model has no input '\(name)' (its inputs: \(inputNames.joined(separator: ", ")))")
        }
        for name in inputNames where inputs[name] == nil {
            throw .invalidInput("input '\(name)' is missing (the model's inputs: \(inputNames.joined(separator: ", ")))")
        }
        let wanted = outputs ?? outputNames
        for name in wanted where !outputNames.contains(name) {
            throw .invalidInput("the model has no output '\(name)' (its outputs: \(outputNames.joined(separator: ", ")))")
        }
        let ordered = inputNames.map { ($0, inputs[$0]!) }

        // ONNX Runtime reads the inputs in place: copy them into buffers that outlive Run.
        var buffers: [UnsafeMutableBufferPointer<Float>] = []
        var values: [OpaquePointer?] = []
        defer {
            for v in values { api.release(.releaseValue, v) }
            for b in buffers { b.deallocate() }
        }
        for (name, tensor) in ordered {
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, tensor.count))
            _ = buffer.initialize(from: tensor.values)
            buffers.append(buffer)
            let shape = tensor.shape.map(Int64.init)
            var value: OpaquePointer?
            // ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT (1).
            let status = shape.withUnsafeBufferPointer {
                api.fn(.createTensorWithDataAsOrtValue, CreateTensorFn.self)(
                    runtime.cpuMemory, UnsafeMutableRawPointer(buffer.baseAddress!), tensor.count * 4, $0.baseAddress!, shape.count, 1, &value)
            }
            try api.check(status, "CreateTensorWithDataAsOrtValue(\(name), shape \(tensor.shape))")
            values.append(value)
        }
        var results = [OpaquePointer?](repeating: nil, count: wanted.count)
        defer { for r in results { api.release(.releaseValue, r) } }
        let status: OpaquePointer? = withCStrings(ordered.map(\.0)) { inNames in
            withCStrings(wanted) { outNames in
                values.withUnsafeBufferPointer { ins in
                    results.withUnsafeMutableBufferPointer { outs in
                        api.fn(.run, RunFn.self)(session, nil, inNames, ins.baseAddress!, ordered.count, outNames, wanted.count, outs.baseAddress!)
                    }
                }
            }
        }
        try api.check(status, "Run")

        var out: [String: Tensor] = [:]
        for (name, value) in zip(wanted, results) {
            guard let value else { throw .runtime(call: "Run", code: 1, message: "no value for output '\(name)'") }
            var info: OpaquePointer?
            try api.check(api.fn(.getTensorTypeAndShape, TypeShapeFn.self)(value, &info), "GetTensorTypeAndShape(\(name))")
            defer { api.release(.releaseTensorTypeAndShapeInfo, info) }
            var type: Int32 = 0
            try api.check(api.fn(.getTensorElementType, ElementTypeFn.self)(info!, &type), "GetTensorElementType")
            guard type == 1 else { throw .invalidInput("output '\(name)' is not float32 (ONNX element type \(type)); only float tensors are read") }
            var rank = 0
            try api.check(api.fn(.getDimensionsCount, DimCountFn.self)(info!, &rank), "GetDimensionsCount")
            var dims = [Int64](repeating: 0, count: rank)
            try api.check(dims.withUnsafeMutableBufferPointer { api.fn(.getDimensions, DimsFn.self)(info!, $0.baseAddress!, rank) }, "GetDimensions")
            let shape = dims.map { Int($0) }
            var data: UnsafeMutableRawPointer?
            try api.check(api.fn(.getTensorMutableData, DataFn.self)(value, &data), "GetTensorMutableData(\(name))")
            let count = shape.reduce(1, *)
            let floats = Array(UnsafeBufferPointer(start: data!.assumingMemoryBound(to: Float.self), count: count))
            out[name] = Tensor(shape: shape, values: floats)
        }
        return out
    }
}

/// Calls `body` with a C array of C strings that live for the call.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { for c in copies { free(c) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// A classifier (or anything) with an ONNX model: `mhs gpu` opens a session of each such
/// classifier a package offers and says where its model would run.
public protocol InferenceModelProvider: Sendable {
    /// How the model is named in messages, e.g. "example nuclei".
    var modelDescription: String { get }
    /// A session of the model on `device`.
    func makeSession(device: ComputeDevice, gpu: CUDAStatus?) throws -> InferenceSession
}

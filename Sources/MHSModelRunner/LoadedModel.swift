import Foundation
import MHSGPU
import MHSInference
import MHSModels

/// A model directory with its model loaded in ONNX Runtime and checked against its
/// configuration: one float32 image input `[batch, 3, side, side]` where `side` is what the
/// transform makes, and a float32 output `[batch, num_classes]` — checked on the shapes the
/// model declares and on one synthetic patch run through it.
public struct LoadedModel: Sendable {
    public let directory: ModelDirectory
    public let session: InferenceSession
    /// The model's image input and the output read as class scores.
    public let inputName: String
    public let outputName: String

    public var configuration: ModelConfiguration { directory.configuration }

    /// CUDA provider options for patch classifiers: cuDNN's heuristic picks convolution
    /// algorithms at once instead of timing every one on the first batch.
    public static let cudaOptions = ["cudnn_conv_algo_search": "HEURISTIC"]

    /// Opens the directory at `path`, loads its model on `device` and checks it; every
    /// problem at once (the configuration's at their JSON paths, the model's under
    /// `model.onnx`).
    public static func load(
        _ path: String, device: ComputeDevice = .auto, gpu: CUDAStatus? = nil, threads: Int? = nil, runtime: ONNXRuntime? = nil
    ) -> Result<LoadedModel, ModelProblems> {
        let directory: ModelDirectory
        switch ModelDirectory.open(path) {
        case .success(let d): directory = d
        case .failure(let problems): return .failure(problems)
        }
        let session: InferenceSession
        do {
            session = try InferenceSession(
                modelPath: directory.modelPath, device: device, threads: threads, gpu: gpu, runtime: runtime, cudaOptions: cudaOptions)
        } catch {
            return .failure(ModelProblems([ModelProblem(path: ModelDirectory.modelName, Self.loadMessage(error))]))
        }
        return check(directory, session)
    }

    /// What ONNX Runtime said, for a model that did not load.
    static func loadMessage(_ error: InferenceError) -> String {
        if case .runtime(_, _, let message) = error { return "ONNX Runtime cannot load it: \(message)" }
        return "\(error)"
    }

    /// Checks the session's declared inputs and outputs against the configuration, then runs
    /// one synthetic patch.
    static func check(_ directory: ModelDirectory, _ session: InferenceSession) -> Result<LoadedModel, ModelProblems> {
        let configuration = directory.configuration
        let model = ModelDirectory.modelName
        var problems: [ModelProblem] = []
        let side = configuration.inputSize
        let classes = configuration.numberOfClasses
        func shape(_ dims: [Int?]) -> String { "[" + dims.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]" }
        let sideSource = configuration.transforms.contains { if case .resize = $0 { true } else { false } }
            ? "the config's Resize" : "patch_size_pixels (the config has no Resize)"

        guard session.inputs.count == 1, let input = session.inputs.first else {
            let list = session.inputs.map(\.description).joined(separator: "; ")
            return .failure(ModelProblems([ModelProblem(path: model, "has \(session.inputs.count) inputs (\(list)): a model directory's model takes one, the batch of patches [batch, 3, \(side), \(side)]")]))
        }
        if input.elementType != 1 {
            problems.append(ModelProblem(path: model, "input '\(input.name)' is \(InferenceSession.TensorInfo.typeName(input.elementType)): mhs gives float32 patches (export the model with a float32 input)"))
        }
        if input.dimensions.count != 4 {
            problems.append(ModelProblem(path: model, "input '\(input.name)' has shape \(shape(input.dimensions)): a batch of images is 4-D, [batch, 3, \(side), \(side)]"))
        } else {
            let d = input.dimensions
            if let c = d[1], c != 3 {
                problems.append(ModelProblem(path: model, "input '\(input.name)' has \(c) channels (shape \(shape(d))): patches are RGB, 3 channels first (NCHW)"))
            }
            if let h = d[2], h != side {
                problems.append(ModelProblem(path: model, "input '\(input.name)' is \(h) pixels high (shape \(shape(d))), but \(sideSource) makes \(side) × \(side) patches"))
            }
            if let w = d[3], w != side {
                problems.append(ModelProblem(path: model, "input '\(input.name)' is \(w) pixels wide (shape \(shape(d))), but \(sideSource) makes \(side) × \(side) patches"))
            }
        }
        guard let output = session.outputs.first else {
            return .failure(ModelProblems(problems + [ModelProblem(path: model, "has no output")]))
        }
        if output.elementType != 1 {
            problems.append(ModelProblem(path: model, "output '\(output.name)' is \(InferenceSession.TensorInfo.typeName(output.elementType)): mhs reads float32 class scores"))
        }
        if output.dimensions.count != 2 {
            problems.append(ModelProblem(path: model, "output '\(output.name)' has shape \(shape(output.dimensions)): class scores are [batch, num_classes] = [batch, \(classes)]"))
        } else if let n = output.dimensions[1], n != classes {
            problems.append(ModelProblem(path: model, "output '\(output.name)' gives \(n) score\(n == 1 ? "" : "s") per patch, but config.json has num_classes \(classes) (\(configuration.classNames.joined(separator: ", ")))"))
        }
        guard problems.isEmpty else { return .failure(ModelProblems(problems)) }

        // One synthetic patch: a model whose shapes are left open can still disagree inside.
        let loaded = LoadedModel(directory: directory, session: session, inputName: input.name, outputName: output.name)
        do {
            let scores = try loaded.logits(Tensor(zeros: [1, 3, side, side]))
            if scores.count != classes {
                return .failure(ModelProblems([ModelProblem(path: model, "gave \(scores.count) scores for one patch, but config.json has num_classes \(classes) (\(configuration.classNames.joined(separator: ", ")))")]))
            }
        } catch {
            return .failure(ModelProblems([ModelProblem(path: model, "does not run on one \(side) × \(side) patch: \(error)")]))
        }
        return .success(loaded)
    }

    /// The model's raw scores for a batch, `[batch × num_classes]` row by row.
    public func logits(_ batch: Tensor) throws -> [Float] {
        let out = try session.run([inputName: batch], outputs: [outputName])
        guard let scores = out[outputName] else { throw InferenceError.invalidInput("no output '\(outputName)'") }
        return scores.values
    }

    /// Per-patch class probabilities for a batch: softmax over the classes, or the sigmoid
    /// of a one-class model (WSInfer's rule).
    public func probabilities(_ batch: Tensor) throws -> [[Double]] {
        let count = batch.shape.first ?? 0
        let classes = configuration.numberOfClasses
        let values = try logits(batch)
        guard values.count == count * classes else {
            throw InferenceError.invalidInput("the model gave \(values.count) scores for \(count) patches of \(classes) classes")
        }
        return (0..<count).map { i in Self.activate(values[(i * classes)..<((i + 1) * classes)], configuration.activation) }
    }

    /// Softmax (max subtracted first) or sigmoid, in double precision.
    static func activate(_ logits: ArraySlice<Float>, _ activation: ModelConfiguration.Activation) -> [Double] {
        switch activation {
        case .sigmoid:
            return logits.map { 1 / (1 + exp(-Double($0))) }
        case .softmax:
            let top = Double(logits.max() ?? 0)
            let e = logits.map { exp(Double($0) - top) }
            let total = e.reduce(0, +)
            return e.map { $0 / total }
        }
    }
}

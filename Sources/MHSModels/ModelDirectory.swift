import Foundation

/// A model directory as a lab ships it: `config.json` (WSInfer's format, with an optional
/// `mhs` object) beside `model.onnx`.
public struct ModelDirectory: Sendable, Hashable {
    /// The directory.
    public var path: String
    /// What `config.json` says.
    public var configuration: ModelConfiguration
    /// `model.onnx` in the directory.
    public var modelPath: String

    /// The configuration's file name in a model directory.
    public static let configurationName = "config.json"
    /// The model's file name in a model directory.
    public static let modelName = "model.onnx"

    /// Reads the directory at `path`: the configuration and the model's presence, or every
    /// problem with both at once (a file's problems under its name, the configuration's under
    /// their JSON paths).
    public static func open(_ path: String) -> Result<ModelDirectory, ModelProblems> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return .failure(ModelProblems([ModelProblem(path: path, "not a directory: a model directory holds \(configurationName) and \(modelName)")]))
        }
        var problems: [ModelProblem] = []
        let modelPath = path + "/" + modelName
        if let attributes = try? FileManager.default.attributesOfItem(atPath: modelPath) {
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? (attributes[.size] as? UInt64).map(Int64.init) ?? 0
            if size == 0 {
                problems.append(ModelProblem(path: modelName, "is empty"))
            } else if !FileManager.default.isReadableFile(atPath: modelPath) {
                problems.append(ModelProblem(path: modelName, "cannot be read"))
            }
        } else {
            problems.append(ModelProblem(path: modelName, "missing: export the model to ONNX (torch.onnx.export) and put it beside \(configurationName)"))
        }
        let configurationPath = path + "/" + configurationName
        guard let bytes = FileManager.default.contents(atPath: configurationPath) else {
            let why = FileManager.default.fileExists(atPath: configurationPath) ? "cannot be read" : "missing: WSInfer's model configuration"
            problems.append(ModelProblem(path: configurationName, why))
            return .failure(ModelProblems(problems))
        }
        switch ModelConfiguration.parse(Array(bytes)) {
        case .success(let configuration) where problems.isEmpty:
            return .success(ModelDirectory(path: path, configuration: configuration, modelPath: modelPath))
        case .success:
            return .failure(ModelProblems(problems))
        case .failure(let found):
            return .failure(ModelProblems(problems + found.problems.map { ModelProblem(path: "\(configurationName) \($0.path)", $0.message) }))
        }
    }
}

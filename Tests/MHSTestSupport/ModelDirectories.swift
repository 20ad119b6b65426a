import Foundation

/// Models/patch-classifiers: the test model directories and their references.
public let patchClassifiers = repositoryRoot.appendingPathComponent("Models/patch-classifiers").path

/// WSInfer's CSV (minx,miny,width,height,prob_…) keyed by "minx,miny".
public func csvProbabilities(_ text: String) -> [String: [Double]] {
    var rows: [String: [Double]] = [:]
    for line in text.split(whereSeparator: \.isNewline).dropFirst() {
        let cells = line.split(separator: ",").map(String.init)
        guard cells.count > 4 else { continue }
        rows["\(cells[0]),\(cells[1])"] = cells[4...].compactMap(Double.init)
    }
    return rows
}

/// A copy of test model `name` under test-output/model-directories/`label`, its config edited.
public func editedModel(_ name: String, as label: String, edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
    let target = testOutput.appendingPathComponent("model-directories/\(label)").path
    try? FileManager.default.removeItem(atPath: target)
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: "\(patchClassifiers)/\(name)/model.onnx", toPath: target + "/model.onnx")
    let data = try Data(contentsOf: URL(fileURLWithPath: "\(patchClassifiers)/\(name)/config.json"))
    var config = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    edit(&config)
    try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: URL(fileURLWithPath: target + "/config.json"))
    return target
}

import MHSContract

/// The files labs already read from WSInfer, written beside `results.json`.
public enum WSInferOutputs {
    /// `model-outputs.csv` as WSInfer writes it: `minx,miny,width,height,prob_<class>…`, one
    /// row per scored patch (level-0 pixels, row by row), probabilities in their shortest
    /// round-tripping spelling.
    public static func csv(_ configuration: ModelConfiguration, _ scores: PatchScores) -> String {
        var text = (["minx", "miny", "width", "height"] + configuration.classNames.map { "prob_\($0)" }).joined(separator: ",") + "\n"
        for p in ordered(scores) {
            let rect = scores.rectangle(column: p.column, row: p.row)
            text += "\(rect.x),\(rect.y),\(rect.width),\(rect.height)"
            for probability in p.probabilities { text += ",\(probability)" }
            text += "\n"
        }
        return text
    }

    /// The scored patches as QuPath tiles (`objectType` "tile"), each with its probabilities as
    /// `measurements` (`prob_<class>`) and the likeliest class as its classification.
    public static func qupathTiles(_ configuration: ModelConfiguration, _ scores: PatchScores) -> FeatureCollection {
        var features: [Feature] = []
        features.reserveCapacity(scores.patches.count)
        for p in ordered(scores) {
            let rect = scores.rectangle(column: p.column, row: p.row)
            let x = Double(rect.x), y = Double(rect.y), w = Double(rect.width), h = Double(rect.height)
            let ring = [Position(x, y), Position(x + w, y), Position(x + w, y + h), Position(x, y + h), Position(x, y)]
            var measurements: JSONObject = [:]
            for (name, probability) in zip(configuration.classNames, p.probabilities) { measurements["prob_\(name)"] = .double(probability) }
            var properties: JSONObject = ["objectType": .string("tile"), "measurements": .object(measurements)]
            if let best = p.probabilities.indices.max(by: { p.probabilities[$0] < p.probabilities[$1] }), best < configuration.classNames.count {
                properties["classification"] = .object(["name": .string(configuration.classNames[best])])
            }
            features.append(Feature(geometry: .polygon([ring]), properties: properties))
        }
        return FeatureCollection(features: features)
    }

    /// The scored patches row by row, left to right.
    static func ordered(_ scores: PatchScores) -> [ScoredPatch] {
        scores.patches.sorted { ($0.row, $0.column) < ($1.row, $1.column) }
    }
}

import MHS

/// A diagnostic classifier whose results break the contract: the template's boxes plus a
/// point at NaN and a box at infinity, as a model with a bad division would give. It shows
/// how `mhs run` treats such results (exit 6, every problem with its JSON path, the body
/// kept as `results.invalid.json`, nothing posted). Select it with `MHS_CLASSIFIER=invalid`.
public struct InvalidResultsClassifier: Classifier {
    public let name = "invalid"

    public init() {}

    public func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody {
        var results = try await TemplateClassifier().classify(slide, context: context)
        let nan = Feature(
            geometry: .point(Position(.nan, 10)), properties: ["annotation_type": "Mitosis"], bbox: BoundingBox(minX: 0, minY: 0, maxX: 1, maxY: 1))
        let ring = [Position(.infinity, 10), Position(20, 10), Position(20, 20), Position(.infinity, 10)]
        let infinite = Feature(
            geometry: .polygon([ring]), properties: ["annotation_type": "Mitosis"], bbox: BoundingBox(minX: 0, minY: 10, maxX: 20, maxY: 20))
        results.scanResults[0].geojson?.features.append(contentsOf: [nan, infinite])
        return results
    }
}

import Foundation
import MHS

/// A diagnostic classifier for exercising deadlines and signals: it keeps the template's
/// results as partial results, then waits `MHS_SLOW_SECONDS` (default 600) before
/// returning them. Select it with `MHS_CLASSIFIER=slow`.
public struct SlowClassifier: Classifier {
    public let name = "slow"

    public init() {}

    public func classify(_ slide: Slide, context: ClassifierContext) async throws -> ResultsBody {
        let results = try await TemplateClassifier().classify(slide, context: context)
        context.partial.save(results)
        let asked = context.setting("MHS_SLOW_SECONDS").flatMap(Double.init) ?? 600
        let seconds = asked.isFinite ? min(max(asked, 0), 86400) : 600
        context.logger.info("slow classifier: waiting \(Int(seconds)) s (cancellable)")
        try await Task.sleep(for: .seconds(seconds))
        return results
    }
}

import MHSContract
import MHSSlide

/// Runs the classifier on the opened slide. Its failure is exit 5; its cancellation (the
/// deadline, a signal) propagates as cancellation.
package struct ClassifyStage: Sendable {
    package var classifier: any Classifier
    package var context: ClassifierContext
    package var console: Console
    package var recorder: RunRecorder

    package init(classifier: any Classifier, context: ClassifierContext, console: Console, recorder: RunRecorder) {
        self.classifier = classifier
        self.context = context
        self.console = console
        self.recorder = recorder
    }

    package func run(_ slide: Slide) async throws -> ResultsBody {
        do {
            let body = try await classifier.classify(slide, context: context)
            let count = body.scanResults.reduce(0) { $0 + ($1.geojson?.features.count ?? 0) }
            console.say("Generated \(count) annotations")
            recorder.update { $0.annotations = count }
            return body
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw StageFailure(.classifier, "the classifier \(classifier.name) failed: \(error)")
        }
    }
}

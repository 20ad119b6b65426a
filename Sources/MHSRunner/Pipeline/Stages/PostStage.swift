import MHSTransport

/// Posts the results once (``ResultPoster``: resent only when the platform shows they are
/// absent). The post runs in a task of its own, so a deadline or a signal cannot cut it in
/// half. Failure is exit 7, with the results printed.
package struct PostStage: Sendable {
    package var api: TechcyteAPI
    package var configuration: TaskConfiguration
    package var console: Console
    package var recorder: RunRecorder

    package init(api: TechcyteAPI, configuration: TaskConfiguration, console: Console, recorder: RunRecorder) {
        self.api = api
        self.configuration = configuration
        self.console = console
        self.recorder = recorder
    }

    /// A summary of the outcome for the run report.
    package func run(_ results: ValidatedResults, token: String) async throws -> String {
        let console = self.console
        let env = configuration
        let poster = ResultPoster(
            api: api, settings: PostingMachine.Settings(confirmationWindow: env.postConfirmWindow), logger: console.logger(label: "mhs.post"))
        let json = results.json
        let outcome = await Task {
            do throws(PostError) {
                return Result<PostOutcome, PostError>.success(
                    try await poster.post(json, taskID: env.taskID, taskNumber: env.taskNumber, credentials: env.credentials, token: token))
            } catch {
                return .failure(error)
            }
        }.value
        switch outcome {
        case .success(.posted(let status, let attempts)):
            console.say("Results posted: HTTP \(status)" + (attempts > 1 ? " (attempt \(attempts))" : ""))
            recorder.update { $0.posted = true }
            return "HTTP \(status), \(attempts) attempt(s)"
        case .success(.confirmedApplied(let attempts)):
            console.say("Results posted: the platform had stored them (confirmed through case_evaluations after attempt \(attempts))")
            recorder.update { $0.posted = true }
            return "confirmed applied after \(attempts) attempt(s)"
        case .failure(let error):
            recorder.update { $0.posted = false }
            console.say("Posting failed: \(error)")
            console.say("Results JSON: " + String(decoding: json, as: UTF8.self))
            throw StageFailure(
                .postingFailed, "posting failed (\(error)); the results are in \(results.path ?? env.outputDirectory + "/results.json") and printed above")
        }
    }
}

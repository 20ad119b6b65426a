import Foundation
import Logging

/// How a post ended well.
public enum PostOutcome: Sendable, Equatable {
    /// The platform answered 2xx.
    case posted(status: Int, attempts: Int)
    /// An attempt's answer was lost or ambiguous, and `case_evaluations` showed it had been applied.
    case confirmedApplied(attempts: Int)
}

/// Why the results were not posted (they are saved and printed by the caller).
public enum PostError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not stored: the platform refused, or `case_evaluations` showed nothing after an ambiguous failure.
    case refused(String)
    /// Whether the platform stored the results cannot be told.
    case undetermined(String)

    public var description: String {
        switch self {
        case .refused(let why): why
        case .undetermined(let why):
            "\(why); whether the platform stored the results cannot be told, so they are not sent again"
        }
    }
}

/// Posts a results body exactly once: the I/O shell around ``PostingMachine``.
public struct ResultPoster: Sendable {
    let api: TechcyteAPI
    let settings: PostingMachine.Settings
    /// Where the machine's notes go (each lookup, each resend and why).
    let logger: Logger

    /// - Parameters:
    ///   - settings: its `canRefreshToken` is set from the credentials at each post.
    ///   - logger: the caller's logger (no logging by default).
    public init(
        api: TechcyteAPI, settings: PostingMachine.Settings = PostingMachine.Settings(),
        logger: Logger = Logger(label: "mhs.post", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.api = api
        self.settings = settings
        self.logger = logger
    }

    /// Posts `body` for task `taskID` (number `taskNumber`), refreshing an API-key token
    /// once on 401/403.
    public func post(_ body: [UInt8], taskID: String, taskNumber: Int, credentials: Credentials, token: String) async throws(PostError) -> PostOutcome {
        var settings = self.settings
        if case .apiKey = credentials { settings.canRefreshToken = true } else { settings.canRefreshToken = false }
        var machine = PostingMachine(settings: settings)
        var token = token
        let start = ContinuousClock.now
        func now() -> Double { (ContinuousClock.now - start) / .seconds(1) }
        func pause(_ seconds: Double) async {
            if seconds > 0 { try? await Task.sleep(for: .seconds(seconds)) }
        }
        var step = machine.start()
        while true {
            if let note = step.note { logger.info("\(note)") }
            switch step.action {
            case .send(let delay):
                await pause(delay)
                let result = await api.sendResults(taskID: taskID, body: body, token: token)
                step = machine.handle(.sent(result), at: now())
            case .lookUp(let delay):
                await pause(delay)
                let result = await api.evaluationCount(taskID: taskID, taskNumber: taskNumber, token: token)
                step = machine.handle(.lookedUp(result), at: now())
            case .refreshToken:
                do {
                    token = try await api.bearer(for: credentials)
                    step = machine.handle(.tokenRefreshed, at: now())
                } catch {
                    step = machine.handle(.tokenRefreshFailed("\(error)"), at: now())
                }
            case .finish(let outcome):
                return outcome
            case .fail(let error):
                throw error
            }
        }
    }
}

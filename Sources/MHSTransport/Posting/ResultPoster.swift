import AsyncHTTPClient
import Foundation
import MHSSecrets
import NIOCore

/// How a post ended well.
public enum PostOutcome: Sendable, Equatable {
    /// The platform answered 2xx.
    case posted(status: Int, attempts: Int)
    /// An attempt's answer was lost, and `case_evaluations` showed it had been applied.
    case confirmedApplied(attempts: Int)
}

/// Why the results were not posted (they are saved and printed by the caller).
public enum PostError: Error, Sendable, CustomStringConvertible {
    case refused(String)
    case undetermined(String)

    public var description: String {
        switch self {
        case .refused(let why): why
        case .undetermined(let why):
            "\(why); whether the platform stored the results cannot be told, so they are not sent again"
        }
    }
}

/// Posts a results body exactly once, following ``PostingPolicy``.
public struct ResultPoster: Sendable {
    let api: TechcyteAPI
    let policy: PostingPolicy
    let log: @Sendable (String) -> Void

    public init(api: TechcyteAPI, policy: PostingPolicy = PostingPolicy(), log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.api = api
        self.policy = policy
        self.log = log
    }

    /// Posts `body` for task `taskID` (number `taskNumber`), refreshing an API-key token
    /// once on 401.
    public func post(_ body: [UInt8], taskID: String, taskNumber: Int, credentials: Credentials, token: String) async throws(PostError) -> PostOutcome {
        var token = token
        var refreshed = false
        var attempt = 0
        while true {
            attempt += 1
            let failure: TransferFailure
            switch await api.sendResults(taskID: taskID, body: body, token: token) {
            case .success(let status): return .posted(status: status, attempts: attempt)
            case .failure(let f): failure = f
            }
            let canRefresh: Bool
            if case .apiKey = credentials { canRefresh = !refreshed } else { canRefresh = false }
            switch policy.decide(after: failure, attempt: attempt, canRefreshToken: canRefresh) {
            case .refreshToken:
                refreshed = true
                log("the platform answered 401: exchanging the API key for a new token, once")
                do { token = try await api.bearer(for: credentials) } catch { throw .refused("the token could not be refreshed: \(error)") }
            case .retry(let delay):
                log("posting attempt \(attempt) was not applied (\(failure)); retrying in \(String(format: "%.1f", delay)) s")
                try? await Task.sleep(for: .seconds(delay))
            case .checkEvaluations:
                log("posting attempt \(attempt) lost its answer (\(failure)); asking case_evaluations whether it was applied")
                switch await api.evaluationCount(taskID: taskID, taskNumber: taskNumber, token: token) {
                case .success(let n) where n > 0:
                    log("case_evaluations lists \(n) evaluation(s) of this task: the results were applied; not posting again")
                    return .confirmedApplied(attempts: attempt)
                case .success:
                    guard attempt < policy.maximumAttempts else { throw .refused("the POST kept failing: \(failure)") }
                    log("case_evaluations lists none: the POST was not applied; posting again")
                case .failure(let lookup):
                    throw .undetermined("the POST's answer was lost (\(failure)) and case_evaluations failed (\(lookup))")
                }
            case .stop(let reason):
                throw .refused(reason)
            }
        }
    }

}

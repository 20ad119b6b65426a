/// What to do after a results POST did not plainly succeed. Pure: the poster asks, the
/// tests drive it without a network.
public enum PostingDecision: Sendable, Equatable {
    /// The request provably was not applied: send it again after this many seconds.
    case retry(after: Double)
    /// The request may have been applied: ask `case_evaluations` before anything else.
    case checkEvaluations
    /// 401 with an API key: exchange it again, once, and resend.
    case refreshToken
    /// Give up; the reason says why.
    case stop(String)
}

/// Exactly-once posting: a POST is final and appends, so it is repeated only when it
/// provably was not applied — the connection never opened, or the answer was 429, 502,
/// 503 or 504 — and after an ambiguous failure (timeout or reset once the body was on
/// its way) only if `case_evaluations` shows no evaluation of this task.
public struct PostingPolicy: Sendable {
    public var maximumAttempts: Int
    public var retry: RetryPolicy

    public init(maximumAttempts: Int = 5, retry: RetryPolicy = RetryPolicy(maximumAttempts: 5, baseDelay: 0.5, maximumDelay: 10)) {
        self.maximumAttempts = maximumAttempts
        self.retry = retry
    }

    /// Statuses that mean the platform did not process the request.
    public static let notAppliedStatuses: Set<Int> = [429, 502, 503, 504]

    public func decide(after failure: TransferFailure, attempt: Int, canRefreshToken: Bool, random: Double = .random(in: 0...1)) -> PostingDecision {
        switch failure {
        case .status(401, _, _) where canRefreshToken:
            return .refreshToken
        case .status(let code, let after, let body) where Self.notAppliedStatuses.contains(code):
            guard attempt < maximumAttempts else { return .stop("HTTP \(code) on all \(attempt) attempts: \(body)") }
            return .retry(after: retry.delay(beforeAttempt: attempt + 1, retryAfter: after, random: random))
        case .status(let code, _, let body):
            return .stop("HTTP \(code): \(body)")
        case .connect(let why):
            guard attempt < maximumAttempts else { return .stop("cannot connect after \(attempt) attempts: \(why)") }
            return .retry(after: retry.delay(beforeAttempt: attempt + 1, random: random))
        case .dropped:
            return .checkEvaluations
        }
    }
}

import Foundation

/// Bounded retries with jittered exponential backoff, honouring `Retry-After`.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts per part (or per request) before giving up.
    public var maximumAttempts: Int
    /// The first delay; each retry doubles it, up to ``maximumDelay``.
    public var baseDelay: Double
    public var maximumDelay: Double

    public init(maximumAttempts: Int = 6, baseDelay: Double = 0.25, maximumDelay: Double = 8) {
        self.maximumAttempts = maximumAttempts
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
    }

    /// Seconds to wait before attempt `attempt` (1-based, so 2 is the first retry):
    /// full jitter over the exponential ceiling, or the server's `Retry-After` when it
    /// said one (capped at the maximum delay).
    public func delay(beforeAttempt attempt: Int, retryAfter: Double? = nil, random: Double = Double.random(in: 0...1)) -> Double {
        if let retryAfter { return min(max(retryAfter, 0), maximumDelay) }
        let ceiling = min(maximumDelay, baseDelay * pow(2, Double(max(attempt - 2, 0))))
        return ceiling * (0.5 + 0.5 * random)
    }

    /// Reads `Retry-After` in seconds (HTTP dates are answered with the maximum delay).
    public static func retryAfter(_ header: String?) -> Double? {
        guard let header = header?.trimmingCharacters(in: .whitespaces), !header.isEmpty else { return nil }
        return Double(header) ?? 8
    }
}

/// What went wrong with one HTTP exchange, as far as retrying is concerned.
public enum TransferFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The connection could not be made: nothing reached the server.
    case connect(String)
    /// The connection dropped, timed out, or the body came short after the request went out.
    case dropped(String)
    /// The server answered with this status.
    case status(Int, retryAfter: Double?, body: String)

    public var description: String {
        switch self {
        case .connect(let why): "cannot connect: \(why)"
        case .dropped(let why): "connection lost: \(why)"
        case .status(let code, _, let body): body.isEmpty ? "HTTP \(code)" : "HTTP \(code) \(body.prefix(200))"
        }
    }

    /// For downloads: is another try worth it? (403 and 404 are final; resets, timeouts,
    /// 5xx and 429 are not.)
    public var isRetryableForDownload: Bool {
        switch self {
        case .connect, .dropped: true
        case .status(let code, _, _): code == 429 || code == 408 || (500...599).contains(code)
        }
    }
}

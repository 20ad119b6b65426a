import Foundation

/// Exactly-once posting as a pure state machine: the poster reports what happened (an
/// ``Event``), the machine answers what to do next (an ``Action``) with a line for the log.
/// No I/O and no clock of its own — time comes in with each event — so every path is
/// unit-tested without a network.
///
/// The rule: a results POST appends an evaluation, so once its body may have reached the
/// server it is not sent again until the platform shows it absent.
///
/// * Proof that it was **not** applied: the connection never opened (refused, DNS, connect
///   timeout) or the answer was 429. Only then is it resent at once (with backoff).
/// * 400 is the platform rejecting the body (nothing is stored); 401/403 with an API key
///   refreshes the token once, then asks `case_evaluations` before resending.
/// * Everything else — any other status (a gateway's 502/503/504 says nothing about the
///   backend), a reset, a timeout — is ambiguous: `case_evaluations` is asked with backoff
///   for ``Settings/confirmationWindow`` seconds (a gateway's 504 can come before the
///   backend commits), and the body is resent only when a lookup made at or after the end
///   of the window still shows no evaluation of the task. 500 and other 5xx that are not
///   gateway answers are not resent even then: the run fails with the results saved.
public struct PostingMachine: Sendable {
    /// Limits and delays.
    public struct Settings: Sendable, Equatable {
        /// POSTs at most.
        public var maximumAttempts: Int
        /// Backoff between POSTs that provably were not applied.
        public var retry: RetryPolicy
        /// Seconds to keep asking `case_evaluations` after an ambiguous answer before
        /// concluding the results were not stored.
        public var confirmationWindow: Double
        /// The first delay between lookups; each doubles it, up to ``lookupMaximumDelay``.
        public var lookupBaseDelay: Double
        public var lookupMaximumDelay: Double
        /// Whether a 401/403 may be answered by exchanging the API key again (once).
        public var canRefreshToken: Bool

        public init(
            maximumAttempts: Int = 5, retry: RetryPolicy = RetryPolicy(maximumAttempts: 5, baseDelay: 0.5, maximumDelay: 10),
            confirmationWindow: Double = 60, lookupBaseDelay: Double = 0.5, lookupMaximumDelay: Double = 8, canRefreshToken: Bool = false
        ) {
            self.maximumAttempts = maximumAttempts
            self.retry = retry
            self.confirmationWindow = confirmationWindow
            self.lookupBaseDelay = lookupBaseDelay
            self.lookupMaximumDelay = lookupMaximumDelay
            self.canRefreshToken = canRefreshToken
        }
    }

    /// What happened, as the poster saw it.
    public enum Event: Sendable, Equatable {
        /// A POST ended: a 2xx status, or how it failed.
        case sent(Result<Int, TransferFailure>)
        /// A `case_evaluations` lookup ended: the number of evaluations of this task, or how it failed.
        case lookedUp(Result<Int, TransferFailure>)
        /// The API key was exchanged for a new token.
        case tokenRefreshed
        /// The exchange failed.
        case tokenRefreshFailed(String)
    }

    /// What to do next.
    public enum Action: Sendable, Equatable {
        /// Send the POST after this many seconds.
        case send(after: Double)
        /// Ask `case_evaluations` after this many seconds.
        case lookUp(after: Double)
        /// Exchange the API key again.
        case refreshToken
        /// Done: the results are stored once.
        case finish(PostOutcome)
        /// Done: not posted, or not known to be.
        case fail(PostError)
    }

    /// An action and the line that explains it (nil when there is nothing to say).
    public struct Step: Sendable, Equatable {
        public var action: Action
        public var note: String?
    }

    /// Waiting to learn whether an ambiguous POST was stored.
    struct Confirming: Sendable, Equatable {
        /// What made it ambiguous.
        var failure: TransferFailure
        /// Lookups made so far.
        var lookups: Int
        /// When the window ends (a lookup at or after it that shows none is final).
        var until: Double
        /// Whether "absent" allows sending again.
        var resendIfAbsent: Bool
    }

    enum Phase: Sendable, Equatable {
        case ready, sending, refreshing(TransferFailure), confirming(Confirming), done
    }

    public let settings: Settings
    /// POSTs sent so far.
    public private(set) var attempts = 0
    private var refreshed = false
    private var phase = Phase.ready
    private let random: @Sendable () -> Double

    /// - Parameter random: jitter source for the POST backoff (fixed in tests).
    public init(settings: Settings = Settings(), random: @escaping @Sendable () -> Double = { .random(in: 0...1) }) {
        self.settings = settings
        self.random = random
    }

    /// The first action: send now.
    public mutating func start() -> Step {
        precondition(phase == .ready, "start() once")
        return send(after: 0, note: nil)
    }

    /// The next action after `event`, which happened `now` seconds after the start.
    public mutating func handle(_ event: Event, at now: Double) -> Step {
        switch (phase, event) {
        case (.sending, .sent(let result)): return sent(result, at: now)
        case (.confirming(let c), .lookedUp(let result)): return lookedUp(result, c, at: now)
        case (.refreshing(let failure), .tokenRefreshed):
            // A 401/403 is the platform's own refusal, so no window: one lookup decides.
            return confirm(failure, at: now, window: 0, resendIfAbsent: true, note: "token refreshed; asking case_evaluations before posting again")
        case (.refreshing, .tokenRefreshFailed(let why)):
            return finish(.fail(.refused("the token could not be refreshed: \(why)")), note: nil)
        default:
            preconditionFailure("event \(event) does not fit phase \(phase)")
        }
    }

    private mutating func send(after delay: Double, note: String?) -> Step {
        attempts += 1
        phase = .sending
        return Step(action: .send(after: delay), note: note)
    }

    private mutating func finish(_ action: Action, note: String?) -> Step {
        phase = .done
        return Step(action: action, note: note)
    }

    private mutating func sent(_ result: Result<Int, TransferFailure>, at now: Double) -> Step {
        let failure: TransferFailure
        switch result {
        case .success(let status): return finish(.finish(.posted(status: status, attempts: attempts)), note: nil)
        case .failure(let f): failure = f
        }
        let attempt = attempts
        switch failure {
        case .connect(let why):
            guard attempt < settings.maximumAttempts else {
                return finish(.fail(.refused("cannot connect after \(attempt) attempts: \(why)")), note: nil)
            }
            let delay = settings.retry.delay(beforeAttempt: attempt + 1, random: random())
            return send(after: delay, note: "posting attempt \(attempt) never reached the platform (\(failure)); retrying in \(Self.format(delay)) s")
        case .status(429, let retryAfter, let body):
            guard attempt < settings.maximumAttempts else {
                return finish(.fail(.refused("HTTP 429 on all \(attempt) attempts: \(body)")), note: nil)
            }
            let delay = settings.retry.delay(beforeAttempt: attempt + 1, retryAfter: retryAfter, random: random())
            return send(after: delay, note: "posting attempt \(attempt) was refused with 429 (not applied); retrying in \(Self.format(delay)) s")
        case .status(400, _, let body):
            return finish(.fail(.refused("HTTP 400: \(body)")), note: nil)
        case .status(let code, _, let body) where code == 401 || code == 403:
            guard settings.canRefreshToken, !refreshed else { return finish(.fail(.refused("HTTP \(code): \(body)")), note: nil) }
            refreshed = true
            phase = .refreshing(failure)
            return Step(action: .refreshToken, note: "the platform answered \(code): exchanging the API key for a new token, once")
        case .status(let code, _, _):
            let gateway = [502, 503, 504].contains(code)
            return confirm(
                failure, at: now, window: settings.confirmationWindow, resendIfAbsent: gateway,
                note: "posting attempt \(attempt) answered HTTP \(code): the platform may have stored the results; asking case_evaluations for up to \(Self.format(settings.confirmationWindow)) s before concluding it did not")
        case .dropped:
            return confirm(
                failure, at: now, window: settings.confirmationWindow, resendIfAbsent: true,
                note: "posting attempt \(attempt) lost its answer (\(failure)); asking case_evaluations for up to \(Self.format(settings.confirmationWindow)) s whether it was applied")
        }
    }

    private mutating func confirm(_ failure: TransferFailure, at now: Double, window: Double, resendIfAbsent: Bool, note: String) -> Step {
        phase = .confirming(Confirming(failure: failure, lookups: 1, until: now + max(0, window), resendIfAbsent: resendIfAbsent))
        return Step(action: .lookUp(after: 0), note: note)
    }

    private mutating func lookedUp(_ result: Result<Int, TransferFailure>, _ c: Confirming, at now: Double) -> Step {
        let windowOver = now >= c.until
        switch result {
        case .success(let n) where n > 0:
            return finish(
                .finish(.confirmedApplied(attempts: attempts)),
                note: "case_evaluations lists \(n) evaluation(s) of this task: the results were stored; not posting again")
        case .success:
            guard windowOver else { return lookAgain(c, at: now, note: nil) }
            guard c.resendIfAbsent else {
                return finish(
                    .fail(.refused("\(c.failure); case_evaluations shows no evaluation, so nothing was stored")), note: nil)
            }
            guard attempts < settings.maximumAttempts else {
                return finish(.fail(.refused("the POST kept failing (\(attempts) attempts, none stored): \(c.failure)")), note: nil)
            }
            return send(after: 0, note: "case_evaluations still lists none after \(Self.format(settings.confirmationWindow)) s: the POST was not stored; posting again")
        case .failure(let lookup):
            guard windowOver else { return lookAgain(c, at: now, note: "case_evaluations failed (\(lookup)); asking again") }
            return finish(.fail(.undetermined("the POST's answer was \(c.failure) and case_evaluations failed (\(lookup))")), note: nil)
        }
    }

    /// The next lookup: doubling delays, the last one landing on the end of the window.
    private mutating func lookAgain(_ c: Confirming, at now: Double, note: String?) -> Step {
        var next = c
        let delay = min(settings.lookupMaximumDelay, settings.lookupBaseDelay * Double(1 << min(c.lookups - 1, 30)), max(0, c.until - now))
        next.lookups += 1
        phase = .confirming(next)
        return Step(action: .lookUp(after: delay), note: note)
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }
}

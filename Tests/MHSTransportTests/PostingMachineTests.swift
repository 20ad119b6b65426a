import MHSTransport
import PropertyBased
import Testing

/// Drives ``PostingMachine`` through scripted platforms: each scenario is a list of what the
/// platform answers and when, and the test checks the actions the machine chose.
@Suite("Posting state machine (no network)")
struct PostingMachineTests {
    static let settings = PostingMachine.Settings(
        maximumAttempts: 5, retry: RetryPolicy(maximumAttempts: 5, baseDelay: 0.5, maximumDelay: 10), confirmationWindow: 10,
        lookupBaseDelay: 0.5, lookupMaximumDelay: 4)

    static func status(_ code: Int, retryAfter: Double? = nil) -> Result<Int, TransferFailure> {
        .failure(.status(code, retryAfter: retryAfter, body: "b"))
    }

    /// A scripted run: POST answers and lookup answers are consumed in order; time advances
    /// by each action's delay plus `latency` per request. Returns the actions taken.
    struct Script {
        var posts: [Result<Int, TransferFailure>]
        var lookups: [Result<Int, TransferFailure>] = []
        var refresh: Bool = true
        var settings = PostingMachineTests.settings

        func run() -> (actions: [PostingMachine.Action], posts: Int, lookups: Int, end: Double) {
            var m = PostingMachine(settings: settings, random: { 1 })
            var now = 0.0
            var step = m.start()
            var actions: [PostingMachine.Action] = []
            var p = posts[...], l = lookups[...]
            var sent = 0, asked = 0
            for _ in 0..<200 {
                actions.append(step.action)
                switch step.action {
                case .send(let d):
                    now += d + 0.1
                    sent += 1
                    step = m.handle(.sent(p.popFirst() ?? .success(201)), at: now)
                case .lookUp(let d):
                    now += d + 0.05
                    asked += 1
                    step = m.handle(.lookedUp(l.popFirst() ?? .success(0)), at: now)
                case .refreshToken:
                    step = m.handle(refresh ? .tokenRefreshed : .tokenRefreshFailed("401 again"), at: now)
                case .finish, .fail:
                    return (actions, sent, asked, now)
                }
            }
            Issue.record("the machine did not finish")
            return (actions, sent, asked, now)
        }
    }

    @Test("2xx: posted, one attempt")
    func success() {
        let r = Script(posts: [.success(201)]).run()
        #expect(r.actions == [PostingMachine.Action]([.send(after: 0), .finish(.posted(status: 201, attempts: 1))]))
    }

    @Test("a refused connection and a 429 prove nothing was sent: resent with backoff, Retry-After honoured")
    func provablyNotApplied() {
        let r = Script(posts: [.failure(.connect("refused")), Self.status(429, retryAfter: 3), .success(201)]).run()
        #expect(r.actions == [PostingMachine.Action]([.send(after: 0), .send(after: 0.5), .send(after: 3), .finish(.posted(status: 201, attempts: 3))]))
        #expect(r.lookups == 0)
    }

    @Test("stored, then the gateway answered 502 or 504: confirmed through case_evaluations, never resent", arguments: [502, 504, 503])
    func gatewayAfterStore(code: Int) {
        let r = Script(posts: [Self.status(code)], lookups: [.success(1)]).run()
        #expect(r.actions == [PostingMachine.Action]([.send(after: 0), .lookUp(after: 0), .finish(.confirmedApplied(attempts: 1))]))
        #expect(r.posts == 1)
    }

    @Test("504 before the backend commits: lookups continue with backoff until the evaluation appears")
    func lateCommit() {
        let r = Script(posts: [Self.status(504)], lookups: [.success(0), .success(0), .success(0), .success(1)]).run()
        #expect(r.actions == [PostingMachine.Action]([.send(after: 0), .lookUp(after: 0), .lookUp(after: 0.5), .lookUp(after: 1), .lookUp(after: 2), .finish(.confirmedApplied(attempts: 1))]))
        #expect(r.posts == 1)
    }

    @Test("a gateway 503 that was not stored: resent only after a lookup at the end of the window shows none")
    func notStored() {
        let r = Script(posts: [Self.status(503), .success(201)]).run()
        #expect(r.posts == 2)
        #expect(r.actions.first == .send(after: 0) && r.actions.last == .finish(.posted(status: 201, attempts: 2)))
        let lookups = r.actions.compactMap { if case .lookUp(let d) = $0 { d } else { nil } }
        // Doubling delays capped at 4 s, the last one landing on the window's end (10 s
        // after the answer at 0.1 s; each lookup takes 0.05 s here).
        #expect(lookups.count == 6 && Array(lookups.prefix(5)) == [0, 0.5, 1, 2, 4])
        #expect(abs(lookups[5] - 2.25) < 1e-9)
        // Nothing is resent before the window ends.
        let resend = r.actions.lastIndex(of: .send(after: 0))!
        #expect(r.actions[..<resend].filter { if case .lookUp = $0 { true } else { false } }.count == lookups.count)
    }

    @Test("a reset after the body went out is ambiguous like a gateway answer")
    func dropped() {
        let applied = Script(posts: [.failure(.dropped("reset"))], lookups: [.success(1)]).run()
        #expect(applied.actions.last == .finish(.confirmedApplied(attempts: 1)) && applied.posts == 1)
        var short = Script(posts: [.failure(.dropped("reset")), .success(201)])
        short.settings.confirmationWindow = 0
        let resent = short.run()
        #expect(resent.actions == [PostingMachine.Action]([.send(after: 0), .lookUp(after: 0), .send(after: 0), .finish(.posted(status: 201, attempts: 2))]))
    }

    @Test("500 (not a gateway answer): confirmed when stored, else a failure without a resend")
    func serverError() {
        let stored = Script(posts: [Self.status(500)], lookups: [.success(0), .success(1)]).run()
        #expect(stored.actions.last == .finish(.confirmedApplied(attempts: 1)))
        let absent = Script(posts: [Self.status(500)]).run()
        #expect(absent.posts == 1)
        guard case .fail(.refused(let why)) = absent.actions.last else { Issue.record("\(absent.actions)"); return }
        #expect(why.contains("HTTP 500") && why.contains("nothing was stored"))
    }

    @Test("case_evaluations failing through the whole window: undetermined, never resent")
    func lookupFails() {
        let r = Script(posts: [Self.status(502)], lookups: Array(repeating: .failure(.dropped("reset")), count: 50)).run()
        #expect(r.posts == 1)
        guard case .fail(.undetermined(let why)) = r.actions.last else { Issue.record("\(r.actions)"); return }
        #expect(why.contains("HTTP 502") && why.contains("case_evaluations failed"))
        // A failed lookup within the window is retried; one that succeeds later decides.
        let recovered = Script(posts: [Self.status(502)], lookups: [.failure(.dropped("reset")), .success(1)]).run()
        #expect(recovered.actions.last == .finish(.confirmedApplied(attempts: 1)))
    }

    @Test("400 is final; 401 with an API key refreshes once and looks before resending")
    func refusals() {
        let bad = Script(posts: [Self.status(400)]).run()
        #expect(bad.actions == [PostingMachine.Action]([.send(after: 0), .fail(.refused("HTTP 400: b"))]))
        var jwt = Script(posts: [Self.status(401)])
        jwt.settings.canRefreshToken = false
        #expect(jwt.run().actions.last == .fail(.refused("HTTP 401: b")))
        var key = Script(posts: [Self.status(401), .success(201)])
        key.settings.canRefreshToken = true
        #expect(key.run().actions == [PostingMachine.Action]([.send(after: 0), .refreshToken, .lookUp(after: 0), .send(after: 0), .finish(.posted(status: 201, attempts: 2))]))
        var twice = Script(posts: [Self.status(401), Self.status(401)])
        twice.settings.canRefreshToken = true
        #expect(twice.run().actions.last == .fail(.refused("HTTP 401: b")), "refreshed only once")
        var failing = Script(posts: [Self.status(403)], refresh: false)
        failing.settings.canRefreshToken = true
        guard case .fail(.refused(let why)) = failing.run().actions.last else { Issue.record("no failure"); return }
        #expect(why.contains("could not be refreshed"))
    }

    @Test("the attempts are bounded whatever the platform answers")
    func bounded() {
        for answer in [Self.status(429), .failure(.connect("refused")), Self.status(503), .failure(.dropped("timeout"))] {
            var s = Script(posts: Array(repeating: answer, count: 20))
            s.settings.confirmationWindow = 1
            let r = s.run()
            #expect(r.posts == 5, "\(answer)")
            guard case .fail = r.actions.last else { Issue.record("\(answer): \(r.actions.last!)"); continue }
        }
    }

    @Test("property: whatever the platform does, the results are never stored twice")
    func neverTwice() async {
        // A platform is a script of choices: for each POST, whether the backend stores it,
        // how late it commits (up to 9 s, inside the 10 s window) and what comes back — a
        // 201, a gateway's 502/503/504, a 500 or a reset when it may have stored it; a
        // refused connection or a 429 only when it did not. Lookups see what is stored by then.
        await propertyCheck(count: 2000, input: Gen.int(in: 0...9999).array(of: 64)) { script in
            var choices = script.makeIterator()
            func pick(_ n: Int) -> Int { (choices.next() ?? 0) % n }
            var m = PostingMachine(settings: Self.settings, random: { 0.5 })
            var now = 0.0
            var stored: [Double] = []  // commit times
            var step = m.start()
            var done = false
            for _ in 0..<500 where !done {
                switch step.action {
                case .send(let d):
                    now += d
                    let ambiguous: [Result<Int, TransferFailure>] = [
                        .success(201), Self.status(502), Self.status(504), Self.status(503), .failure(.dropped("reset")), Self.status(500),
                    ]
                    var answer = ambiguous[pick(ambiguous.count)]
                    if pick(2) == 0 {
                        stored.append(now + Double(pick(10)))
                    } else if pick(3) == 0 {
                        answer = [.failure(.connect("refused")), Self.status(429, retryAfter: 1)][pick(2)]
                    } else if case .success = answer {
                        answer = Self.status(503)
                    }
                    now += 0.2
                    step = m.handle(.sent(answer), at: now)
                case .lookUp(let d):
                    now += d + 0.05
                    step = m.handle(.lookedUp(.success(stored.filter { $0 <= now }.count)), at: now)
                case .refreshToken:
                    step = m.handle(.tokenRefreshed, at: now)
                case .finish, .fail:
                    done = true
                }
            }
            #expect(done)
            #expect(stored.count <= 1, "stored \(stored.count) times: \(script.prefix(16))")
            if case .finish = step.action { #expect(stored.count == 1, "reported posted but nothing stored") }
        }
    }
}

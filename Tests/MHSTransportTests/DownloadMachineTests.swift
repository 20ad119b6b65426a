import MHSTransport
import PropertyBased
import Testing

/// Drives ``DownloadMachine`` through scripted servers: the test plays the downloader's
/// part (answers, bodies, digests) and checks the actions the machine chose.
@Suite("Download state machine (no network)")
struct DownloadMachineTests {
    typealias M = DownloadMachine
    static let settings = M.Settings(partSize: 100, connections: 3, retry: RetryPolicy(maximumAttempts: 4, baseDelay: 0.5, maximumDelay: 8))
    static let md5 = "0123456789abcdef0123456789abcdef"

    static func ranged(total: Int, etag: String? = nil) -> Result<M.Head, TransferFailure> {
        .success(M.Head(status: 206, contentRange: "bytes 0-99/\(total)", contentLength: min(100, total), etag: etag))
    }

    static func requests(_ step: M.Step) -> [Int] {
        step.actions.compactMap { if case .request(let part, _, _) = $0 { part } else { nil } }
    }

    @Test("ranged: the probe's body is part 0, three parts in flight, each finished part starts the next, hashed in file order")
    func rangedHappyPath() {
        var m = M(settings: Self.settings, random: { 1 })
        #expect(m.start().actions == [.request(part: 0, range: 0..<100, after: 0)])
        let probed = m.handle(.answered(part: 0, Self.ranged(total: 450, etag: "\"\(Self.md5)\"")))
        #expect(probed.actions == [
            .allocate(total: 450), .write(part: 0, offset: 0, limit: 100),
            .request(part: 1, range: 100..<200, after: 0), .request(part: 2, range: 200..<300, after: 0),
        ])
        #expect(m.handle(.answered(part: 2, .success(M.Head(status: 206)))).actions == [.write(part: 2, offset: 200, limit: 100)])
        // Part 2 finishes first: nothing to hash yet (part 0 is not there), part 3 starts.
        #expect(m.handle(.bodyEnded(part: 2, bytes: 100, failure: nil)).actions == [.request(part: 3, range: 300..<400, after: 0)])
        #expect(m.handle(.bodyEnded(part: 0, bytes: 100, failure: nil)).actions == [.hash(0..<100), .request(part: 4, range: 400..<450, after: 0)])
        _ = m.handle(.answered(part: 1, .success(M.Head(status: 206))))
        #expect(m.handle(.bodyEnded(part: 1, bytes: 100, failure: nil)).actions == [.hash(100..<200), .hash(200..<300)])
        _ = m.handle(.answered(part: 3, .success(M.Head(status: 206))))
        _ = m.handle(.answered(part: 4, .success(M.Head(status: 206))))
        #expect(m.handle(.bodyEnded(part: 4, bytes: 50, failure: nil)).actions == [])
        #expect(m.handle(.bodyEnded(part: 3, bytes: 100, failure: nil)).actions == [.hash(300..<400), .hash(400..<450), .verify])
        #expect(m.received == 450)
        #expect(m.handle(.digested(Self.md5)).actions == [
            .finish(M.Finished(bytes: 450, ranged: true, retries: 0, etag: "\"\(Self.md5)\"", verified: true))
        ])
    }

    @Test("a digest that differs from the ETag fails; a multipart ETag is not checked")
    func checksum() {
        var m = M(settings: Self.settings, random: { 1 })
        _ = m.start()
        _ = m.handle(.answered(part: 0, Self.ranged(total: 80, etag: Self.md5)))
        #expect(m.handle(.bodyEnded(part: 0, bytes: 80, failure: nil)).actions == [.hash(0..<80), .verify])
        #expect(m.handle(.digested("ffff")).actions == [.fail(.checksumMismatch(expected: Self.md5, actual: "ffff"))])

        var n = M(settings: Self.settings, random: { 1 })
        _ = n.start()
        _ = n.handle(.answered(part: 0, Self.ranged(total: 80, etag: "\"\(Self.md5)-3\"")))
        #expect(n.handle(.bodyEnded(part: 0, bytes: 80, failure: nil)).actions == [
            .finish(M.Finished(bytes: 80, ranged: true, retries: 0, etag: "\"\(Self.md5)-3\"", verified: false))
        ])
    }

    @Test("a dropped part resumes from the bytes it has, after the policy's delay, with a line saying so")
    func resume() {
        var m = M(settings: Self.settings, random: { 1 })
        _ = m.start()
        _ = m.handle(.answered(part: 0, Self.ranged(total: 300)))
        let step = m.handle(.bodyEnded(part: 0, bytes: 40, failure: .dropped("reset")))
        #expect(step.actions == [.request(part: 0, range: 40..<100, after: 0.5)])
        #expect(step.notes == ["download of bytes 40-99 failed (connection lost: reset); retry 1 of 3 in 0.50 s"])
        #expect(m.handle(.answered(part: 0, .success(M.Head(status: 206)))).actions == [.write(part: 0, offset: 40, limit: 60)])
        // A body that ends without an error but short is a drop too.
        #expect(m.handle(.bodyEnded(part: 0, bytes: 10, failure: nil)).actions == [.request(part: 0, range: 50..<100, after: 1)])
        #expect(m.received == 50)
        #expect(m.retries == 2)
    }

    @Test("one stream: a 200 to the probe; a stream that ends short starts again from zero; Retry-After is honoured")
    func singleStream() {
        var m = M(settings: Self.settings, random: { 1 })
        _ = m.start()
        let head = M.Head(status: 200, contentLength: 250, etag: "e")
        #expect(m.handle(.answered(part: 0, .success(head))).actions == [.allocate(total: 250), .write(part: 0, offset: 0, limit: nil)])
        #expect(m.handle(.bodyEnded(part: 0, bytes: 120, failure: nil)).actions == [.request(part: 0, range: nil, after: 0.5)])
        #expect(m.handle(.answered(part: 0, .failure(.status(503, retryAfter: 2, body: "slow down")))).actions == [
            .request(part: 0, range: nil, after: 2)
        ])
        #expect(m.handle(.answered(part: 0, .success(head))).actions == [.write(part: 0, offset: 0, limit: nil)], "sized once")
        #expect(m.received == 0, "the first stream's bytes are not kept")
        #expect(m.handle(.bodyEnded(part: 0, bytes: 250, failure: nil)).actions == [
            .finish(M.Finished(bytes: 250, ranged: false, retries: 2, etag: "e", verified: false))
        ])
    }

    @Test("an empty object (416 to the probe) and a ranged answer of unknown size are fetched whole, without counting a retry")
    func wholeObject() {
        for answer in [Result<M.Head, TransferFailure>.failure(.status(416, retryAfter: nil, body: "")), .success(M.Head(status: 206, contentRange: "bytes 0-99/*"))] {
            var m = M(settings: Self.settings, random: { 1 })
            _ = m.start()
            #expect(m.handle(.answered(part: 0, answer)).actions == [.request(part: 0, range: nil, after: 0)])
            #expect(m.handle(.answered(part: 0, .success(M.Head(status: 200, contentLength: 0)))).actions == [.write(part: 0, offset: 0, limit: nil)])
            #expect(m.handle(.bodyEnded(part: 0, bytes: 0, failure: nil)).actions == [
                .finish(M.Finished(bytes: 0, ranged: false, retries: 0, etag: nil, verified: false))
            ])
        }
    }

    @Test("final at once: 403 named from the S3 body, 404, a server that stops honouring Range, more bytes than announced")
    func finalFailures() {
        func probe(_ answer: Result<M.Head, TransferFailure>) -> M.Step {
            var m = M(settings: Self.settings, random: { 1 })
            _ = m.start()
            return m.handle(.answered(part: 0, answer))
        }
        let expired = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
        #expect(probe(.failure(.status(403, retryAfter: nil, body: expired))).actions == [.fail(.expired("Request has expired"))])
        #expect(probe(.failure(.status(404, retryAfter: nil, body: ""))).actions == [.fail(.notFound(""))])

        var m = M(settings: Self.settings, random: { 1 })
        _ = m.start()
        _ = m.handle(.answered(part: 0, Self.ranged(total: 300)))
        #expect(m.handle(.answered(part: 1, .success(M.Head(status: 200)))).actions == [.fail(.status(200, "the server stopped honouring Range"))])

        var n = M(settings: Self.settings, random: { 1 })
        _ = n.start()
        _ = n.handle(.answered(part: 0, .success(M.Head(status: 200, contentLength: 10))))
        #expect(n.handle(.bodyEnded(part: 0, bytes: 11, failure: nil)).actions == [.fail(.sizeMismatch(expected: 10, received: 11))])
    }

    @Test("retries are bounded per part: the fourth failure of one part ends the download")
    func bounded() {
        var m = M(settings: Self.settings, random: { 1 })
        _ = m.start()
        _ = m.handle(.answered(part: 0, Self.ranged(total: 300)))
        for attempt in 2...4 {
            #expect(Self.requests(m.handle(.answered(part: 1, .failure(.connect("refused"))))) == [1], "attempt \(attempt)")
        }
        #expect(m.handle(.answered(part: 1, .failure(.connect("refused")))).actions == [.fail(.connection("refused"))])
    }

    @Test("property: whatever the server does, no byte is asked for twice once written, parts stay within their ranges, at most three are in flight, and a finished download has every byte")
    func anyServer() async {
        await propertyCheck(count: 1500, input: Gen.int(in: 0...9999).array(of: 96), Gen.int(in: 0...1000)) { script, size in
            var choices = script.makeIterator()
            func pick(_ n: Int) -> Int { (choices.next() ?? 0) % n }
            var m = M(settings: Self.settings, random: { 0.5 })
            var written = [Bool](repeating: false, count: size)
            var pending: [M.Action] = m.start().actions
            var inFlight: [Int: Range<Int>?] = [:]  // part → the range asked for
            var writes: [Int: (offset: Int, limit: Int?)] = [:]
            var outcome: M.Action?
            var digestAsked = false
            for _ in 0..<2000 where outcome == nil {
                // Act on everything the machine asked for, then answer one open request or body.
                while let action = pending.first {
                    pending.removeFirst()
                    switch action {
                    case .request(let part, let range, _):
                        if let range { #expect(range.lowerBound >= 0 && range.upperBound <= max(size, 100)) }
                        if let range, range.upperBound <= size {
                            #expect(!written[range].contains(true), "asked again for written bytes \(range)")
                        }
                        inFlight[part] = range
                    case .write(let part, let offset, let limit): writes[part] = (offset, limit)
                    case .allocate(let total): #expect(total == size)
                    case .hash: break
                    case .verify: digestAsked = true
                    case .finish, .fail: outcome = action
                    }
                }
                #expect(inFlight.count + writes.count <= 3, "more than three parts at once")
                if outcome != nil { break }
                if digestAsked {
                    digestAsked = false
                    pending = m.handle(.digested("x")).actions
                    continue
                }
                if let (part, w) = writes.first, pick(2) == 0 || inFlight.isEmpty {
                    writes[part] = nil
                    let room = min(w.limit ?? (size - w.offset), size - w.offset)
                    let bytes = pick(4) == 0 ? pick(room + 1) : room
                    for i in w.offset..<(w.offset + bytes) { written[i] = true }
                    pending = m.handle(.bodyEnded(part: part, bytes: bytes, failure: pick(5) == 0 ? .dropped("reset") : nil)).actions
                } else if let (part, range) = inFlight.first {
                    inFlight[part] = nil
                    let failures: [TransferFailure] = [.connect("refused"), .dropped("timeout"), .status(503, retryAfter: nil, body: ""), .status(500, retryAfter: 1, body: "")]
                    let answer: Result<M.Head, TransferFailure>
                    if pick(4) == 0 {
                        answer = .failure(failures[pick(failures.count)])
                    } else if size == 0, range != nil {
                        answer = .failure(.status(416, retryAfter: nil, body: ""))
                    } else if let range {
                        answer = .success(M.Head(status: 206, contentRange: "bytes \(range.lowerBound)-\(min(range.upperBound, size) - 1)/\(size)"))
                    } else {
                        answer = .success(M.Head(status: 200, contentLength: size))
                        written = [Bool](repeating: false, count: size)  // a whole stream writes from the start
                    }
                    pending = m.handle(.answered(part: part, answer)).actions
                }
            }
            switch outcome {
            case .finish(let done)?:
                #expect(done.bytes == size)
                #expect(!written.contains(false), "finished with bytes missing")
            case .fail(let error)?:
                #expect(error == .connection("refused") || error == .connection("timeout") || error == .connection("reset")
                        || error == .status(503, "") || error == .status(500, "") || String(describing: error).contains("short"), "\(error)")
            default:
                Issue.record("no outcome after 2000 events")
            }
        }
    }
}

/// A download's decisions as a pure state machine, in async-http-client's style: the
/// ``Downloader`` reports what happened (an ``Event``), the machine answers what to do next
/// (``Action``s, with lines for the log). No I/O, no clock — every path is unit-tested
/// without a network or a disk.
///
/// What it decides:
/// * **The probe**: the first request asks for the first part's bytes. A 206 with a
///   `Content-Range` total means ranges work: the object is split into a ``DownloadPlan``,
///   the probe's body becomes part 0 and up to ``Settings/connections`` parts are in flight
///   at once. A 200 (or a 206 without a total) means one stream; a 416 means an empty object,
///   fetched whole.
/// * **Retries**, per part: resets, timeouts, 5xx, 408 and 429 are retried with jittered
///   backoff (`Retry-After` honoured) up to ``RetryPolicy/maximumAttempts`` requests; a
///   ranged part resumes from the bytes it already has, one stream starts again from zero.
///   403 and 404 are final at once, named from the S3 error body; so is a server that stops
///   honouring ranges mid-download.
/// * **Checks**: the size (a stream that ends short is a failure, retried); with a
///   plain-MD5 ETag, parts are hashed in file order as they complete, and the digest is
///   compared at the end.
public struct DownloadMachine: Sendable {
    /// Sizes, parallelism and retries.
    public struct Settings: Sendable, Equatable {
        /// Bytes per ranged part.
        public var partSize: Int
        /// Parts in flight at once.
        public var connections: Int
        public var retry: RetryPolicy

        public init(partSize: Int = 8 << 20, connections: Int = 8, retry: RetryPolicy = RetryPolicy()) {
            precondition(partSize > 0 && connections > 0, "part size and connections must be positive")
            self.partSize = partSize
            self.connections = connections
            self.retry = retry
        }
    }

    /// The parts of an answer's head the machine reads.
    public struct Head: Sendable, Equatable {
        /// 200 or 206 (other statuses arrive as ``TransferFailure/status(_:retryAfter:body:)``).
        public var status: Int
        public var contentRange: String?
        public var contentLength: Int?
        public var etag: String?

        public init(status: Int, contentRange: String? = nil, contentLength: Int? = nil, etag: String? = nil) {
            self.status = status
            self.contentRange = contentRange
            self.contentLength = contentLength
            self.etag = etag
        }
    }

    /// What happened, as the downloader saw it.
    public enum Event: Sendable, Equatable {
        /// A request for `part` was answered with a body to read (200 or 206), or failed.
        case answered(part: Int, Result<Head, TransferFailure>)
        /// The body of `part` ended: `bytes` were written where ``Action/write(part:offset:limit:)``
        /// said; `failure` when it broke off.
        case bodyEnded(part: Int, bytes: Int, failure: TransferFailure?)
        /// The MD5 of every range handed to ``Action/hash(_:)``, after ``Action/verify``.
        case digested(String)
    }

    /// What to do next.
    public enum Action: Sendable, Equatable {
        /// Send a GET for `range` of the object (all of it when nil) after this many seconds.
        case request(part: Int, range: Range<Int>?, after: Double)
        /// Write the body `part` was just answered with into the file from `offset`: at
        /// most `limit` bytes (the rest is ignored), or all of it when nil.
        case write(part: Int, offset: Int, limit: Int?)
        /// The object's size is known: check the free space and size the file.
        case allocate(total: Int)
        /// Add these bytes of the file to the MD5 (handed out in file order, each once).
        case hash(Range<Int>)
        /// Every byte is on disk: finish the MD5 and report it (``Event/digested(_:)``).
        case verify
        /// Done.
        case finish(Finished)
        /// Done: the download failed.
        case fail(DownloadError)
    }

    /// What a finished download was.
    public struct Finished: Sendable, Equatable {
        public var bytes: Int
        public var ranged: Bool
        public var retries: Int
        public var etag: String?
        /// Whether the ETag was a plain MD5 and matched the file.
        public var verified: Bool

        public init(bytes: Int, ranged: Bool, retries: Int, etag: String?, verified: Bool) {
            self.bytes = bytes
            self.ranged = ranged
            self.retries = retries
            self.etag = etag
            self.verified = verified
        }
    }

    /// Actions to take, in order, and the lines that explain them.
    public struct Step: Sendable, Equatable {
        public var actions: [Action]
        public var notes: [String]
    }

    /// One part of a ranged download.
    struct Part: Sendable, Equatable {
        var range: Range<Int>
        var written = 0
        var requests = 0
        var remaining: Range<Int> { (range.lowerBound + written)..<range.upperBound }
    }

    enum Phase: Sendable, Equatable {
        /// The first request is out.
        case probing
        /// One stream of the whole object (`total` -1 when no size was announced).
        case single(total: Int)
        /// Ranged parts.
        case ranged
        /// Waiting for the digest.
        case verifying
        case done
    }

    public let settings: Settings
    private let random: @Sendable () -> Double
    private var phase = Phase.probing
    private var parts: [Part] = []
    /// The next part to request.
    private var nextPart = 0
    /// Parts complete so far, and how many of them (from the start) are hashed.
    private var complete: Set<Int> = []
    private var hashedThrough = 0
    /// Requests of the one stream (or of the probe, before the mode is known).
    private var streamRequests = 0
    private var streamBytes = 0
    private var ranged = false
    private var allocated = false
    private var etag: String?
    private var expectedMD5: String?
    /// Requests repeated after a failure, over all parts.
    public private(set) var retries = 0

    /// - Parameter random: jitter source for the backoff (fixed in tests).
    public init(settings: Settings = Settings(), random: @escaping @Sendable () -> Double = { .random(in: 0...1) }) {
        self.settings = settings
        self.random = random
    }

    /// Bytes kept so far (a restarted stream's earlier bytes are not).
    public var received: Int { ranged ? parts.reduce(0) { $0 + $1.written } : streamBytes }

    /// The first action: ask for the first part's bytes.
    public mutating func start() -> Step {
        precondition(phase == .probing && streamRequests == 0, "start() once")
        streamRequests = 1
        return Step(actions: [.request(part: 0, range: 0..<settings.partSize, after: 0)], notes: [])
    }

    /// The next actions after `event`.
    public mutating func handle(_ event: Event) -> Step {
        switch (phase, event) {
        case (.probing, .answered(0, let answer)): return probed(answer)
        case (.single, .answered(0, let answer)): return streamAnswered(answer)
        case (.single(let total), .bodyEnded(0, let bytes, let failure)): return streamEnded(bytes, failure, total: total)
        case (.ranged, .answered(let index, let answer)): return partAnswered(index, answer)
        case (.ranged, .bodyEnded(let index, let bytes, let failure)): return partEnded(index, bytes, failure)
        case (.verifying, .digested(let actual)): return digested(actual)
        default: preconditionFailure("event \(event) does not fit phase \(phase)")
        }
    }

    // MARK: The probe

    private mutating func probed(_ answer: Result<Head, TransferFailure>) -> Step {
        let head: Head
        switch answer {
        case .failure(.status(416, _, _)):
            // An empty object has no byte 0: fetch it whole.
            phase = .single(total: -1)
            streamRequests += 1
            return Step(actions: [.request(part: 0, range: nil, after: 0)], notes: [])
        case .failure(let failure):
            return retryStream(failure, what: "bytes 0-\(settings.partSize - 1)")
        case .success(let h): head = h
        }
        if head.status == 206, let size = S3Answer.totalSize(contentRange: head.contentRange) {
            adopt(head)
            parts = DownloadPlan(total: size, partSize: settings.partSize).parts.map { Part(range: $0) }
            phase = .ranged
            ranged = true
            guard !parts.isEmpty else { return finished() }
            parts[0].requests = streamRequests
            nextPart = 1
            var actions = allocate(size)
            actions.append(.write(part: 0, offset: 0, limit: parts[0].range.count))
            actions += launch(upTo: settings.connections - 1)
            return Step(actions: actions, notes: [])
        }
        if head.status == 206 {
            // Ranged, but of unknown size: this body is a piece; take the object whole.
            phase = .single(total: -1)
            streamRequests += 1
            return Step(actions: [.request(part: 0, range: nil, after: 0)], notes: [])
        }
        phase = .single(total: head.contentLength ?? -1)
        return streamAnswered(.success(head))
    }

    /// The ETag (and the MD5 to check) of the answer whose bytes are kept.
    private mutating func adopt(_ head: Head) {
        etag = head.etag
        expectedMD5 = head.etag.flatMap(S3Answer.plainMD5)
    }

    /// Sizes the file once, when the size is known and not zero.
    private mutating func allocate(_ size: Int) -> [Action] {
        guard size > 0, !allocated else { return [] }
        allocated = true
        return [.allocate(total: size)]
    }

    // MARK: One stream

    private mutating func streamAnswered(_ answer: Result<Head, TransferFailure>) -> Step {
        switch answer {
        case .failure(let failure): return retryStream(failure, what: "the whole file")
        case .success(let head):
            guard case .single(let known) = phase else { preconditionFailure("not streaming") }
            let size = known >= 0 ? known : head.contentLength ?? -1
            phase = .single(total: size)
            adopt(head)
            streamBytes = 0  // a stream starts again from the first byte
            var actions = allocate(size)
            actions.append(.write(part: 0, offset: 0, limit: nil))
            return Step(actions: actions, notes: [])
        }
    }

    private mutating func streamEnded(_ bytes: Int, _ failure: TransferFailure?, total: Int) -> Step {
        streamBytes = bytes
        if total >= 0, bytes > total { return finish(.fail(.sizeMismatch(expected: total, received: bytes))) }
        if failure == nil, total < 0 || bytes == total {
            return finished()
        }
        let problem = failure ?? .dropped("the body ended \(max(0, total - bytes)) bytes short")
        return retryStream(problem, what: "the whole file")
    }

    /// Asks again for the probe's bytes or the whole file, or gives up.
    private mutating func retryStream(_ failure: TransferFailure, what: String) -> Step {
        guard failure.isRetryableForDownload, streamRequests < settings.retry.maximumAttempts else { return fail(failure) }
        streamRequests += 1
        retries += 1
        let delay = delay(failure, beforeAttempt: streamRequests)
        let range: Range<Int>? = phase == .probing ? 0..<settings.partSize : nil
        return Step(actions: [.request(part: 0, range: range, after: delay)], notes: [note(what, failure, attempt: streamRequests, delay: delay)])
    }

    // MARK: Ranged parts

    /// Requests for the next parts, at most `count`.
    private mutating func launch(upTo count: Int) -> [Action] {
        var actions: [Action] = []
        while actions.count < count, nextPart < parts.count {
            parts[nextPart].requests = 1
            actions.append(.request(part: nextPart, range: parts[nextPart].range, after: 0))
            nextPart += 1
        }
        return actions
    }

    private mutating func partAnswered(_ index: Int, _ answer: Result<Head, TransferFailure>) -> Step {
        switch answer {
        case .failure(let failure): return retryPart(index, failure)
        case .success(let head):
            guard head.status == 206 else {
                return finish(.fail(.status(head.status, "the server stopped honouring Range")))
            }
            let remaining = parts[index].remaining
            return Step(actions: [.write(part: index, offset: remaining.lowerBound, limit: remaining.count)], notes: [])
        }
    }

    private mutating func partEnded(_ index: Int, _ bytes: Int, _ failure: TransferFailure?) -> Step {
        parts[index].written = min(parts[index].range.count, parts[index].written + max(0, bytes))
        guard parts[index].remaining.isEmpty else {
            return retryPart(index, failure ?? .dropped("the body ended \(parts[index].remaining.count) bytes short"))
        }
        complete.insert(index)
        var actions: [Action] = []
        if expectedMD5 != nil {
            while complete.contains(hashedThrough) {
                actions.append(.hash(parts[hashedThrough].range))
                hashedThrough += 1
            }
        }
        if complete.count == parts.count {
            let last = finished()
            return Step(actions: actions + last.actions, notes: last.notes)
        }
        return Step(actions: actions + launch(upTo: 1), notes: [])
    }

    /// Resumes a part from what it has, or gives up.
    private mutating func retryPart(_ index: Int, _ failure: TransferFailure) -> Step {
        let part = parts[index]
        let what = "bytes \(part.remaining.lowerBound)-\(part.range.upperBound - 1)"
        guard failure.isRetryableForDownload, part.requests < settings.retry.maximumAttempts else { return fail(failure) }
        parts[index].requests += 1
        retries += 1
        let delay = delay(failure, beforeAttempt: parts[index].requests)
        return Step(
            actions: [.request(part: index, range: part.remaining, after: delay)],
            notes: [note(what, failure, attempt: parts[index].requests, delay: delay)])
    }

    // MARK: The end

    /// Every byte is there: verify the MD5 when there is one to check, else finish.
    private mutating func finished() -> Step {
        guard expectedMD5 != nil else { return finish(.finish(summary(verified: false))) }
        var actions: [Action] = []
        if !ranged, streamBytes > 0 { actions.append(.hash(0..<streamBytes)) }
        phase = .verifying
        actions.append(.verify)
        return Step(actions: actions, notes: [])
    }

    private mutating func digested(_ actual: String) -> Step {
        guard let expected = expectedMD5, actual == expected else {
            return finish(.fail(.checksumMismatch(expected: expectedMD5 ?? "", actual: actual)))
        }
        return finish(.finish(summary(verified: true)))
    }

    private func summary(verified: Bool) -> Finished {
        Finished(bytes: received, ranged: ranged, retries: retries, etag: etag, verified: verified)
    }

    private mutating func finish(_ action: Action) -> Step {
        phase = .done
        return Step(actions: [action], notes: [])
    }

    private mutating func fail(_ failure: TransferFailure) -> Step { finish(.fail(Self.finalError(failure))) }

    private func delay(_ failure: TransferFailure, beforeAttempt attempt: Int) -> Double {
        var retryAfter: Double?
        if case .status(_, let after, _) = failure { retryAfter = after }
        return settings.retry.delay(beforeAttempt: attempt, retryAfter: retryAfter, random: random())
    }

    private func note(_ what: String, _ failure: TransferFailure, attempt: Int, delay: Double) -> String {
        "download of \(what) failed (\(failure)); retry \(attempt - 1) of \(settings.retry.maximumAttempts - 1) in \(String(format: "%.2f", delay)) s"
    }

    /// The error a failure that is not retried (or no longer) ends the download with.
    static func finalError(_ f: TransferFailure) -> DownloadError {
        switch f {
        case .connect(let why), .dropped(let why): .connection(why)
        case .status(let code, _, let body): S3Answer.error(status: code, body: body)
        }
    }
}

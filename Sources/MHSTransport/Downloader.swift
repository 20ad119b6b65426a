import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import MHSSecrets
import NIOCore
import NIOHTTP1
import Synchronization

/// How far a download has come.
public struct DownloadProgress: Sendable {
    /// Bytes written so far.
    public var received: Int
    /// The size the server announced, when it did.
    public var total: Int?
    /// Seconds since the download started.
    public var elapsed: Double
}

/// What a finished download produced.
public struct DownloadResult: Sendable {
    public var path: String
    public var bytes: Int
    public var seconds: Double
    public var etag: String?
    /// Parallel ranged parts, or one stream when the server ignores ranges.
    public var ranged: Bool
    /// How many times a part was retried or resumed.
    public var retries: Int
    /// Whether the ETag was a plain MD5 and matched the file.
    public var etagVerified: Bool
}

/// Why a download failed, in words a lab can act on.
public enum DownloadError: Error, Sendable, CustomStringConvertible {
    /// The presigned URL has expired (S3 `AccessDenied`, "Request has expired").
    case expired(String)
    /// The URL's signature was refused (S3 `SignatureDoesNotMatch`).
    case badSignature(String)
    /// Another 403.
    case forbidden(String)
    /// 404: the object does not exist.
    case notFound(String)
    /// Any other unexpected status, after retries where they made sense.
    case status(Int, String)
    /// Fewer or more bytes than announced.
    case sizeMismatch(expected: Int, received: Int)
    /// The connection kept failing.
    case connection(String)
    /// The file could not be written.
    case disk(String)
    /// Not enough free space in the work folder for the announced size.
    case diskFull(needed: Int, available: Int, folder: String)
    /// The ETag is a plain MD5 and the file's MD5 differs.
    case checksumMismatch(expected: String, actual: String)
    /// The URL is not an http(s) URL.
    case invalidURL(String)

    public var description: String {
        switch self {
        case .expired(let what): "the presigned URL has expired (\(what)); ask the platform for a new task or debug request"
        case .badSignature(let what): "the presigned URL's signature was refused (\(what)); the URL was altered or copied incompletely"
        case .forbidden(let what): "access denied (403): \(what)"
        case .notFound(let what): "the slide does not exist (404): \(what)"
        case .status(let code, let what): "unexpected HTTP status \(code): \(what)"
        case .sizeMismatch(let expected, let received): "the download is incomplete: \(received) bytes received, \(expected) announced"
        case .connection(let why): "the connection kept failing: \(why)"
        case .disk(let why): "cannot write the download: \(why)"
        case .diskFull(let needed, let available, let folder):
            "the work folder \(folder) has \(available / 1_000_000) MB free but the slide needs \(needed / 1_000_000) MB; give the container more disk or point MHS_WORK_DIR elsewhere"
        case .checksumMismatch(let expected, let actual): "the file's MD5 \(actual) differs from the ETag \(expected)"
        case .invalidURL(let url): "not an http(s) URL: \(url)"
        }
    }
}

/// Downloads a presigned URL the way S3's own transfer managers do: parallel ranged parts
/// written in place into one pre-sized file, each part resumed from the bytes it already
/// has after a dropped connection, bounded retries with jittered backoff on resets,
/// timeouts, 5xx and 429 (honouring `Retry-After`), an immediate clear failure on 403 and
/// 404, the final size verified (and the ETag when it is a plain MD5), the free disk
/// checked first. Servers without range support get one stream. Memory stays flat.
public struct Downloader: Sendable {
    /// Tuning, from the defaults or `MHS_DOWNLOAD_*`.
    public struct Options: Sendable {
        /// Bytes per ranged part (8-16 MiB is what S3 clients use).
        public var partSize = 8 << 20
        /// Parallel connections.
        public var connections = 8
        public var retry = RetryPolicy()
        /// Time allowed for one part's request.
        public var partTimeout: TimeAmount = .seconds(120)

        public init() {}
    }

    let client: HTTPClient
    let redactor: Redactor
    public var options: Options
    /// Where warnings go (a URL about to expire, a retry); the caller's, already redacting.
    let logger: Logger

    /// - Parameter logger: the caller's logger (no logging by default: a library never
    ///   bootstraps swift-log, the executable does).
    public init(
        client: HTTPClient = .shared, redactor: Redactor = Redactor(), options: Options = Options(),
        logger: Logger = Logger(label: "mhs.download", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.client = client
        self.redactor = redactor
        self.options = options
        self.logger = logger
    }

    private func warn(_ message: String) { logger.warning("\(message)") }

    /// Progress and retry counters shared by the parts.
    final class Tally: Sendable {
        private let state = Mutex((received: 0, retries: 0, lastReport: -1.0))
        func add(_ n: Int) -> Int { state.withLock { $0.received += n; return $0.received } }
        func retried() { state.withLock { $0.retries += 1 } }
        var retries: Int { state.withLock { $0.retries } }
        var received: Int { state.withLock { $0.received } }
        /// True at most every quarter second.
        func shouldReport(_ now: Double) -> Bool {
            state.withLock {
                guard now - $0.lastReport >= 0.25 else { return false }
                $0.lastReport = now
                return true
            }
        }
    }

    /// Downloads `url` to `path`.
    public func download(
        _ url: String, to path: String, progress: @escaping @Sendable (DownloadProgress) -> Void = { _ in }
    ) async throws(DownloadError) -> DownloadResult {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw .invalidURL(redactor.redact(url)) }
        if let expiry = PresignedURL.expiry(of: url) {
            let left = expiry.timeIntervalSinceNow
            if left < 300 {
                warn(left > 0 ? "the presigned URL expires in \(Int(left)) s" : "the presigned URL expired \(Int(-left)) s ago")
            }
        }
        let start = ContinuousClock.now
        let elapsed: @Sendable () -> Double = { (ContinuousClock.now - start) / .seconds(1) }
        let tally = Tally()
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .disk("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }

        // The first part doubles as the probe: 206 + Content-Range means ranges work.
        let first = 0..<options.partSize
        let probe: (HTTPClientResponse, HTTPClientResponse.Body)?
        do {
            probe = try await openRange(url, first, tally: tally)
        } catch .status(416, _) {
            probe = nil  // an empty object has no byte 0: fetch it whole
        }
        let total: Int
        let ranged: Bool
        if let (head, _) = probe, head.status == .partialContent,
            let size = S3Answer.totalSize(contentRange: head.headers.first(name: "Content-Range"))
        {
            total = size
            ranged = true
        } else {
            total = probe?.0.headers.first(name: "Content-Length").flatMap(Int.init) ?? -1
            ranged = false
        }
        let firstBody = probe?.1
        let etag = probe?.0.headers.first(name: "ETag")
        if total > 0 { try checkFreeSpace(needed: total, path: path) }
        if total > 0, ftruncate(fd, off_t(total)) != 0 { throw .disk("\(path): \(String(cString: strerror(errno)))") }

        let report: @Sendable () -> Void = {
            let now = elapsed()
            if tally.shouldReport(now) { progress(DownloadProgress(received: tally.received, total: total > 0 ? total : nil, elapsed: now)) }
        }
        let expectedMD5 = etag.flatMap(S3Answer.plainMD5)
        var digest: String?
        if ranged {
            let plan = DownloadPlan(total: total, partSize: options.partSize)
            // With a plain-MD5 ETag, hash parts in order as they land, while the network
            // works, instead of re-reading the whole file at the end.
            let (finished, finishedContinuation) = AsyncStream.makeStream(of: Int.self)
            let hashing = expectedMD5 != nil
            // Part 0 streams from the probe's response; the rest run on the other connections.
            let firstWriter = Part(range: plan.parts[0])
            do {
                digest = try await withThrowingTaskGroup(of: String?.self) { group in
                    if hashing {
                        group.addTask { try await Self.hashInOrder(fd: fd, plan: plan, finished: finished) }
                    }
                    group.addTask {
                        try await self.fetch(url, part: firstWriter, fd: fd, tally: tally, report: report, opened: firstBody)
                        finishedContinuation.yield(0)
                        return nil
                    }
                    var next = 1
                    func launch(_ index: Int) {
                        let part = Part(range: plan.parts[index])
                        group.addTask {
                            try await self.fetch(url, part: part, fd: fd, tally: tally, report: report, opened: nil)
                            finishedContinuation.yield(index)
                            return nil
                        }
                    }
                    for _ in 0..<min(max(1, options.connections - 1), plan.parts.count - 1) {
                        launch(next)
                        next += 1
                    }
                    var digest: String?
                    while let result = try await group.next() {
                        if let result { digest = result }
                        if next < plan.parts.count {
                            launch(next)
                            next += 1
                        }
                    }
                    return digest
                }
                finishedContinuation.finish()
            } catch let error as DownloadError {
                finishedContinuation.finish()
                throw error
            } catch is CancellationError {
                finishedContinuation.finish()
                throw .connection("cancelled")
            } catch {
                finishedContinuation.finish()
                throw .connection(redactor.redact("\(error)"))
            }
        } else {
            try await singleStream(url, fd: fd, first: firstBody, total: total, tally: tally, report: report)
        }

        let received = tally.received
        if total >= 0, received != total { throw .sizeMismatch(expected: total, received: received) }
        var verified = false
        if let md5 = expectedMD5 {
            let actual: String
            if let digest { actual = digest } else { actual = try Self.md5(fd: fd, size: received) }
            guard actual == md5 else { throw .checksumMismatch(expected: md5, actual: actual) }
            verified = true
        }
        progress(DownloadProgress(received: received, total: received, elapsed: elapsed()))
        return DownloadResult(
            path: path, bytes: received, seconds: elapsed(), etag: etag, ranged: ranged, retries: tally.retries, etagVerified: verified)
    }

    // MARK: Parts

    /// One byte range and how much of it is on disk.
    final class Part: Sendable {
        let range: Range<Int>
        private let done = Mutex(0)
        init(range: Range<Int>) { self.range = range }
        var written: Int { done.withLock { $0 } }
        func add(_ n: Int) { done.withLock { $0 += n } }
        var remaining: Range<Int> { (range.lowerBound + written)..<range.upperBound }
    }


    /// The one retry loop of a download: runs `attempt` until it succeeds, a failure is
    /// final (not worth retrying, or the attempts are used up), or the task is cancelled.
    /// Waits between attempts as ``RetryPolicy`` says (Retry-After honoured) and warns.
    private func retrying<T>(
        _ what: @autoclosure () -> String, tally: Tally,
        _ attempt: () async throws(DownloadError) -> Result<T, TransferFailure>
    ) async throws(DownloadError) -> T {
        var number = 1
        while true {
            let failure: TransferFailure
            switch try await attempt() {
            case .success(let value): return value
            case .failure(let f): failure = f
            }
            guard failure.isRetryableForDownload, number < options.retry.maximumAttempts else { throw Self.finalError(failure) }
            number += 1
            tally.retried()
            var retryAfter: Double?
            if case .status(_, let after, _) = failure { retryAfter = after }
            let delay = options.retry.delay(beforeAttempt: number, retryAfter: retryAfter)
            warn("download of \(what()) failed (\(failure)); retry \(number - 1) of \(options.retry.maximumAttempts - 1) in \(String(format: "%.2f", delay)) s")
            do { try await Task.sleep(for: .seconds(delay)) } catch { throw .connection("cancelled") }
        }
    }

    /// One GET (ranged when `range` is given): the response when it is 200 or 206, else the
    /// failure, classified.
    private func get(_ url: String, range: Range<Int>?, timeout: TimeAmount) async -> Result<(HTTPClientResponse, HTTPClientResponse.Body), TransferFailure> {
        var request = HTTPClientRequest(url: url)
        if let range { request.headers.add(name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound - 1)") }
        do {
            let response = try await client.execute(request, timeout: timeout)
            let code = Int(response.status.code)
            if code == 200 || code == 206 { return .success((response, response.body)) }
            let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
            return .failure(.status(code, retryAfter: RetryPolicy.retryAfter(response.headers.first(name: "Retry-After")), body: redactor.redact(body)))
        } catch {
            return .failure(FailureClassifier.classify(error, redact: redactor.redact))
        }
    }

    /// Sends a ranged GET, retrying what is worth retrying.
    private func openRange(_ url: String, _ range: Range<Int>, tally: Tally) async throws(DownloadError)
        -> (HTTPClientResponse, HTTPClientResponse.Body)
    {
        try await retrying("bytes \(range.lowerBound)-\(range.upperBound - 1)", tally: tally) { () async throws(DownloadError) in
            await get(url, range: range, timeout: options.partTimeout)
        }
    }

    static func finalError(_ f: TransferFailure) -> DownloadError {
        switch f {
        case .connect(let why), .dropped(let why): .connection(why)
        case .status(let code, _, let body): S3Answer.error(status: code, body: body)
        }
    }

    /// Streams one part into place, resuming from what it has after a failure.
    private func fetch(
        _ url: String, part: Part, fd: Int32, tally: Tally, report: @escaping @Sendable () -> Void, opened: HTTPClientResponse.Body?
    ) async throws(DownloadError) {
        var body = opened
        try await retrying("bytes \(part.remaining.lowerBound)-\(part.range.upperBound - 1)", tally: tally) { () async throws(DownloadError) -> Result<Void, TransferFailure> in
            if body == nil {
                switch await get(url, range: part.remaining, timeout: options.partTimeout) {
                case .failure(let failure): return .failure(failure)
                case .success(let (head, b)):
                    guard head.status == .partialContent else { throw DownloadError.status(Int(head.status.code), "the server stopped honouring Range") }
                    body = b
                }
            }
            guard let stream = body else { return .failure(.dropped("no body")) }
            body = nil
            do {
                for try await chunk in stream {
                    let room = part.remaining.count
                    let n = min(room, chunk.readableBytes)
                    try write(fd: fd, chunk, count: n, at: part.remaining.lowerBound)
                    part.add(n)
                    _ = tally.add(n)
                    report()
                    if n < chunk.readableBytes { break }  // more than asked for: ignore the excess
                }
            } catch let error as DownloadError {
                throw error
            } catch {
                return .failure(FailureClassifier.classify(error, redact: redactor.redact))
            }
            return part.remaining.isEmpty ? .success(()) : .failure(.dropped("the body ended \(part.remaining.count) bytes short"))
        }
    }

    /// A server that ignores ranges: one stream; after a failure, start again from zero.
    private func singleStream(
        _ url: String, fd: Int32, first: HTTPClientResponse.Body?, total: Int, tally: Tally, report: @escaping @Sendable () -> Void
    ) async throws(DownloadError) {
        var body: HTTPClientResponse.Body? = first
        try await retrying("the whole file", tally: tally) { () async throws(DownloadError) -> Result<Void, TransferFailure> in
            if body == nil {
                _ = tally.add(-tally.received)
                switch await get(url, range: nil, timeout: .hours(2)) {
                case .failure(let failure): return .failure(failure)
                case .success(let (_, b)): body = b
                }
            }
            guard let stream = body else { return .failure(.dropped("no body")) }
            body = nil
            var offset = 0
            do {
                for try await chunk in stream {
                    try write(fd: fd, chunk, count: chunk.readableBytes, at: offset)
                    offset += chunk.readableBytes
                    _ = tally.add(chunk.readableBytes)
                    report()
                }
            } catch let error as DownloadError {
                throw error
            } catch {
                return .failure(FailureClassifier.classify(error, redact: redactor.redact))
            }
            return total < 0 || offset == total ? .success(()) : .failure(.dropped("the body ended \(total - offset) bytes short"))
        }
    }

    private func write(fd: Int32, _ buffer: ByteBuffer, count: Int, at offset: Int) throws(DownloadError) {
        try buffer.withUnsafeReadableBytes { (raw) throws(DownloadError) in
            var done = 0
            while done < count {
                let n = pwrite(fd, raw.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 { throw DownloadError.disk(String(cString: strerror(errno))) }
                done += n
            }
        }
    }

    private func checkFreeSpace(needed: Int, path: String) throws(DownloadError) {
        let folder = (path as NSString).deletingLastPathComponent
        var fs = statvfs()
        guard statvfs(folder.isEmpty ? "." : folder, &fs) == 0 else { return }
        let available = Int(fs.f_bavail) * Int(fs.f_frsize)
        if available < needed { throw .diskFull(needed: needed, available: available, folder: folder) }
    }

    // MARK: Checksums

    /// Hashes the parts in file order as they finish (announced on `finished`).
    static func hashInOrder(fd: Int32, plan: DownloadPlan, finished: AsyncStream<Int>) async throws(DownloadError) -> String {
        var hasher = FileMD5(fd: fd)
        var done = Set<Int>()
        var next = 0
        for await index in finished {
            done.insert(index)
            while done.contains(next) {
                try hasher.add(plan.parts[next])
                done.remove(next)
                next += 1
            }
            if next == plan.parts.count { break }
        }
        return hasher.hex
    }

    /// The MD5 of a file's first `size` bytes.
    static func md5(fd: Int32, size: Int) throws(DownloadError) -> String {
        var hasher = FileMD5(fd: fd)
        try hasher.add(0..<size)
        return hasher.hex
    }
}

/// The one MD5 reader: hashes byte ranges of an open file, in the order they are added.
struct FileMD5 {
    let fd: Int32
    private var hasher = Insecure.MD5()
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)

    init(fd: Int32) { self.fd = fd }

    mutating func add(_ range: Range<Int>) throws(DownloadError) {
        var offset = range.lowerBound
        while offset < range.upperBound {
            let n = pread(fd, &buffer, min(buffer.count, range.upperBound - offset), off_t(offset))
            if n <= 0 { throw .disk("re-reading the file for its MD5 failed") }
            hasher.update(data: buffer[0..<n])
            offset += n
        }
    }

    var hex: String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }
}

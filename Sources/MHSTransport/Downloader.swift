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
public enum DownloadError: Error, Sendable, Equatable, CustomStringConvertible {
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

    /// Bytes written so far, shared by the parts for progress reports.
    final class Tally: Sendable {
        private let state = Mutex((received: 0, lastReport: -1.0))
        func add(_ n: Int) { state.withLock { $0.received += n } }
        /// Sets the count to what the machine keeps (a restarted stream's bytes are gone).
        func set(_ n: Int) { state.withLock { $0.received = n } }
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

    /// What a task of the download reports back to the loop: the machine's event, and the
    /// body to read when the event is an answer.
    private struct Report: Sendable {
        var event: DownloadMachine.Event
        var body: HTTPClientResponse.Body?
    }

    /// Downloads `url` to `path`: the I/O around ``DownloadMachine``, which decides.
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
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .disk("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }

        let tally = Tally()
        let total = Mutex<Int?>(nil)
        let report: @Sendable () -> Void = {
            let now = elapsed()
            if tally.shouldReport(now) { progress(DownloadProgress(received: tally.received, total: total.withLock { $0 }, elapsed: now)) }
        }
        var machine = DownloadMachine(
            settings: DownloadMachine.Settings(partSize: options.partSize, connections: options.connections, retry: options.retry))
        // Ranges to hash, in file order, read by one task while the network works.
        let (ranges, rangeSink) = AsyncStream.makeStream(of: Range<Int>.self)
        defer { rangeSink.finish() }
        let finished: DownloadMachine.Finished
        do {
            finished = try await withThrowingTaskGroup(of: Report.self) { group in
                var bodies: [Int: HTTPClientResponse.Body] = [:]
                var hashing = false
                var step = machine.start()
                while true {
                    for note in step.notes { warn(note) }
                    for action in step.actions {
                        switch action {
                        case .request(let part, let range, let delay):
                            let timeout = range == nil ? TimeAmount.hours(2) : options.partTimeout
                            group.addTask {
                                if delay > 0 { try await Task.sleep(for: .seconds(delay)) }
                                switch await self.get(url, range: range, timeout: timeout) {
                                case .success(let (head, body)):
                                    return Report(event: .answered(part: part, .success(head)), body: body)
                                case .failure(let failure):
                                    return Report(event: .answered(part: part, .failure(failure)), body: nil)
                                }
                            }
                        case .write(let part, let offset, let limit):
                            guard let body = bodies.removeValue(forKey: part) else { preconditionFailure("no body for part \(part)") }
                            group.addTask {
                                let (bytes, failure) = try await self.write(body, fd: fd, at: offset, limit: limit, tally: tally, report: report)
                                return Report(event: .bodyEnded(part: part, bytes: bytes, failure: failure), body: nil)
                            }
                        case .allocate(let size):
                            try checkFreeSpace(needed: size, path: path)
                            if ftruncate(fd, off_t(size)) != 0 { throw DownloadError.disk("\(path): \(String(cString: strerror(errno)))") }
                            total.withLock { $0 = size }
                        case .hash(let range):
                            if !hashing {
                                hashing = true
                                group.addTask {
                                    var hasher = FileMD5(fd: fd)
                                    for await range in ranges { try hasher.add(range) }
                                    return Report(event: .digested(hasher.hex), body: nil)
                                }
                            }
                            rangeSink.yield(range)
                        case .verify:
                            rangeSink.finish()
                            if !hashing {
                                hashing = true
                                group.addTask { Report(event: .digested(FileMD5(fd: fd).hex), body: nil) }
                            }
                        case .finish(let done):
                            group.cancelAll()
                            return done
                        case .fail(let error):
                            throw error
                        }
                    }
                    guard let next = try await group.next() else { throw DownloadError.connection("the download ended without an outcome") }
                    if let body = next.body, case .answered(let part, _) = next.event { bodies[part] = body }
                    step = machine.handle(next.event)
                    if case .bodyEnded = next.event { tally.set(machine.received) }
                }
            }
        } catch let error as DownloadError {
            throw error
        } catch is CancellationError {
            throw .connection("cancelled")
        } catch {
            throw .connection(redactor.redact("\(error)"))
        }
        progress(DownloadProgress(received: finished.bytes, total: finished.bytes, elapsed: elapsed()))
        return DownloadResult(
            path: path, bytes: finished.bytes, seconds: elapsed(), etag: finished.etag, ranged: finished.ranged, retries: finished.retries,
            etagVerified: finished.verified)
    }

    // MARK: I/O

    /// One GET (ranged when `range` is given): the head and body when it is 200 or 206, else
    /// the failure, classified (the error body read for its S3 message).
    private func get(_ url: String, range: Range<Int>?, timeout: TimeAmount) async -> Result<(DownloadMachine.Head, HTTPClientResponse.Body), TransferFailure> {
        var request = HTTPClientRequest(url: url)
        if let range { request.headers.add(name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound - 1)") }
        do {
            let response = try await client.execute(request, timeout: timeout)
            let code = Int(response.status.code)
            if code == 200 || code == 206 {
                let head = DownloadMachine.Head(
                    status: code, contentRange: response.headers.first(name: "Content-Range"),
                    contentLength: response.headers.first(name: "Content-Length").flatMap(Int.init), etag: response.headers.first(name: "ETag"))
                return .success((head, response.body))
            }
            let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
            return .failure(.status(code, retryAfter: RetryPolicy.retryAfter(response.headers.first(name: "Retry-After")), body: redactor.redact(body)))
        } catch {
            return .failure(FailureClassifier.classify(error, redact: redactor.redact))
        }
    }

    /// Writes a body into place from `offset`, at most `limit` bytes (the excess ignored):
    /// the bytes written, and how the body broke off when it did. A disk error is thrown.
    private func write(
        _ body: HTTPClientResponse.Body, fd: Int32, at offset: Int, limit: Int?, tally: Tally, report: @Sendable () -> Void
    ) async throws(DownloadError) -> (Int, TransferFailure?) {
        var written = 0
        do {
            for try await chunk in body {
                let n = min(limit.map { $0 - written } ?? Int.max, chunk.readableBytes)
                try write(fd: fd, chunk, count: n, at: offset + written)
                written += n
                tally.add(n)
                report()
                if let limit, written >= limit { break }
            }
        } catch let error as DownloadError {
            throw error
        } catch {
            return (written, FailureClassifier.classify(error, redact: redactor.redact))
        }
        return (written, nil)
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

import AsyncHTTPClient
import Foundation
import MHSSecrets
import NIOCore
import NIOHTTP1

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
    /// Any other unexpected status.
    case status(Int, String)
    /// Fewer or more bytes than `Content-Length` announced.
    case sizeMismatch(expected: Int, received: Int)
    /// The connection failed or dropped.
    case connection(String)
    /// The file could not be written.
    case disk(String)
    /// The URL is not an http(s) URL.
    case invalidURL(String)

    public var description: String {
        switch self {
        case .expired(let what): "the presigned URL has expired (\(what)); ask the platform for a new task or debug request"
        case .badSignature(let what): "the presigned URL's signature was refused (\(what)); the URL was altered or copied incompletely"
        case .forbidden(let what): "access denied (403): \(what)"
        case .notFound(let what): "the slide does not exist (404): \(what)"
        case .status(let code, let what): "unexpected HTTP status \(code): \(what)"
        case .sizeMismatch(let expected, let received):
            "the download is incomplete: \(received) bytes received, \(expected) announced"
        case .connection(let why): "the connection failed: \(why)"
        case .disk(let why): "cannot write the download: \(why)"
        case .invalidURL(let url): "not an http(s) URL: \(url)"
        }
    }
}

/// Streams a URL to a file: bounded memory, progress callbacks, size checked against
/// `Content-Length`, S3 error bodies turned into clear errors.
public struct Downloader: Sendable {
    let client: HTTPClient
    let redactor: Redactor

    public init(client: HTTPClient = .shared, redactor: Redactor = Redactor()) {
        self.client = client
        self.redactor = redactor
    }

    /// Downloads `url` to `path`, calling `progress` as bytes arrive.
    public func download(
        _ url: String, to path: String, progress: @escaping @Sendable (DownloadProgress) -> Void = { _ in }
    ) async throws(DownloadError) -> DownloadResult {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw .invalidURL(redactor.redact(url)) }
        let start = ContinuousClock.now
        func elapsed() -> Double { (ContinuousClock.now - start) / .seconds(1) }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(HTTPClientRequest(url: url), timeout: .hours(2))
        } catch {
            throw .connection(redactor.redact("\(error)"))
        }
        let status = Int(response.status.code)
        guard status == 200 else {
            let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
            throw Self.classify(status: status, body: redactor.redact(body))
        }
        let total = response.headers.first(name: "Content-Length").flatMap { Int($0) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw .disk("\(path): \(String(cString: strerror(errno)))") }
        var received = 0
        var lastReport = 0.0
        do {
            defer { close(fd) }
            for try await chunk in response.body {
                try chunk.withUnsafeReadableBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                        if n < 0 { throw DownloadError.disk("\(path): \(String(cString: strerror(errno)))") }
                        offset += n
                    }
                }
                received += chunk.readableBytes
                let now = elapsed()
                if now - lastReport >= 0.25 {
                    lastReport = now
                    progress(DownloadProgress(received: received, total: total, elapsed: now))
                }
            }
        } catch let error as DownloadError {
            throw error
        } catch {
            if let total, received < total { throw .sizeMismatch(expected: total, received: received) }
            throw .connection(redactor.redact("\(error)"))
        }
        if let total, received != total { throw .sizeMismatch(expected: total, received: received) }
        progress(DownloadProgress(received: received, total: total ?? received, elapsed: elapsed()))
        return DownloadResult(path: path, bytes: received, seconds: elapsed(), etag: response.headers.first(name: "ETag"))
    }

    /// Reads an S3-style error answer.
    static func classify(status: Int, body: String) -> DownloadError {
        func tag(_ name: String) -> String? {
            guard let open = body.range(of: "<\(name)>"), let close = body.range(of: "</\(name)>", range: open.upperBound..<body.endIndex) else {
                return nil
            }
            return String(body[open.upperBound..<close.lowerBound])
        }
        let code = tag("Code")
        let message = tag("Message") ?? String(body.prefix(200))
        switch (status, code) {
        case (403, "AccessDenied") where message.localizedCaseInsensitiveContains("expired"): return .expired(message)
        case (403, "SignatureDoesNotMatch"): return .badSignature(message)
        case (403, _): return .forbidden(code.map { "\($0): \(message)" } ?? message)
        case (404, _): return .notFound(code.map { "\($0): \(message)" } ?? message)
        default: return .status(status, code.map { "\($0): \(message)" } ?? message)
        }
    }
}

import Foundation
import Hummingbird
import NIOCore
import ZIPFoundation

/// The S3 side: slides and zips behind presigned GET URLs, debug bundles behind a
/// presigned PUT URL. Bodies stream from disk; Range requests get 206.
struct S3Routes {
    let emulator: EmulatorCore

    func register(on router: Router<EmulatorContext>) {
        router.on("/bucket/files_uuid/:key", method: .get) { request, context in try await serve(request, context, zip: false) }
        router.on("/bucket/files_uuid/:key", method: .head) { request, context in try await serve(request, context, zip: false) }
        router.on("/bucket/series_zip/:key", method: .get) { request, context in try await serve(request, context, zip: true) }
        router.on("/bucket/series_zip/:key", method: .head) { request, context in try await serve(request, context, zip: true) }
        router.put("/bucket/debug_uploads/:key") { request, context in try await upload(request, context) }
    }

    // MARK: Errors, S3 style

    static func s3Error(_ status: HTTPResponse.Status, code: String, message: String, extra: String = "") -> Response {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>\(code)</Code><Message>\(message)</Message>\(extra)<RequestId>\(randomHex(8).uppercased())</RequestId></Error>
            """
        return Response(
            status: status, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// Checks the presigned query; returns the refusal response, if any.
    func refusal(_ request: Request, method: String) -> Response? {
        var query: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
        switch emulator.presigner.verify(method: method, path: request.uri.path, query: query) {
        case nil: return nil
        case .missing(let name)?:
            return Self.s3Error(
                .forbidden, code: "SignatureDoesNotMatch",
                message: "The request signature we calculated does not match the signature you provided: \(name) is missing.")
        case .badSignature?:
            return Self.s3Error(
                .forbidden, code: "SignatureDoesNotMatch",
                message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
        case .expired(let ago)?:
            return Self.s3Error(
                .forbidden, code: "AccessDenied", message: "Request has expired",
                extra: "<X-Amz-Expires>\(query["X-Amz-Expires"] ?? "")</X-Amz-Expires><ExpiredSecondsAgo>\(ago)</ExpiredSecondsAgo>")
        }
    }

    // MARK: GET / HEAD

    private func serve(_ request: Request, _ context: EmulatorContext, zip: Bool) async throws -> Response {
        let key = context.parameters.get("key") ?? ""
        let route: Fault.Route = zip ? .zip : .download
        if let refused = refusal(request, method: request.method.rawValue) { return refused }
        guard let scan = emulator.scan(objectKey: key), let path = zip ? scan.zipFile : scan.servedFile else {
            return Self.s3Error(.notFound, code: "NoSuchKey", message: "The specified key does not exist.")
        }
        let size = zip ? scan.zipSize ?? 0 : scan.servedSize
        let etag = zip ? scan.zipETag ?? "" : scan.servedETag
        let faults = await emulator.platform.takeFaults(route)
        for f in faults { context.note.fault(f) }
        if let status = faults.compactMap({ if case .status(let c) = $0 { c } else { nil } }).first {
            try await delay(faults)
            var r = Self.s3Error(.init(code: status), code: status == 503 ? "SlowDown" : "InternalError", message: "Injected fault: status \(status)")
            if status == 429 || status == 503 { r.headers[.retryAfter] = "1" }
            return r
        }
        try await delay(faults)

        var headers: HTTPFields = [
            .acceptRanges: "bytes", .eTag: etag, .contentType: zip ? "application/zip" : "application/octet-stream",
            .lastModified: "Thu, 26 Nov 2026 08:00:00 GMT",
        ]
        var status = HTTPResponse.Status.ok
        var range = 0..<size
        if let header = request.headers[.range], !faults.contains(.noRange) {
            switch ByteRange.parse(header, size: size) {
            case .whole: break
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            case .range(let r):
                range = r
                status = .partialContent
                headers[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound - 1)/\(size)"
            }
        }
        headers[.contentLength] = String(range.count)
        if request.method == .head || range.isEmpty {
            return Response(status: status, headers: headers, body: ResponseBody(contentLength: range.count) { writer in
                try await writer.finish(nil)
            })
        }
        let file = try await FileIO().loadFile(path: path, range: range.lowerBound...(range.upperBound - 1), context: context)
        let body = FaultingBody(source: file, length: range.count, faults: faults, context: context).body
        return Response(status: status, headers: headers, body: body)
    }

    private func delay(_ faults: [Fault.Kind]) async throws {
        for case .delay(let ms) in faults { try await Task.sleep(for: .milliseconds(ms)) }
    }

    // MARK: PUT debug bundle

    private func upload(_ request: Request, _ context: EmulatorContext) async throws -> Response {
        if let refused = refusal(request, method: "PUT") { return refused }
        let key = context.parameters.get("key") ?? ""
        guard let task = emulator.task(debugKey: key) else {
            return Self.s3Error(.notFound, code: "NoSuchKey", message: "The specified key does not exist.")
        }
        let faults = await emulator.platform.takeFaults(.debug)
        for f in faults { context.note.fault(f) }
        try await delay(faults)
        if let status = faults.compactMap({ if case .status(let c) = $0 { c } else { nil } }).first {
            return Self.s3Error(.init(code: status), code: "InternalError", message: "Injected fault: status \(status)")
        }
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        context.note.received(body.readableBytes)
        let data = Data(buffer: body)
        var entries: [String] = []
        var problem: String?
        do {
            let archive = try Archive(data: data, accessMode: .read)
            entries = archive.map(\.path)
        } catch {
            problem = "not a zip: \(error)"
        }
        await emulator.platform.addUpload(
            DebugUpload(
                taskNumber: task.number, bytes: data.count, entries: entries, data: data.count <= 64 << 20 ? Array(data) : [],
                error: problem, uploadedAt: Date()))
        if faults.contains(where: { if case .resetAfter = $0 { true } else { $0 == .shortBody } }) {
            await context.dropConnection()
            throw ConnectionDropped()
        }
        return Response(status: .ok, headers: [.eTag: "\"\(randomHex(16))\""])
    }
}

/// A byte range request resolved against a size.
enum ByteRange: Equatable {
    case whole
    case range(Range<Int>)
    case unsatisfiable

    /// Parses a single `bytes=` range (`a-b`, `a-`, `-n`); multiple ranges are answered whole.
    static func parse(_ header: String, size: Int) -> ByteRange {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("bytes=") else { return .whole }
        let spec = trimmed.dropFirst(6)
        guard !spec.contains(",") else { return .whole }
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard parts.count == 2 else { return .whole }
        if parts[0].isEmpty {
            guard let n = Int(parts[1]), n > 0 else { return .unsatisfiable }
            return size == 0 ? .unsatisfiable : .range(max(0, size - n)..<size)
        }
        guard let start = Int(parts[0]), start >= 0 else { return .whole }
        guard start < size else { return .unsatisfiable }
        if parts[1].isEmpty { return .range(start..<size) }
        guard let end = Int(parts[1]), end >= start else { return .whole }
        return .range(start..<min(end + 1, size))
    }
}

/// Wraps a streaming body with the download faults: a per-connection rate cap, a dropped
/// connection after N bytes, or a body shorter than its Content-Length.
struct FaultingBody {
    let source: ResponseBody
    let length: Int
    let faults: [Fault.Kind]
    let context: EmulatorContext

    var body: ResponseBody {
        var cutAt: Int?
        var rate: Int?
        for f in faults {
            switch f {
            case .resetAfter(let n): cutAt = min(cutAt ?? .max, n)
            case .shortBody: cutAt = min(cutAt ?? .max, length / 2)
            case .rate(let r): rate = r
            default: break
            }
        }
        guard cutAt != nil || rate != nil else { return source }
        let source = self.source
        let context = self.context
        return ResponseBody(contentLength: length) { [cutAt, rate] writer in
            try await source.write(FaultingWriter(inner: writer, cutAt: cutAt, rate: rate, context: context))
        }
    }
}

struct FaultingWriter: ResponseBodyWriter {
    var inner: any ResponseBodyWriter
    let cutAt: Int?
    let rate: Int?
    let context: EmulatorContext
    var sent = 0
    let started = ContinuousClock.now

    init(inner: any ResponseBodyWriter, cutAt: Int?, rate: Int?, context: EmulatorContext) {
        self.inner = inner
        self.cutAt = cutAt
        self.rate = rate
        self.context = context
    }

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        while buffer.readableBytes > 0 {
            var chunkSize = buffer.readableBytes
            if let rate { chunkSize = min(chunkSize, max(1024, rate / 20)) }
            if let cutAt { chunkSize = min(chunkSize, cutAt - sent) }
            if chunkSize <= 0 {
                // Flush what was sent, then close mid-body.
                await context.dropConnection()
                throw ConnectionDropped()
            }
            let chunk = buffer.readSlice(length: chunkSize)!
            try await inner.write(chunk)
            sent += chunkSize
            if let rate {
                let due = Duration.seconds(Double(sent) / Double(rate))
                let elapsed = ContinuousClock.now - started
                if due > elapsed { try await Task.sleep(for: due - elapsed) }
            }
        }
        if let cutAt, sent >= cutAt {
            await context.dropConnection()
            throw ConnectionDropped()
        }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        try await inner.finish(trailingHeaders)
    }
}

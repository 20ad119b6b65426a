import Foundation
import Hummingbird
import MHSSecrets
import NIOCore
import Synchronization

/// The request context of the emulator's routes: Hummingbird's core plus the connection,
/// so faults can drop it, and a note the call record reads.
struct EmulatorContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The client's connection.
    let channel: any Channel
    /// What the handler did that the record should show.
    let note = CallNote()

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Debug bundles and results can be large.
    var maxUploadSize: Int { 1 << 30 }
}

/// Shared between a handler and the call recorder for one request.
final class CallNote: Sendable {
    private let faults = Mutex<[String]>([])
    private let bytesIn = Mutex<Int?>(nil)

    func fault(_ kind: Fault.Kind) { faults.withLock { $0.append(kind.description) } }
    var faultText: String? { faults.withLock { $0.isEmpty ? nil : $0.joined(separator: ",") } }
    func received(_ n: Int) { bytesIn.withLock { $0 = n } }
    var received: Int? { bytesIn.withLock { $0 } }
}

/// Thrown after a fault closed the client's connection on purpose.
struct ConnectionDropped: Error {}

extension EmulatorContext {
    /// Closes the client's connection without an answer (or mid-answer).
    func dropConnection() async {
        try? await channel.close(mode: .all)
    }
}

/// Counts the bytes of a response body on their way out.
struct CountingWriter: ResponseBodyWriter {
    var inner: any ResponseBodyWriter
    let counter: Counter

    mutating func write(_ buffer: ByteBuffer) async throws {
        counter.add(buffer.readableBytes)
        try await inner.write(buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        try await inner.finish(trailingHeaders)
    }
}

/// A thread-safe byte count.
final class Counter: Sendable {
    private let value = Mutex(0)
    func add(_ n: Int) { value.withLock { $0 += n } }
    var total: Int { value.withLock { $0 } }
}

/// Records every request in the platform's call record, secrets redacted.
struct CallRecorder: RouterMiddleware {
    typealias Context = EmulatorContext
    let platform: Platform
    let redactor: Redactor

    func handle(
        _ request: Request, context: EmulatorContext, next: (Request, EmulatorContext) async throws -> Response
    ) async throws -> Response {
        let start = Date()
        let method = request.method.rawValue
        let path = redactor.redact(request.uri.description)
        let declaredIn = request.headers[.contentLength].flatMap { Int($0) } ?? 0
        let platform = self.platform
        let note = context.note
        @Sendable func record(_ status: Int, out: Int, outcome: String) async {
            await platform.record(
                CallRecord(
                    at: start, method: method, path: path, status: status, bytesIn: note.received ?? declaredIn, bytesOut: out,
                    fault: note.faultText, outcome: outcome))
        }
        let response: Response
        do {
            response = try await next(request, context)
        } catch is ConnectionDropped {
            await record(0, out: 0, outcome: "dropped")
            throw ConnectionDropped()
        } catch let error as HTTPError {
            await record(Int(error.status.code), out: 0, outcome: "completed")
            throw error
        } catch {
            await record(500, out: 0, outcome: "completed")
            throw error
        }
        var counted = response
        let body = response.body
        let status = Int(response.status.code)
        counted.body = ResponseBody(contentLength: body.contentLength) { writer in
            let counter = Counter()
            do {
                try await body.write(CountingWriter(inner: writer, counter: counter))
            } catch {
                await record(status, out: counter.total, outcome: "dropped")
                throw error
            }
            await record(status, out: counter.total, outcome: "completed")
        }
        return counted
    }
}

import Dispatch
import Foundation

/// Turns SIGTERM and SIGINT into an async sequence while it exists, instead of the
/// default of dying on the spot (the platform sends SIGTERM when it stops a task).
final class SignalWatcher: @unchecked Sendable {
    // @unchecked: `sources` is written once in init; cancelling a dispatch source is
    // thread-safe.
    private let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation
    private let sources: [any DispatchSourceSignal]

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        let continuation = self.continuation
        sources = [SIGTERM, SIGINT].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { continuation.yield(sig) }
            source.resume()
            return source
        }
    }

    /// The next signal, or nil when the waiting task is cancelled.
    func next() async -> Int32? {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next()
    }

    /// Stops watching (the signals keep being ignored until the process ends).
    func stop() {
        sources.forEach { $0.cancel() }
        continuation.finish()
    }
}

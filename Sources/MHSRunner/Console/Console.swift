import Foundation
import Logging
import MHSSecrets
import Synchronization

/// Where a run's lines go: standard output (which the platform shows in its log tab),
/// with every secret redacted, and a copy kept for the debug bundle.
public final class Console: Sendable {
    private let lines = Mutex<[String]>([])
    private let redactor: Mutex<Redactor>
    private let echo: Bool

    /// `echo: false` keeps lines only in memory (tests of the runner in-process).
    public init(redactor: Redactor = Redactor(), echo: Bool = true) {
        self.redactor = Mutex(redactor)
        self.echo = echo
    }

    /// Registers more secrets to hide (the task's token, once known).
    public func hide(_ secrets: [String]) {
        redactor.withLock { r in for s in secrets { r.add(s) } }
    }

    /// Prints one line.
    public func say(_ text: String) {
        let clean = redactor.withLock { $0.redact(text) }
        lines.withLock { $0.append(clean) }
        if echo {
            print(clean)
            fflush(nil)
        }
    }

    /// Redacts without printing.
    public func redact(_ text: String) -> String { redactor.withLock { $0.redact(text) } }

    /// Everything said so far.
    public var transcript: [String] { lines.withLock { $0 } }

    /// A logger whose messages go through this console.
    public func logger(label: String = "mhs") -> Logger {
        Logger(label: label) { _ in ConsoleLogHandler(console: self) }
    }
}

/// A swift-log handler printing through a ``Console``: level prefixes for warnings and
/// errors, metadata as `key=value`.
public struct ConsoleLogHandler: LogHandler {
    let console: Console
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let extra = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let prefix = event.level >= .warning ? "\(event.level.rawValue.uppercased()): " : ""
        console.say(prefix + event.message.description + extra)
    }
}

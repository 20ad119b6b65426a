/// Why a stage ended the run: the exit status and a message naming what was wrong.
public struct StageFailure: Error, Sendable, CustomStringConvertible, Equatable {
    public var status: ExitStatus
    public var message: String

    public init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "exit \(status.rawValue) (\(status.meaning)): \(message)" }
}

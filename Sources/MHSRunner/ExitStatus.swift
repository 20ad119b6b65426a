/// `mhs run`'s exit statuses, one per way a task can end (documented in the README).
public enum ExitStatus: Int32, Sendable, CaseIterable {
    /// Results posted.
    case posted = 0
    /// The environment is missing or malformed, or the credentials were refused.
    case configuration = 2
    /// The slide could not be downloaded.
    case download = 3
    /// The slide is unreadable or of an unsupported kind.
    case slide = 4
    /// The classifier failed.
    case classifier = 5
    /// The classifier's results break the contract; nothing was posted.
    case invalidResults = 6
    /// Posting failed; the results were printed and written to disk.
    case postingFailed = 7
    /// The deadline passed.
    case deadline = 8
    /// SIGINT.
    case interrupted = 130
    /// SIGTERM.
    case terminated = 143

    public var meaning: String {
        switch self {
        case .posted: "results posted"
        case .configuration: "configuration or credentials"
        case .download: "download failed"
        case .slide: "slide unreadable or unsupported"
        case .classifier: "classifier failed"
        case .invalidResults: "results invalid, nothing posted"
        case .postingFailed: "posting failed, results saved"
        case .deadline: "deadline exceeded"
        case .interrupted: "interrupted (SIGINT)"
        case .terminated: "terminated (SIGTERM)"
        }
    }
}

import AsyncHTTPClient
import NIOCore
import NIOPosix

/// Tells errors that happened before anything reached the server (safe to repeat any
/// request) from those after (a POST may have been applied).
enum FailureClassifier {
    static func classify(_ error: any Error, redact: (String) -> String) -> TransferFailure {
        let text = TLSHint.explain(redact("\(error)"))
        if let e = error as? HTTPClientError {
            return [HTTPClientError.connectTimeout, .invalidURL, .emptyHost, .emptyScheme].contains(e) ? .connect(text) : .dropped(text)
        }
        if error is NIOConnectionError { return .connect(text) }
        if let c = error as? ChannelError, case .connectTimeout = c { return .connect(text) }
        if let io = error as? IOError, [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH].contains(io.errnoCode) { return .connect(text) }
        return .dropped(text)
    }
}

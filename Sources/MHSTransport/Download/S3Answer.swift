import Foundation

/// What an S3-style object store's answers mean, read without I/O: the object's size from
/// `Content-Range`, the MD5 inside an `ETag`, and the error an XML error body names.
package enum S3Answer {
    /// `bytes 0-8388607/123456789` → 123456789; nil when the total is absent or unknown (`*`).
    package static func totalSize(contentRange: String?) -> Int? {
        guard let contentRange, contentRange.hasPrefix("bytes "), let slash = contentRange.lastIndex(of: "/") else { return nil }
        guard let total = Int(contentRange[contentRange.index(after: slash)...]), total >= 0 else { return nil }
        return total
    }

    /// The MD5 inside an ETag, when the ETag is one (multipart ETags end in `-N`).
    package static func plainMD5(_ etag: String) -> String? {
        let raw = etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"W/"))
        guard raw.count == 32, raw.allSatisfy(\.isHexDigit) else { return nil }
        return raw.lowercased()
    }

    /// Reads an S3-style error answer (`<Error><Code>…</Code><Message>…</Message></Error>`).
    package static func error(status: Int, body: String) -> DownloadError {
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

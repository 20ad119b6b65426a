/// Removes secrets from text before it reaches a log, an error, a record or a file:
/// presigned-URL signatures and credentials, bearer and basic credentials, JWTs, and any
/// secret value registered with it (an API secret, a token handed over in the environment).
///
/// It is a value type: copy it freely across tasks.
public struct Redactor: Sendable {
    /// What replaces a secret.
    public static let mask = "REDACTED"

    private var secrets: [String]

    /// A redactor that also masks every one of `secrets` (values shorter than 6 characters
    /// are ignored: masking them would garble ordinary text).
    public init(secrets: [String] = []) {
        self.secrets = []
        for s in secrets { add(s) }
    }

    /// Registers one more secret value.
    public mutating func add(_ secret: String) {
        if secret.count >= 6, !secrets.contains(secret) {
            secrets.append(secret)
            secrets.sort { $0.count > $1.count }
        }
    }

    /// `text` with every secret replaced by ``mask``.
    ///
    /// Each pattern needs a literal word to match at all (`x-amz-`, `authorization`, `token`
    /// or `secret`, `eyJ`), so a line without any of them skips the pattern's regex: most
    /// console lines have none, and a regex match costs far more than a substring search.
    public func redact(_ text: String) -> String {
        var out = text
        for s in secrets where out.contains(s) { out = out.replacing(s, with: Self.mask) }
        let lower = out.lowercased()
        if lower.contains("x-amz-") {
            out = out.replacing(Patterns.presigned, with: { "\($0.output.1)\(Self.mask)" })
        }
        if lower.contains("authorization") {
            out = out.replacing(Patterns.authorization, with: { "\($0.output.1)\(Self.mask)" })
        }
        if lower.contains("token") || lower.contains("secret") {
            out = out.replacing(Patterns.jsonMember, with: { "\($0.output.1)\(Self.mask)" })
            out = out.replacing(Patterns.queryItem, with: { "\($0.output.1)\(Self.mask)" })
        }
        if out.contains("eyJ") {
            out = out.replacing(Patterns.jwt, with: { _ in Self.mask })
        }
        return out
    }
}

/// The patterns, compiled once: a regex literal written inside a function is parsed again
/// each time the function runs.
private enum Patterns {
    nonisolated(unsafe) static let presigned = #/(?i)(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"'<>]+/#
    nonisolated(unsafe) static let authorization = #/(?i)(Authorization:\s*(?:Bearer|Basic)\s+)[^\s"',]+/#
    nonisolated(unsafe) static let jsonMember = #/(?i)("(?:access_token|refresh_token|jwt_token|api_key_secret|token|secret)"\s*:\s*")[^"]{6,}/#
    nonisolated(unsafe) static let queryItem = #/(?i)\b((?:access_token|refresh_token|jwt_token|api_key_secret|token|secret)=)[^&\s"'<>]+/#
    nonisolated(unsafe) static let jwt = #/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}/#
}

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
    public func redact(_ text: String) -> String {
        var out = text
        for s in secrets where out.contains(s) { out = out.replacing(s, with: Self.mask) }
        out = out.replacing(
            #/(?i)(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"'<>]+/#, with: { "\($0.output.1)\(Self.mask)" })
        out = out.replacing(#/(?i)(Authorization:\s*(?:Bearer|Basic)\s+)[^\s"',]+/#, with: { "\($0.output.1)\(Self.mask)" })
        out = out.replacing(#/(?i)("(?:access_token|refresh_token|jwt_token|api_key_secret|token|secret)"\s*:\s*")[^"]{6,}/#, with: {
            "\($0.output.1)\(Self.mask)"
        })
        out = out.replacing(#/(?i)\b((?:access_token|refresh_token|jwt_token|api_key_secret|token|secret)=)[^&\s"'<>]+/#, with: {
            "\($0.output.1)\(Self.mask)"
        })
        out = out.replacing(#/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}/#, with: { _ in Self.mask })
        return out
    }
}


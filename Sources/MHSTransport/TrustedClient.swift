import AsyncHTTPClient
import NIOSSL

/// What a failed TLS handshake means for a lab, added to the error's words.
enum TLSHint {
    /// `text` with advice appended when it is a certificate the client does not trust.
    static func explain(_ text: String) -> String {
        guard text.contains("CERTIFICATE_VERIFY_FAILED") else { return text }
        return text + " — the server's certificate is not signed by a trusted CA; give the CA that signed it in MHS_CA_FILE (or SSL_CERT_FILE), as `mhs emulator --tls` prints"
    }
}

extension HTTPClient {
    /// A client that trusts, beside the system's certificate authorities, those in `caFile`
    /// (PEM): for a platform — or `mhs emulator --tls` — whose certificate a private CA
    /// signed. It is the shared client's configuration otherwise. Shut it down when done.
    public static func trusting(caFile: String) -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.file(caFile)]
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.tlsConfiguration = tls
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}

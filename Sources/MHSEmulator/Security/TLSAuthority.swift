import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A private certificate authority made when the emulator starts, and the server
/// certificate it signs, so that containers written for the real platform — which reach
/// `https://api.<HOST>/api/v3` — talk to the emulator unchanged once they trust the CA.
///
/// The server certificate names `<host>`, `api.<host>` and `*.<host>`, `localhost`,
/// `host.docker.internal` and 127.0.0.1. Both keys are P-256 and live only in this process;
/// the CA's certificate (never its key) is what a client is given.
public struct TLSAuthority: Sendable {
    /// The host name `HOST` carries (for example `techcyte.test`).
    public let hostName: String
    /// The CA certificate, PEM: what `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE` or `MHS_CA_FILE` point at.
    public let caPEM: String
    /// The server's certificate chain and key, PEM.
    let serverPEM: String
    let serverKeyPEM: String

    /// Makes a CA and a server certificate for `hostName`, valid from an hour ago for 30 days.
    public init(hostName: String) throws {
        self.hostName = hostName
        let now = Date()
        let (from, until) = (now.addingTimeInterval(-3600), now.addingTimeInterval(30 * 24 * 3600))

        let caKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let caName = try DistinguishedName {
            OrganizationName("mhs emulator")
            CommonName("mhs emulator private CA (\(hostName))")
        }
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: caKey.publicKey, notValidBefore: from, notValidAfter: until,
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: caKey)

        let serverKey = P256.Signing.PrivateKey()
        let serverName = try DistinguishedName { CommonName("api.\(hostName)") }
        let server = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PrivateKey(serverKey).publicKey,
            notValidBefore: from, notValidAfter: until, issuer: caName, subject: serverName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(Self.names(for: hostName))
            },
            issuerPrivateKey: caKey)

        caPEM = try ca.serializeAsPEM().pemString
        serverPEM = try server.serializeAsPEM().pemString
        serverKeyPEM = serverKey.pemRepresentation
    }

    /// The names the server certificate carries.
    static func names(for hostName: String) -> [GeneralName] {
        ["api.\(hostName)", "*.\(hostName)", hostName, "localhost", "host.docker.internal"].map { .dnsName($0) }
            + [.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))]
    }

    /// The server side of TLS, for the emulator's listener.
    func serverConfiguration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(serverPEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(bytes: Array(serverKeyPEM.utf8), format: .pem)
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
    }

    /// Writes the CA certificate to `path` (readable by anyone: it is public).
    public func writeCA(to path: String) throws {
        try Data(caPEM.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

import Crypto
import Foundation
import MHSContract

/// Issues and checks the emulator's bearer tokens: HS256 JWTs with an expiry and the
/// task numbers they may post results for, signed with a key made fresh for each run.
struct TokenIssuer: Sendable {
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    init() {
        var g = SystemRandomNumberGenerator()
        keyBytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    /// What a valid token allows.
    struct Claims: Sendable, Equatable {
        var subject: String
        var tasks: Set<Int>
        var expires: Date
    }

    /// Why a token was refused.
    enum Refusal: Error, Equatable, CustomStringConvertible {
        case malformed
        case badSignature
        case expired

        var description: String {
            switch self {
            case .malformed: "the bearer token is not a JWT"
            case .badSignature: "the bearer token's signature is not valid"
            case .expired: "the bearer token has expired"
            }
        }
    }

    func issue(subject: String, tasks: Set<Int>, ttl: TimeInterval, now: Date = Date()) -> String {
        let header = #"{"alg":"HS256","typ":"JWT"}"#
        var payload = JSONObject()
        payload["iss"] = "mhs-emulator"
        payload["sub"] = .string(subject)
        payload["tasks"] = .array(tasks.sorted().map { .int(Int64($0)) })
        payload["iat"] = .int(Int64(now.timeIntervalSince1970))
        payload["exp"] = .int(Int64(now.timeIntervalSince1970 + ttl))
        let body = (try? MHSJSON.encode(JSONValue.object(payload))) ?? []
        let signingInput = Self.base64url(Data(header.utf8)) + "." + Self.base64url(Data(body))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: key)
        return signingInput + "." + Self.base64url(Data(mac))
    }

    func verify(_ token: String, now: Date = Date()) throws(Refusal) -> Claims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let signature = Self.decodeBase64url(String(parts[2])),
            let payloadBytes = Self.decodeBase64url(String(parts[1]))
        else { throw .malformed }
        let signingInput = parts[0] + "." + parts[1]
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data(signingInput.utf8), using: key) else {
            throw .badSignature
        }
        guard let payload = try? JSONParser.parse(payloadBytes), let exp = payload["exp"]?.doubleValue,
            let sub = payload["sub"]?.stringValue, let tasks = payload["tasks"]?.arrayValue
        else { throw .malformed }
        guard now.timeIntervalSince1970 < exp else { throw .expired }
        return Claims(subject: sub, tasks: Set(tasks.compactMap { $0.doubleValue.map { Int($0) } }), expires: Date(timeIntervalSince1970: exp))
    }

    static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64url(_ text: String) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}

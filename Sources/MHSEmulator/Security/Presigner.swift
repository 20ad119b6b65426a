import Crypto
import Foundation

/// Makes and checks S3-style presigned URLs: `X-Amz-Date`, `X-Amz-Expires`,
/// `X-Amz-Credential` and an HMAC-SHA256 `X-Amz-Signature` over method, path, date,
/// expiry and credential with a key made fresh for each emulator run.
struct Presigner: Sendable {
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }
    /// Signing credential shown in the URL, as S3 does (its value is redacted in records).
    let credential: String

    init() {
        var g = SystemRandomNumberGenerator()
        keyBytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        let hex = keyBytes.prefix(6).map(format2).joined()
        credential = "EMU\(hex.uppercased())/us-east-1/s3/aws4_request"
    }

    /// Why a presigned URL was refused.
    enum Refusal: Equatable {
        case missing(String)
        case badSignature
        case expired(secondsAgo: Int)
    }

    /// The query string for `method` on `path`, valid for `ttl` seconds from `now`.
    func query(method: String, path: String, ttl: Int, now: Date = Date()) -> String {
        let date = Self.amzDate(now)
        let signature = sign(method: method, path: path, date: date, expires: String(ttl))
        return "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=\(percentEncode(credential))&X-Amz-Date=\(date)"
            + "&X-Amz-Expires=\(ttl)&X-Amz-SignedHeaders=host&X-Amz-Signature=\(signature)"
    }

    /// Checks a request's query parameters.
    func verify(method: String, path: String, query: [String: String], now: Date = Date()) -> Refusal? {
        guard let date = query["X-Amz-Date"] else { return .missing("X-Amz-Date") }
        guard let expires = query["X-Amz-Expires"] else { return .missing("X-Amz-Expires") }
        guard let signature = query["X-Amz-Signature"] else { return .missing("X-Amz-Signature") }
        // A GET URL also serves HEAD here (real S3 signs the method; the emulator is lenient
        // so that clients may probe with HEAD).
        let signedMethod = method == "HEAD" ? "GET" : method
        let expected = sign(method: signedMethod, path: path, date: date, expires: expires)
        guard expected.utf8.count == signature.utf8.count,
            zip(expected.utf8, signature.utf8).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0
        else { return .badSignature }
        guard let start = Self.parseAmzDate(date), let ttl = Int(expires) else { return .badSignature }
        let age = now.timeIntervalSince(start)
        if age > Double(ttl) { return .expired(secondsAgo: Int(age) - ttl) }
        return nil
    }

    private func sign(method: String, path: String, date: String, expires: String) -> String {
        let text = "\(method)\n\(path)\n\(date)\n\(expires)\n\(credential)"
        let mac = HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)
        return mac.map { format2($0) }.joined()
    }

    static func amzDate(_ date: Date) -> String {
        let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        func p(_ v: Int?, _ n: Int) -> String {
            let s = String(v ?? 0)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(p(c.year, 4))\(p(c.month, 2))\(p(c.day, 2))T\(p(c.hour, 2))\(p(c.minute, 2))\(p(c.second, 2))Z"
    }

    static func parseAmzDate(_ text: String) -> Date? {
        let u = Array(text.utf8)
        guard u.count == 16, u[8] == UInt8(ascii: "T"), u[15] == UInt8(ascii: "Z") else { return nil }
        func num(_ r: Range<Int>) -> Int? { Int(String(decoding: u[r], as: UTF8.self)) }
        guard let y = num(0..<4), let mo = num(4..<6), let d = num(6..<8), let h = num(9..<11), let mi = num(11..<13),
            let s = num(13..<15)
        else { return nil }
        var comps = DateComponents()
        (comps.year, comps.month, comps.day, comps.hour, comps.minute, comps.second) = (y, mo, d, h, mi, s)
        comps.timeZone = TimeZone(identifier: "UTC")
        return Calendar(identifier: .gregorian).date(from: comps)
    }
}

/// Two lowercase hex digits.
func format2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
func percentEncode(_ text: String) -> String {
    var out = ""
    for b in text.utf8 {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            out.append(Character(Unicode.Scalar(b)))
        default:
            out += "%" + format2(b).uppercased()
        }
    }
    return out
}

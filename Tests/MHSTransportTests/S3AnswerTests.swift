import Foundation
import MHSTransport
import Testing

@Suite("What an object store's answers mean (no network)")
struct S3AnswerTests {
    @Test("Content-Range gives the object's size; a missing, unknown or malformed total gives none")
    func contentRange() {
        #expect(S3Answer.totalSize(contentRange: "bytes 0-8388607/123456789") == 123_456_789)
        #expect(S3Answer.totalSize(contentRange: "bytes 0-0/1") == 1)
        #expect(S3Answer.totalSize(contentRange: "bytes 0-99/*") == nil)
        #expect(S3Answer.totalSize(contentRange: "bytes 0-99/-5") == nil)
        #expect(S3Answer.totalSize(contentRange: "items 0-99/100") == nil)
        #expect(S3Answer.totalSize(contentRange: "bytes 0-99") == nil)
        #expect(S3Answer.totalSize(contentRange: nil) == nil)
    }

    @Test("an ETag is an MD5 only when it is 32 hex digits (quoted or weak); multipart ETags are not")
    func etag() {
        #expect(S3Answer.plainMD5("\"9E107D9D372BB6826BD81D3542A419D6\"") == "9e107d9d372bb6826bd81d3542a419d6")
        #expect(S3Answer.plainMD5("W/\"9e107d9d372bb6826bd81d3542a419d6\"") == "9e107d9d372bb6826bd81d3542a419d6")
        #expect(S3Answer.plainMD5("\"9e107d9d372bb6826bd81d3542a419d6-12\"") == nil)
        #expect(S3Answer.plainMD5("\"xyz\"") == nil)
    }

    @Test("S3 error bodies: an expired URL, a bad signature, other 403s, 404 and the rest, each named")
    func errors() {
        func xml(_ code: String, _ message: String) -> String {
            "<?xml version=\"1.0\"?><Error><Code>\(code)</Code><Message>\(message)</Message></Error>"
        }
        let expired = S3Answer.error(status: 403, body: xml("AccessDenied", "Request has expired"))
        #expect("\(expired)" == "\(DownloadError.expired("Request has expired"))")
        let signature = S3Answer.error(status: 403, body: xml("SignatureDoesNotMatch", "The signature does not match"))
        #expect("\(signature)" == "\(DownloadError.badSignature("The signature does not match"))")
        let denied = S3Answer.error(status: 403, body: xml("AccessDenied", "Access Denied"))
        #expect("\(denied)" == "\(DownloadError.forbidden("AccessDenied: Access Denied"))")
        let missing = S3Answer.error(status: 404, body: xml("NoSuchKey", "The specified key does not exist."))
        #expect("\(missing)" == "\(DownloadError.notFound("NoSuchKey: The specified key does not exist."))")
        let plain = S3Answer.error(status: 500, body: "upstream exploded")
        #expect("\(plain)" == "\(DownloadError.status(500, "upstream exploded"))")
        let unclosed = S3Answer.error(status: 404, body: "<Error><Code>NoSuchKey")
        #expect("\(unclosed)" == "\(DownloadError.notFound("<Error><Code>NoSuchKey"))")
    }
}

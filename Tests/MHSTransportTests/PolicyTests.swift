import Foundation
import MHSTransport
import Testing

@Suite("Transport decisions (no network)")
struct PolicyTests {
    @Test("downloads retry resets, timeouts, 5xx and 429; never 403 or 404")
    func downloadRetryable() {
        #expect(TransferFailure.dropped("reset").isRetryableForDownload)
        #expect(TransferFailure.connect("refused").isRetryableForDownload)
        for code in [429, 500, 502, 503, 504] { #expect(TransferFailure.status(code, retryAfter: nil, body: "").isRetryableForDownload) }
        for code in [400, 401, 403, 404, 416] { #expect(!TransferFailure.status(code, retryAfter: nil, body: "").isRetryableForDownload) }
    }

    @Test("backoff: jittered exponential, capped, Retry-After honoured")
    func backoff() {
        let p = RetryPolicy(maximumAttempts: 6, baseDelay: 0.25, maximumDelay: 8)
        #expect(p.delay(beforeAttempt: 2, random: 1) == 0.25)
        #expect(p.delay(beforeAttempt: 3, random: 1) == 0.5)
        #expect(p.delay(beforeAttempt: 4, random: 0) == 0.5)
        #expect(p.delay(beforeAttempt: 20, random: 1) == 8)
        #expect(p.delay(beforeAttempt: 2, retryAfter: 2) == 2)
        #expect(p.delay(beforeAttempt: 2, retryAfter: 120) == 8)
        #expect(RetryPolicy.retryAfter("3") == 3 && RetryPolicy.retryAfter(nil) == nil)
    }

    @Test("a download is split into contiguous parts")
    func plan() {
        #expect(DownloadPlan(total: 20, partSize: 8).parts == [0..<8, 8..<16, 16..<20])
        #expect(DownloadPlan(total: 16, partSize: 8).parts == [0..<8, 8..<16])
        #expect(DownloadPlan(total: 0, partSize: 8).parts == [])
        let big = DownloadPlan(total: 1 << 30, partSize: 8 << 20)
        #expect(big.parts.count == 128 && big.parts.last?.upperBound == 1 << 30)
    }

    @Test("a presigned URL's expiry comes from X-Amz-Date and X-Amz-Expires")
    func expiry() {
        let url = "https://bucket.s3.amazonaws.com/x/y.8061860?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261126T083000Z&X-Amz-Expires=600&X-Amz-Signature=ab"
        let expiry = PresignedURL.expiry(of: url)
        #expect(expiry == Date(timeIntervalSince1970: 1_795_681_800 + 600))
        #expect(PresignedURL.expiry(of: "https://example.org/file") == nil)
    }
}

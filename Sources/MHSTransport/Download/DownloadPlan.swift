import Foundation

/// How a download is split: byte ranges of one file, fetched in parallel.
public struct DownloadPlan: Sendable, Equatable {
    /// The parts, in order, covering `0..<total` without gaps or overlap.
    public var parts: [Range<Int>]

    /// Splits `total` bytes into parts of `partSize` (the last one shorter).
    public init(total: Int, partSize: Int) {
        precondition(partSize > 0, "part size must be positive")
        var parts: [Range<Int>] = []
        var start = 0
        while start < total {
            parts.append(start..<min(start + partSize, total))
            start += partSize
        }
        self.parts = parts
    }
}

/// When a presigned URL stops working, from its `X-Amz-Date` and `X-Amz-Expires`.
public enum PresignedURL {
    /// The expiry instant, when the URL carries both parameters.
    public static func expiry(of url: String) -> Date? {
        guard let components = URLComponents(string: url), let items = components.queryItems else { return nil }
        func value(_ name: String) -> String? { items.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value }
        guard let date = value("X-Amz-Date"), let expires = value("X-Amz-Expires").flatMap(Int.init) else { return nil }
        let u = Array(date.utf8)
        guard u.count == 16, u[8] == UInt8(ascii: "T") else { return nil }
        func n(_ r: Range<Int>) -> Int? { Int(String(decoding: u[r], as: UTF8.self)) }
        var c = DateComponents()
        c.timeZone = TimeZone(identifier: "UTC")
        (c.year, c.month, c.day, c.hour, c.minute, c.second) = (n(0..<4), n(4..<6), n(6..<8), n(9..<11), n(11..<13), n(13..<15))
        guard let start = Calendar(identifier: .gregorian).date(from: c) else { return nil }
        return start.addingTimeInterval(TimeInterval(expires))
    }
}

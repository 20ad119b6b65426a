/// A value that writes itself as compact JSON straight into bytes.
///
/// Every type of the results model conforms; ``MHSJSON/encode(_:)`` is the entry point.
public protocol JSONWritable {
    /// Appends this value's JSON text to `writer`.
    func writeJSON(to writer: inout JSONWriter)
}

/// Thrown when a value cannot be written as JSON.
public enum JSONEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// NaN or an infinity was found: JSON has no spelling for it.
    case nonFiniteNumber(count: Int)

    public var description: String {
        switch self {
        case .nonFiniteNumber(let count):
            "\(count) number(s) are NaN or infinite, which JSON cannot represent (written as null); `mhs validate` lists each with its JSON path"
        }
    }
}

/// A compact, allocation-light JSON writer appending UTF-8 bytes to a buffer.
///
/// It escapes strings per RFC 8259, writes integral `Double`s below 2^53 as integers and
/// other `Double`s in their shortest round-tripping form. When created with a sink, it
/// hands the bytes over in chunks so that memory stays flat whatever the output size.
public struct JSONWriter {
    /// The bytes written and not yet handed to the sink.
    public private(set) var bytes: [UInt8]
    /// How many NaN or infinite numbers were written (as `null`).
    public private(set) var nonFiniteCount = 0
    private let chunkSize: Int
    private let sink: ((UnsafeBufferPointer<UInt8>) throws -> Void)?
    private var sinkError: (any Error)?

    /// A writer that keeps everything in ``bytes``.
    public init(reservingCapacity capacity: Int = 4096) {
        bytes = []
        bytes.reserveCapacity(capacity)
        chunkSize = .max
        sink = nil
    }

    /// A writer that passes its output to `sink` whenever about `chunkSize` bytes are pending.
    /// Call ``finish()`` at the end to pass on the rest and learn of any sink error.
    public init(chunkSize: Int = 1 << 20, sink: @escaping (UnsafeBufferPointer<UInt8>) throws -> Void) {
        bytes = []
        bytes.reserveCapacity(chunkSize + 4096)
        self.chunkSize = chunkSize
        self.sink = sink
    }

    /// Hands pending bytes to the sink when enough have gathered. Writers of long arrays
    /// call this between elements.
    @inline(__always)
    public mutating func flushIfNeeded() {
        if bytes.count >= chunkSize { flush() }
    }

    private mutating func flush() {
        guard let sink, sinkError == nil, !bytes.isEmpty else { return }
        do {
            try bytes.withUnsafeBufferPointer { try sink($0) }
        } catch {
            sinkError = error
        }
        bytes.removeAll(keepingCapacity: true)
    }

    /// Passes the remaining bytes to the sink and rethrows the first sink error, if any.
    public mutating func finish() throws {
        flush()
        if let sinkError { throw sinkError }
    }

    /// Appends raw ASCII text such as punctuation or a pre-quoted key.
    @inline(__always)
    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends one raw byte.
    @inline(__always)
    public mutating func byte(_ b: UInt8) { bytes.append(b) }

    /// Appends `"name":`. The name must need no escaping (all contract keys do not).
    @inline(__always)
    public mutating func key(_ name: StaticString) {
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Appends bytes made earlier, such as ``memberPrefixes(_:)``'s.
    @inline(__always)
    public mutating func raw(_ prefix: [UInt8]) { bytes.append(contentsOf: prefix) }

    /// `{"a":`, `,"b":`, … for `keys` in order, made once by a type whose members are written
    /// millions of times (differential points), so its hot path copies bytes instead of
    /// reading each key's name again. The names still come from the type's `CodingKeys`.
    public static func memberPrefixes<Key: CodingKey>(_ keys: [Key]) -> [[UInt8]] {
        keys.enumerated().map { i, key in Array(((i == 0 ? "{" : ",") + "\"" + key.stringValue + "\":").utf8) }
    }

    /// Appends `"key":`, preceded by `{` for an object's first member and `,` otherwise: the
    /// wire name comes from the type's `CodingKeys`, the one place it is spelled.
    @inline(__always)
    public mutating func member<Key: CodingKey>(_ key: Key, first: Bool = false) {
        bytes.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
        bytes.append(UInt8(ascii: "\""))
        var name = key.stringValue
        name.withUTF8 { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Appends a quoted, escaped JSON string.
    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            var runStart = 0
            for i in 0..<utf8.count {
                let b = utf8[i]
                if b >= 0x20 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") { continue }
                if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
                runStart = i + 1
                bytes.append(UInt8(ascii: "\\"))
                switch b {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
                }
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
            bytes.append(UInt8(ascii: "\""))
        }
    }

    /// Appends an integer.
    public mutating func integer(_ value: Int64) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            unsigned(value.magnitude)
        } else {
            unsigned(UInt64(value))
        }
    }

    @inline(__always)
    private mutating func unsigned(_ value: UInt64) {
        if value < 10 {
            bytes.append(0x30 + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch
        var v = value
        withUnsafeMutableBytes(of: &digits) { scratch in
            var i = 24
            while v > 0 {
                i -= 1
                scratch[i] = 0x30 + UInt8(v % 10)
                v /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[i..<24]))
        }
    }

    /// Appends a number: integral values below 2^53 as integers, others in a shortest
    /// round-tripping form. NaN and infinities are written as `null` and counted in
    /// ``nonFiniteCount``.
    @inline(__always)
    public mutating func number(_ value: Double) {
        let magnitude = value.magnitude
        if magnitude < 9_007_199_254_740_992, Double(Int64(value)) == value, value != 0 || value.sign == .plus {
            integer(Int64(value))
        } else if magnitude >= 1e-4, magnitude < 1e9, fixedPoint(value) {
            return
        } else {
            exactDouble(value)
        }
    }

    /// Powers of ten that are exact in a `Double`.
    private static let powersOfTen: [Double] = (0...9).map { k in (0..<k).reduce(1.0) { r, _ in r * 10 } }

    /// Writes `value` with the fewest decimals k (1...9) such that the decimal text parses
    /// back to exactly `value`: m = round(value·10^k) qualifies when m / 10^k == value,
    /// because both that division and a correct parser round the same exact quotient.
    /// Returns false (writing nothing) when no such k exists.
    @inline(__always)
    private mutating func fixedPoint(_ value: Double) -> Bool {
        for k in 1...9 {
            let scale = Self.powersOfTen[k]
            let scaled = value.magnitude * scale
            let m = UInt64(scaled + 0.5)
            guard Double(m) / scale == value.magnitude else { continue }
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            let p = UInt64(scale)
            unsigned(m / p)
            bytes.append(UInt8(ascii: "."))
            var fraction = m % p
            var digits: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &digits) { scratch in
                for i in stride(from: k - 1, through: 0, by: -1) {
                    scratch[i] = 0x30 + UInt8(fraction % 10)
                    fraction /= 10
                }
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<k]))
            }
            return true
        }
        return false
    }

    /// Appends a `Double` keeping its floating-point spelling (`1.0` stays `1.0`): the
    /// shortest digits that parse back to exactly `value`, as `description` spells them.
    ///
    /// The digits come from the standard library's own shortest round-trip conversion
    /// (`Double.write(to:)`, SwiftDtoa), which hands them to the stream's `_writeASCII` as
    /// bytes: written straight into ``bytes``, with no `String` made per number.
    public mutating func exactDouble(_ value: Double) {
        guard value.isFinite else {
            nonFiniteCount += 1
            raw("null")
            return
        }
        // The buffer moves into the sink and back (no copy: it stays uniquely referenced).
        var sink = DigitSink()
        swap(&sink.bytes, &bytes)
        value.write(to: &sink)
        swap(&sink.bytes, &bytes)
    }

    /// Appends `true` or `false`.
    @inline(__always)
    public mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    /// Appends any JSON value, keeping key order and integer-ness.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let b): bool(b)
        case .int(let i): integer(i)
        case .double(let d): exactDouble(d)
        case .string(let s): string(s)
        case .array(let a): array(a) { $0.value($1) }
        case .object(let o): object(o)
        }
    }

    /// Appends an object from ordered members.
    public mutating func object(_ members: JSONObject) {
        byte(UInt8(ascii: "{"))
        var first = true
        for (key, member) in members {
            if !first { byte(UInt8(ascii: ",")) }
            first = false
            string(key)
            byte(UInt8(ascii: ":"))
            value(member)
        }
        byte(UInt8(ascii: "}"))
    }

    /// Appends an array, writing each element with `element`.
    @inline(__always)
    public mutating func array<S: Sequence>(_ elements: S, _ element: (inout JSONWriter, S.Element) -> Void) {
        byte(UInt8(ascii: "["))
        var first = true
        for e in elements {
            if !first { byte(UInt8(ascii: ",")) }
            first = false
            element(&self, e)
            flushIfNeeded()
        }
        byte(UInt8(ascii: "]"))
    }

    /// Appends an array of writable values.
    @inline(__always)
    public mutating func array<S: Sequence>(_ elements: S) where S.Element: JSONWritable {
        array(elements) { w, e in e.writeJSON(to: &w) }
    }

    /// Appends an object whose members come from ordered key/value pairs.
    @inline(__always)
    public mutating func map<Value>(_ members: OrderedMap<Value>, _ element: (inout JSONWriter, Value) -> Void) {
        byte(UInt8(ascii: "{"))
        var first = true
        for (key, member) in members {
            if !first { byte(UInt8(ascii: ",")) }
            first = false
            string(key)
            byte(UInt8(ascii: ":"))
            element(&self, member)
        }
        byte(UInt8(ascii: "}"))
    }
}

extension JSONValue: JSONWritable {
    public func writeJSON(to writer: inout JSONWriter) { writer.value(self) }
}

/// Entry points of the fast JSON encoder and decoder.
public enum MHSJSON {
    /// Encodes `value` as compact JSON bytes.
    /// - Throws: ``JSONEncodingError/nonFiniteNumber(count:)`` when NaN or infinity was met.
    public static func encode(_ value: some JSONWritable, reservingCapacity: Int = 1 << 16) throws -> [UInt8] {
        var writer = JSONWriter(reservingCapacity: reservingCapacity)
        value.writeJSON(to: &writer)
        if writer.nonFiniteCount > 0 { throw JSONEncodingError.nonFiniteNumber(count: writer.nonFiniteCount) }
        return writer.bytes
    }

    /// Encodes `value` with NaN and infinities written as `null`, for keeping a body that
    /// breaks the contract where a person can look at it; returns the bytes and how many
    /// numbers were replaced.
    public static func encodeReplacingNonFinite(_ value: some JSONWritable) -> (bytes: [UInt8], replaced: Int) {
        var writer = JSONWriter(reservingCapacity: 1 << 16)
        value.writeJSON(to: &writer)
        return (writer.bytes, writer.nonFiniteCount)
    }

    /// Encodes `value` as a compact JSON string.
    public static func encodeString(_ value: some JSONWritable) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }

    /// Encodes `value` in chunks of about `chunkSize` bytes passed to `sink`, for output
    /// larger than one wants in memory (a file, a request body).
    public static func encode(
        _ value: some JSONWritable, chunkSize: Int = 1 << 20,
        to sink: @escaping (UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        var writer = JSONWriter(chunkSize: chunkSize, sink: sink)
        value.writeJSON(to: &writer)
        try writer.finish()
        if writer.nonFiniteCount > 0 { throw JSONEncodingError.nonFiniteNumber(count: writer.nonFiniteCount) }
    }

    /// Parses JSON bytes and decodes a model type from them, keeping free-form parts intact.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try T(from: JSONValueDecoder(value: try JSONParser.parse(bytes)))
    }

    /// Decodes a model type from an already parsed value.
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: JSONValueDecoder(value: value))
    }
}

/// Receives a number's ASCII digits from the standard library's `TextOutputStreamable`
/// conformance of `Double`, appending them to a byte buffer.
struct DigitSink: TextOutputStream {
    var bytes: [UInt8] = []

    mutating func write(_ string: String) {
        var text = string
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// What `Double.write(to:)` calls with its digits (the protocol's default would make a
    /// `String` of them first).
    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) {
        bytes.append(contentsOf: buffer)
    }
}

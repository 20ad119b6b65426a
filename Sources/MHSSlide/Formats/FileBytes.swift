#if canImport(Glibc)
import Glibc
#endif

/// Why a file's structure could not be read: a number in it points outside the file,
/// asks for more than the file holds, or does not make sense.
public struct MalformedFile: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Bounds-checked reads from an open file. Every offset and count that comes from the file
/// itself goes through here, so none reaches `pread`, an allocation or an `Int` conversion
/// before it has been checked against the file's size.
struct FileBytes: Sendable {
    let fd: Int32
    /// The file's size in bytes.
    let size: UInt64

    /// `fd` stays owned by the caller.
    init(fd: Int32) throws(MalformedFile) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw MalformedFile("cannot stat the file: \(String(cString: strerror(errno)))") }
        self.fd = fd
        size = UInt64(max(st.st_size, 0))
    }

    /// Whether `count` bytes at `offset` lie inside the file.
    func contains(offset: UInt64, count: UInt64) -> Bool {
        offset <= size && count <= size - offset
    }

    /// Reads exactly `count` bytes at `offset`.
    func read(at offset: UInt64, count: UInt64, what: @autoclosure () -> String) throws(MalformedFile) -> [UInt8] {
        guard contains(offset: offset, count: count) else {
            throw MalformedFile("\(what()) (\(count) bytes at offset \(offset)) lies outside the \(size)-byte file")
        }
        if count == 0 { return [] }
        let n = Int(count)
        var got = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
            got = Self.readFully(fd, into: buffer.baseAddress!, count: n, at: offset)
            initialized = got
        }
        guard got == n else { throw MalformedFile("\(what()) could not be read (\(got) of \(n) bytes)") }
        return bytes
    }

    /// `pread` until `count` bytes are in `buffer` or the file ends; returns how many came.
    /// The caller has checked `offset` and `count` against the file (the tile readers do so
    /// when they open it).
    static func readFully(_ fd: Int32, into buffer: UnsafeMutablePointer<UInt8>, count: Int, at offset: UInt64) -> Int {
        var got = 0
        while got < count {
            let r = pread(fd, buffer + got, count - got, off_t(offset + UInt64(got)))
            if r <= 0 { break }
            got += r
        }
        return got
    }
}

/// Little- or big-endian unsigned integers from a byte array.
struct ByteOrder: Sendable, Equatable {
    let little: Bool

    func uint(_ b: [UInt8], _ at: Int, _ width: Int) -> UInt64 {
        var v: UInt64 = 0
        if little {
            for i in stride(from: width - 1, through: 0, by: -1) { v = v << 8 | UInt64(b[at + i]) }
        } else {
            for i in 0..<width { v = v << 8 | UInt64(b[at + i]) }
        }
        return v
    }
    func u16(_ b: [UInt8], _ at: Int) -> UInt64 { uint(b, at, 2) }
    func u32(_ b: [UInt8], _ at: Int) -> UInt64 { uint(b, at, 4) }
    func u64(_ b: [UInt8], _ at: Int) -> UInt64 { uint(b, at, 8) }
}

extension UInt64 {
    /// The value as an `Int` when it is at most `limit`, else nil (never traps).
    func int(atMost limit: Int = Int.max) -> Int? {
        self <= UInt64(limit) ? Int(self) : nil
    }
}

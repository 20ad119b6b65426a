#if canImport(Glibc)
import Glibc
#endif

/// A TIFF file's directories (classic or BigTIFF, either byte order), read with every
/// number checked before use: offsets and counts against the file's size, entry counts
/// against what the file can hold, directory chains against loops. Tag values are read
/// only when asked for, so an absurd count on a tag nobody uses costs nothing.
///
/// Shared by format sniffing (``SlideFormat``) and the direct tile path (``TIFFTileReader``).
struct TIFFStructure: Sendable {
    /// One directory entry as stored: the value field holds the value itself when it fits,
    /// else its offset.
    struct Entry: Sendable, Equatable {
        var tag: UInt16
        var type: UInt16
        var count: UInt64
        var field: [UInt8]
    }

    /// One image file directory.
    struct Directory: Sendable {
        var offset: UInt64
        /// Entries by tag; for a tag given twice, the first (as libtiff, and so OpenSlide, reads it).
        var entries: [UInt16: Entry]
        /// Tags given more than once with different contents.
        var conflicting: Set<UInt16>
    }

    let bytes: FileBytes
    let order: ByteOrder
    let bigTIFF: Bool
    let directories: [Directory]
    /// Why the directory chain stopped early, when it did (directories before it are kept).
    let problem: String?

    /// Pyramids have a dozen directories; more is a loop in disguise or a hostile file.
    static let maximumDirectories = 1024

    /// Reads the header and walks the directory chain. Throws only when not even the first
    /// directory can be read.
    init(fd: Int32) throws(MalformedFile) {
        let bytes = try FileBytes(fd: fd)
        self.bytes = bytes
        let head = try bytes.read(at: 0, count: min(16, bytes.size), what: "the TIFF header")
        guard head.count >= 8, head[0] == head[1], head[0] == 0x49 || head[0] == 0x4D else { throw MalformedFile("not a TIFF file") }
        let order = ByteOrder(little: head[0] == 0x49)
        self.order = order
        let magic = order.u16(head, 2)
        guard magic == 42 || magic == 43 else { throw MalformedFile("TIFF magic number \(magic) is neither 42 nor 43 (BigTIFF)") }
        let big = magic == 43
        bigTIFF = big
        var next: UInt64
        if big {
            guard head.count >= 16 else { throw MalformedFile("the BigTIFF header is truncated") }
            guard order.u16(head, 4) == 8 else { throw MalformedFile("BigTIFF offset size \(order.u16(head, 4)) is not 8") }
            next = order.u64(head, 8)
        } else {
            next = order.u32(head, 4)
        }
        var found: [Directory] = []
        var seen: Set<UInt64> = []
        var problem: String?
        while next != 0 {
            guard !seen.contains(next) else { problem = "the directory chain loops back to offset \(next)"; break }
            guard found.count < Self.maximumDirectories else { problem = "more than \(Self.maximumDirectories) directories"; break }
            seen.insert(next)
            do throws(MalformedFile) {
                let (directory, following) = try Self.directory(at: next, bytes: bytes, order: order, big: big)
                found.append(directory)
                next = following
            } catch {
                if found.isEmpty { throw error }
                problem = "directory \(found.count): \(error)"
                break
            }
        }
        directories = found
        self.problem = problem
    }

    private static func directory(at offset: UInt64, bytes: FileBytes, order: ByteOrder, big: Bool) throws(MalformedFile) -> (Directory, UInt64) {
        let countSize: UInt64 = big ? 8 : 2
        let entrySize: UInt64 = big ? 20 : 12
        let pointerSize: UInt64 = big ? 8 : 4
        let countBytes = try bytes.read(at: offset, count: countSize, what: "the entry count of the directory at \(offset)")
        let count = big ? order.u64(countBytes, 0) : order.u16(countBytes, 0)
        // The entries and the next-directory pointer must fit in the file (this also keeps
        // count × entrySize from overflowing: count ≤ file size).
        guard count <= 65535, bytes.contains(offset: offset + countSize, count: count * entrySize + pointerSize) else {
            throw MalformedFile("the directory at \(offset) claims \(count) entries, more than the file holds")
        }
        let raw = try bytes.read(at: offset + countSize, count: count * entrySize + pointerSize, what: "the directory at \(offset)")
        var entries: [UInt16: Entry] = [:]
        var conflicting: Set<UInt16> = []
        let step = Int(entrySize), fieldSize = big ? 8 : 4
        for i in 0..<Int(count) {
            let at = i * step
            let tag = UInt16(order.u16(raw, at))
            let entry = Entry(
                tag: tag, type: UInt16(order.u16(raw, at + 2)), count: big ? order.u64(raw, at + 4) : order.u32(raw, at + 4),
                field: Array(raw[(at + step - fieldSize)..<(at + step)]))
            if let first = entries[tag] {
                if first != entry { conflicting.insert(tag) }
            } else {
                entries[tag] = entry
            }
        }
        let following = big ? order.u64(raw, Int(count) * step) : order.u32(raw, Int(count) * step)
        return (Directory(offset: offset, entries: entries, conflicting: conflicting), following)
    }

    /// Bytes per value of a TIFF field type; nil for unknown types.
    static func typeSize(_ type: UInt16) -> UInt64? {
        switch type {
        case 1, 2, 6, 7: 1
        case 3, 8: 2
        case 4, 9, 11, 13: 4
        case 5, 10, 12, 16, 17, 18: 8
        default: nil
        }
    }

    /// An entry's raw value bytes, from the entry itself or from where it points; at most
    /// `limit` bytes (the rest is not read).
    func rawValue(_ e: Entry, limit: UInt64 = .max) throws(MalformedFile) -> [UInt8] {
        guard let size = Self.typeSize(e.type) else { throw MalformedFile("tag \(e.tag) has unknown type \(e.type)") }
        let (total, overflow) = e.count.multipliedReportingOverflow(by: size)
        guard !overflow, total <= bytes.size else {
            throw MalformedFile("tag \(e.tag) claims \(e.count) values, more than the \(bytes.size)-byte file holds")
        }
        let wanted = min(total, limit)
        if total <= UInt64(e.field.count) { return Array(e.field.prefix(Int(wanted))) }
        return try bytes.read(at: order.uint(e.field, 0, e.field.count), count: wanted, what: "the values of tag \(e.tag)")
    }

    /// An unsigned integer tag's values (BYTE, SHORT, LONG, LONG8, IFD, IFD8); nil when
    /// absent or of another type.
    func integers(_ d: Directory, _ tag: UInt16) throws(MalformedFile) -> [UInt64]? {
        guard let e = d.entries[tag] else { return nil }
        guard [1, 3, 4, 13, 16, 18].contains(e.type), let size = Self.typeSize(e.type) else { return nil }
        let raw = try rawValue(e)
        let width = Int(size)
        return stride(from: 0, to: raw.count - width + 1, by: width).map { order.uint(raw, $0, width) }
    }

    /// The first value of an unsigned integer tag.
    func integer(_ d: Directory, _ tag: UInt16) throws(MalformedFile) -> UInt64? {
        try integers(d, tag)?.first
    }

    /// An ASCII tag's text up to its first NUL, reading at most `limit` bytes.
    func text(_ d: Directory, _ tag: UInt16, limit: UInt64 = 1 << 16) throws(MalformedFile) -> String? {
        guard let e = d.entries[tag] else { return nil }
        let raw = try rawValue(e, limit: limit)
        return String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A DICOM Part 10 file's data elements, walked far enough to learn what a whole-slide
/// reader needs, with every length checked against the file before it is used: element
/// and item lengths, nesting depth, the pixel data's fragments.
///
/// The file meta group is explicit VR little endian; the data set is too unless the
/// transfer syntax says implicit VR little endian (1.2.840.10008.1.2). Elements inside
/// sequences are stepped over (their attributes are not the instance's).
///
/// Shared by ``DICOMHeader`` (ImageType, series) and the direct frame path
/// (``DICOMFrameReader``).
struct DICOMStructure {
    /// The attributes that matter.
    struct Attributes: Sendable {
        var transferSyntax = ""
        var imageType: [String] = []
        var photometric = ""
        var organisation = ""
        var rows: Int?
        var columns: Int?
        var totalColumns: Int?
        var totalRows: Int?
        var numberOfFrames: Int?
        var seriesUID = ""
        /// Where each encapsulated frame's bytes are (the basic offset table skipped).
        var frames: [(offset: UInt64, length: UInt64)] = []
        /// Whether PixelData was reached.
        var sawPixelData = false
    }

    /// How far to walk.
    enum Depth {
        /// Stop after group 0x0020 (ImageType, SeriesInstanceUID).
        case header
        /// Walk to the pixel data and list its frames.
        case frames
    }

    /// Nested sequences deeper than this are refused.
    static let maximumDepth = 16

    /// Reads the file at `path`; nil when it is not DICOM Part 10.
    static func read(path: String, depth: Depth) throws(MalformedFile) -> Attributes? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw MalformedFile("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = try FileBytes(fd: fd)
        guard bytes.size >= 132, try bytes.read(at: 128, count: 4, what: "the DICM marker") == Array("DICM".utf8) else { return nil }
        var walker = Walker(bytes: bytes, depth: depth)
        try walker.elements(from: 132, until: nil, level: 0)
        return walker.attributes
    }

    /// The element walk over one file.
    struct Walker {
        let bytes: FileBytes
        let depth: Depth
        var attributes = Attributes()
        var explicit = true
        var done = false
        private let order = ByteOrder(little: true)

        init(bytes: FileBytes, depth: Depth) {
            self.bytes = bytes
            self.depth = depth
        }

        static let longVRs: Set<String> = ["OB", "OW", "OF", "SQ", "UT", "UN", "OD", "OL", "OV", "UC", "UR", "SV", "UV"]
        static let undefined: UInt64 = 0xFFFF_FFFF

        /// Reads elements from `start` until `end` (or, with nil, an item delimiter or the
        /// end of the file); returns where it stopped.
        @discardableResult
        mutating func elements(from start: UInt64, until end: UInt64?, level: Int) throws(MalformedFile) -> UInt64 {
            guard level < DICOMStructure.maximumDepth else { throw MalformedFile("sequences nested deeper than \(DICOMStructure.maximumDepth)") }
            var at = start
            while !done, end.map({ at < $0 }) ?? true {
                guard bytes.contains(offset: at, count: 8) else {
                    if end != nil { throw MalformedFile("an item ends past the end of the file at offset \(at)") }
                    return at  // the data set simply ends
                }
                let head = try bytes.read(at: at, count: 8, what: "the element at \(at)")
                let group = order.u16(head, 0), element = order.u16(head, 2)
                if group == 0xFFFE {
                    // Item and delimiter tags carry a 4-byte length and no VR.
                    if element == 0xE00D || element == 0xE0DD { return at + 8 }
                    throw MalformedFile("an unexpected item tag (FFFE,\(String(element, radix: 16))) at offset \(at)")
                }
                let inMeta = group == 0x0002
                var vr = ""
                var length: UInt64
                var valueAt: UInt64
                if inMeta || explicit {
                    vr = String(decoding: head[4..<6], as: UTF8.self)
                    if Self.longVRs.contains(vr) {
                        length = order.u32(try bytes.read(at: at + 8, count: 4, what: "the length of the element at \(at)"), 0)
                        valueAt = at + 12
                    } else {
                        length = order.u16(head, 6)
                        valueAt = at + 8
                    }
                } else {
                    length = order.u32(head, 4)
                    valueAt = at + 8
                }
                if !inMeta, level == 0, depth == .header, group > 0x0020 { done = true; break }
                if group == 0x7FE0, element == 0x0010, level == 0 {
                    attributes.sawPixelData = true
                    if length == Self.undefined, depth == .frames { attributes.frames = try fragments(from: valueAt) }
                    done = true
                    break
                }
                if vr == "SQ" || length == Self.undefined {
                    at = try sequence(from: valueAt, length: length, level: level + 1)
                    continue
                }
                guard bytes.contains(offset: valueAt, count: length) else {
                    throw MalformedFile("element (\(hex(group)),\(hex(element))) at offset \(at) claims \(length) bytes, past the end of the \(bytes.size)-byte file")
                }
                if level == 0, group <= 0x0048, length <= 4096 {
                    record(group, element, try bytes.read(at: valueAt, count: length, what: "element (\(hex(group)),\(hex(element)))"))
                }
                at = valueAt + length
            }
            return at
        }

        /// Steps over a sequence; returns the offset after it.
        mutating func sequence(from start: UInt64, length: UInt64, level: Int) throws(MalformedFile) -> UInt64 {
            if length != Self.undefined {
                guard bytes.contains(offset: start, count: length) else {
                    throw MalformedFile("a sequence at offset \(start) claims \(length) bytes, past the end of the file")
                }
                return start + length
            }
            var at = start
            while true {
                let head = try bytes.read(at: at, count: 8, what: "a sequence item at \(at)")
                let group = order.u16(head, 0), element = order.u16(head, 2), itemLength = order.u32(head, 4)
                guard group == 0xFFFE else { throw MalformedFile("a sequence at offset \(start) has no item tag at \(at)") }
                if element == 0xE0DD { return at + 8 }  // sequence delimiter
                guard element == 0xE000 else { throw MalformedFile("an unexpected tag (FFFE,\(hex(element))) in a sequence at \(at)") }
                if itemLength == Self.undefined {
                    var nested = Walker(bytes: bytes, depth: depth)  // attributes inside sequences are not the instance's
                    nested.explicit = explicit
                    at = try nested.elements(from: at + 8, until: nil, level: level)
                } else {
                    guard bytes.contains(offset: at + 8, count: itemLength) else {
                        throw MalformedFile("a sequence item at offset \(at) claims \(itemLength) bytes, past the end of the file")
                    }
                    at = at + 8 + itemLength
                }
            }
        }

        /// Encapsulated pixel data: the basic offset table item, then one item per fragment.
        func fragments(from start: UInt64) throws(MalformedFile) -> [(offset: UInt64, length: UInt64)] {
            var at = start
            var list: [(UInt64, UInt64)] = []
            var first = true
            while true {
                let head = try bytes.read(at: at, count: 8, what: "a pixel data item at \(at)")
                let element = order.u16(head, 2), length = order.u32(head, 4)
                guard order.u16(head, 0) == 0xFFFE else { throw MalformedFile("the pixel data has no item tag at offset \(at)") }
                if element == 0xE0DD { break }
                guard element == 0xE000 else { throw MalformedFile("an unexpected tag (FFFE,\(hex(element))) in the pixel data at \(at)") }
                guard bytes.contains(offset: at + 8, count: length) else {
                    throw MalformedFile("a pixel data fragment at offset \(at) claims \(length) bytes, past the end of the \(bytes.size)-byte file")
                }
                if !first { list.append((at + 8, length)) }
                first = false
                at += 8 + length
            }
            return list
        }

        mutating func record(_ group: UInt64, _ element: UInt64, _ value: [UInt8]) {
            func text() -> String { String(decoding: value, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: " \0")) }
            switch (group, element) {
            case (0x0002, 0x0010):
                attributes.transferSyntax = text()
                explicit = attributes.transferSyntax != "1.2.840.10008.1.2"
            case (0x0008, 0x0008): attributes.imageType = text().split(separator: "\\").map(String.init)
            case (0x0028, 0x0004): attributes.photometric = text()
            case (0x0028, 0x0008): attributes.numberOfFrames = Int(text())
            case (0x0028, 0x0010) where value.count >= 2: attributes.rows = Int(order.u16(value, 0))
            case (0x0028, 0x0011) where value.count >= 2: attributes.columns = Int(order.u16(value, 0))
            case (0x0048, 0x0006) where value.count >= 4: attributes.totalColumns = Int(order.u32(value, 0))
            case (0x0048, 0x0007) where value.count >= 4: attributes.totalRows = Int(order.u32(value, 0))
            case (0x0020, 0x9311): attributes.organisation = text()
            case (0x0020, 0x000E): attributes.seriesUID = text()
            default: break
            }
        }

        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, 4 - s.count)) + s
        }
    }
}

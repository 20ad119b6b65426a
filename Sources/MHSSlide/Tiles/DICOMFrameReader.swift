import Foundation
import MHSImaging

/// One VOLUME instance of a DICOM WSI series: a pyramid level stored as JPEG frames.
struct DICOMLevel: Sendable {
    var path: String
    var width: Int
    var height: Int
    var tileWidth: Int
    var tileHeight: Int
    /// Where each frame's JPEG bytes are, in TILED_FULL order (row by row).
    var frames: [(offset: UInt64, length: Int)]
    var photometric: String

    var tilesAcross: Int { (width + tileWidth - 1) / tileWidth }
    var tilesDown: Int { (height + tileHeight - 1) / tileHeight }
}

/// Reads JPEG frames straight out of a DICOM WSI series (JPEG baseline, TILED_FULL) and
/// decodes them with libturbojpeg, like ``TIFFTileReader`` does for TIFF.
///
/// Colour policy: a frame's own JPEG markers decide (JFIF → YCbCr, Adobe transform 0 →
/// RGB); PhotometricInterpretation counts only when the markers are silent. Series whose
/// frames say JFIF while the attribute says RGB (wsi2dcm 2021, wsidicomizer's generated
/// levels) therefore show true H&E colours here, where OpenSlide 4.0.1 follows the
/// attribute and shows salmon backgrounds. Reads through OpenSlide keep OpenSlide's colours.
public final class DICOMFrameReader: DirectTiles {
    let levels: [DICOMLevel]
    private let files: [String: Int32]
    private let decoders = DecoderPool()

    private init(levels: [DICOMLevel], files: [String: Int32]) {
        self.levels = levels
        self.files = files
    }

    deinit { for fd in files.values { close(fd) } }

    /// Opens the series `slideFile` belongs to (every `.dcm`-like file of its folder) and
    /// matches VOLUME instances to OpenSlide's `levels` by size; nil when a level is not
    /// JPEG baseline TILED_FULL with one fragment per frame.
    public static func open(slideFile: String, expecting levels: [SlideLevel]) -> DICOMFrameReader? {
        let folder = (slideFile as NSString).deletingLastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
        // Only instances of the opened file's series: a folder may hold several series.
        guard let series = DICOMInstanceParser.attributes(path: slideFile)?.seriesUID, !series.isEmpty else { return nil }
        var instances: [DICOMLevel] = []
        for name in names.sorted() {
            let path = (folder.isEmpty ? "" : folder + "/") + name
            guard let a = DICOMInstanceParser.attributes(path: path), a.seriesUID == series,
                let level = DICOMInstanceParser.level(a, path: path)
            else { continue }
            instances.append(level)
        }
        var matched: [DICOMLevel] = []
        var files: [String: Int32] = [:]
        for level in levels {
            guard let instance = instances.first(where: { $0.width == level.width && $0.height == level.height }) else {
                for fd in files.values { close(fd) }
                return nil
            }
            if files[instance.path] == nil {
                let fd = Glibc.open(instance.path, O_RDONLY)
                guard fd >= 0 else {
                    for fd in files.values { close(fd) }
                    return nil
                }
                files[instance.path] = fd
            }
            matched.append(instance)
        }
        return DICOMFrameReader(levels: matched, files: files)
    }

    public func tileSize(level: Int) -> (width: Int, height: Int) { (levels[level].tileWidth, levels[level].tileHeight) }
    public func tileGrid(level: Int) -> (columns: Int, rows: Int) { (levels[level].tilesAcross, levels[level].tilesDown) }

    /// The JPEG stream of one frame, with an Adobe RGB marker added only when the frame has
    /// no colour marker and the attribute says RGB.
    public func jpegStream(level: Int, column: Int, row: Int) throws(SlideError) -> [UInt8] {
        let l = levels[level]
        let index = row * l.tilesAcross + column
        guard index < l.frames.count, let fd = files[l.path] else {
            throw .invalidRequest(path: l.path, message: "frame \(column),\(row) of level \(level) is not in the file")
        }
        let (offset, length) = l.frames[index]
        var n = 0
        var stream = [UInt8](unsafeUninitializedCapacity: length + 16) { buffer, initialized in
            n = pread(fd, buffer.baseAddress!, length, off_t(offset))
            initialized = max(n, 0)
        }
        guard n == length, length >= 4 else {
            throw .openslideFailed(path: l.path, message: "frame \(column),\(row) of level \(level) is truncated (\(n) of \(length) bytes)")
        }
        // Fragments may carry a trailing pad byte after EOI; libjpeg-turbo ignores it.
        if l.photometric == "RGB", !JPEGStream.hasColourMarker(stream) { JPEGStream.insertAdobeRGB(&stream) }
        return stream
    }

    /// Reads a region as straight RGBA (transparent outside the level).
    public func readRegion(x: Int, y: Int, level: Int, width: Int, height: Int, downsample: Double) throws(SlideError) -> RGBAImage {
        let l = levels[level]
        let lx = Int((Double(x) / downsample).rounded(.down)), ly = Int((Double(y) / downsample).rounded(.down))
        let decoder = try decoders.take()
        defer { decoders.give(decoder) }
        let layout = TileLayout(width: l.width, height: l.height, tileWidth: l.tileWidth, tileHeight: l.tileHeight)
        return try composeRegion(layout, lx: lx, ly: ly, width: width, height: height) { (c, r) throws(SlideError) in
            let stream = try jpegStream(level: level, column: c, row: r)
            do {
                return try decoder.decode(stream, width: l.tileWidth, height: l.tileHeight)
            } catch {
                throw .openslideFailed(path: l.path, message: "frame \(c),\(r) of level \(level): \(error)")
            }
        }
    }
}

/// Walks a DICOM Part 10 file's elements (explicit VR little endian) far enough to find
/// the attributes of a tiled JPEG WSI instance and where each frame's bytes are.
enum DICOMInstanceParser {
    /// The attributes that matter, or nil when the file is not DICOM or cannot be walked.
    static func attributes(path: String) -> Attributes? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var reader = Reader(handle: handle)
        guard (try? reader.bytes(at: 128, count: 4)) == Array("DICM".utf8) else { return nil }
        var attributes = Attributes()
        do {
            try reader.elements(from: 132, until: nil, into: &attributes, depth: 0)
        } catch {
            return nil
        }
        return attributes
    }

    static func parse(path: String) -> DICOMLevel? {
        guard let attributes = attributes(path: path) else { return nil }
        return level(attributes, path: path)
    }

    static func level(_ attributes: Attributes, path: String) -> DICOMLevel? {
        guard attributes.transferSyntax == "1.2.840.10008.1.2.4.50", attributes.imageType.count >= 3,
            attributes.imageType[2] == "VOLUME", attributes.organisation != "TILED_SPARSE",
            let rows = attributes.rows, let columns = attributes.columns, let total = attributes.totalColumns,
            let totalRows = attributes.totalRows, attributes.frames.count == (attributes.numberOfFrames ?? attributes.frames.count),
            !attributes.frames.isEmpty
        else { return nil }
        let level = DICOMLevel(
            path: path, width: total, height: totalRows, tileWidth: columns, tileHeight: rows, frames: attributes.frames,
            photometric: attributes.photometric)
        guard level.frames.count >= level.tilesAcross * level.tilesDown else { return nil }
        return level
    }

    struct Attributes {
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
        var frames: [(offset: UInt64, length: Int)] = []
    }

    struct Malformed: Error {}

    struct Reader {
        let handle: FileHandle

        func bytes(at offset: UInt64, count: Int) throws -> [UInt8] {
            if count == 0 { return [] }  // read(upToCount: 0) answers nil, not empty
            try handle.seek(toOffset: offset)
            guard let data = try handle.read(upToCount: count), data.count == count else { throw Malformed() }
            return Array(data)
        }

        func u16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func u32(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(u16(b, i)) | UInt64(u16(b, i + 2)) << 16 }

        static let longVRs: Set<String> = ["OB", "OW", "OF", "SQ", "UT", "UN", "OD", "OL", "OV", "UC", "UR", "SV", "UV"]

        /// Reads elements from `start` until `end` (or an item delimiter when nil inside an
        /// undefined-length item); returns where it stopped.
        @discardableResult
        mutating func elements(from start: UInt64, until end: UInt64?, into a: inout Attributes, depth: Int) throws -> UInt64 {
            guard depth < 16 else { throw Malformed() }
            var at = start
            while end == nil || at < end! {
                guard let head = try? bytes(at: at, count: 8) else { return at }
                let group = u16(head, 0), element = u16(head, 2)
                if group == 0xFFFE {
                    // Item / delimiter tags inside sequences carry a 4-byte length and no VR.
                    if element == 0xE00D || element == 0xE0DD { return at + 8 }
                    throw Malformed()
                }
                let vr = String(decoding: head[4..<6], as: UTF8.self)
                var length: UInt64
                var valueAt: UInt64
                if Self.longVRs.contains(vr) {
                    length = u32(try bytes(at: at + 8, count: 4), 0)
                    valueAt = at + 12
                } else {
                    length = UInt64(u16(head, 6))
                    valueAt = at + 8
                }
                if group == 0x7FE0, element == 0x0010 {
                    guard length == 0xFFFF_FFFF else { throw Malformed() }  // native pixels: not JPEG frames
                    a.frames = try fragments(from: valueAt)
                    return valueAt
                }
                if vr == "SQ" || length == 0xFFFF_FFFF {
                    at = try skipSequence(from: valueAt, length: length, into: &a, depth: depth + 1)
                    continue
                }
                if group <= 0x0048, length <= 4096 {
                    let value = try bytes(at: valueAt, count: Int(length))
                    record(group, element, vr, value, into: &a)
                }
                at = valueAt + length
            }
            return at
        }

        mutating func skipSequence(from start: UInt64, length: UInt64, into a: inout Attributes, depth: Int) throws -> UInt64 {
            if length != 0xFFFF_FFFF { return start + length }
            var at = start
            while true {
                let head = try bytes(at: at, count: 8)
                let group = u16(head, 0), element = u16(head, 2), itemLength = u32(head, 4)
                guard group == 0xFFFE else { throw Malformed() }
                if element == 0xE0DD { return at + 8 }  // sequence delimiter
                guard element == 0xE000 else { throw Malformed() }
                if itemLength == 0xFFFF_FFFF {
                    var nested = Attributes()  // attributes inside sequences are not the instance's
                    at = try elements(from: at + 8, until: nil, into: &nested, depth: depth)
                } else {
                    at = at + 8 + itemLength
                }
            }
        }

        /// Encapsulated pixel data: the offset table item, then one item per fragment.
        func fragments(from start: UInt64) throws -> [(offset: UInt64, length: Int)] {
            var at = start
            var list: [(UInt64, Int)] = []
            var first = true
            while true {
                let head = try bytes(at: at, count: 8)
                let element = u16(head, 2), length = u32(head, 4)
                guard u16(head, 0) == 0xFFFE else { throw Malformed() }
                if element == 0xE0DD { break }
                guard element == 0xE000 else { throw Malformed() }
                if !first { list.append((at + 8, Int(length))) }
                first = false
                at += 8 + length
            }
            return list
        }

        func record(_ group: Int, _ element: Int, _ vr: String, _ value: [UInt8], into a: inout Attributes) {
            func text() -> String { String(decoding: value, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: " \0")) }
            switch (group, element) {
            case (0x0002, 0x0010): a.transferSyntax = text()
            case (0x0008, 0x0008): a.imageType = text().split(separator: "\\").map(String.init)
            case (0x0028, 0x0004): a.photometric = text()
            case (0x0028, 0x0008): a.numberOfFrames = Int(text())
            case (0x0028, 0x0010) where value.count >= 2: a.rows = u16(value, 0)
            case (0x0028, 0x0011) where value.count >= 2: a.columns = u16(value, 0)
            case (0x0048, 0x0006) where value.count >= 4: a.totalColumns = Int(u32(value, 0))
            case (0x0048, 0x0007) where value.count >= 4: a.totalRows = Int(u32(value, 0))
            case (0x0020, 0x9311): a.organisation = text()
            case (0x0020, 0x000E): a.seriesUID = text()
            default: break
            }
        }
    }
}

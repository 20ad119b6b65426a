import CTurboJPEG
import MHSImaging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A slide's JPEG tiles or frames, read and decoded without OpenSlide.
public protocol DirectTiles: Sendable {
    /// Reads a region as straight RGBA (`x`, `y` in level-0 pixels, size in level pixels).
    func readRegion(x: Int, y: Int, level: Int, width: Int, height: Int, downsample: Double) throws(SlideError) -> RGBAImage
    /// Tile size of a level.
    func tileSize(level: Int) -> (width: Int, height: Int)
    /// Tiles across and down a level.
    func tileGrid(level: Int) -> (columns: Int, rows: Int)
    /// One tile's complete JPEG stream, as the decoder gets it.
    func jpegStream(level: Int, column: Int, row: Int) throws(SlideError) -> [UInt8]
}

/// The shape of one level's tile grid.
struct TileLayout {
    var width: Int
    var height: Int
    var tileWidth: Int
    var tileHeight: Int
    var tilesAcross: Int { (width + tileWidth - 1) / tileWidth }
    var tilesDown: Int { (height + tileHeight - 1) / tileHeight }
}

/// Assembles a region of a level (`lx`, `ly` in level pixels) from its decoded tiles, the
/// way OpenSlide paints it: transparent outside the level. A region that is exactly one
/// whole tile is returned as decoded, without a copy.
func composeRegion(
    _ layout: TileLayout, lx: Int, ly: Int, width: Int, height: Int, decode: (_ column: Int, _ row: Int) throws(SlideError) -> RGBAImage
) throws(SlideError) -> RGBAImage {
    let l = layout
    if lx >= 0, ly >= 0, lx % l.tileWidth == 0, ly % l.tileHeight == 0, width == l.tileWidth, height == l.tileHeight,
        lx + width <= l.width, ly + height <= l.height
    {
        return try decode(lx / l.tileWidth, ly / l.tileHeight)
    }
    var out = RGBAImage(width: width, height: height, fill: RGBA(0, 0, 0, 0))
    let firstCol = max(0, lx / l.tileWidth), lastCol = min(l.tilesAcross - 1, (lx + width - 1) / l.tileWidth)
    let firstRow = max(0, ly / l.tileHeight), lastRow = min(l.tilesDown - 1, (ly + height - 1) / l.tileHeight)
    guard firstCol <= lastCol, firstRow <= lastRow, lx + width > 0, ly + height > 0 else { return out }
    for row in firstRow...lastRow {
        for col in firstCol...lastCol {
            let tile = try decode(col, row)
            // Copy the part of the tile inside both the region and the level.
            let tx0 = col * l.tileWidth, ty0 = row * l.tileHeight
            let x0 = max(tx0, lx), x1 = min(tx0 + l.tileWidth, lx + width, l.width)
            let y0 = max(ty0, ly), y1 = min(ty0 + l.tileHeight, ly + height, l.height)
            guard x0 < x1, y0 < y1 else { continue }
            tile.pixels.withUnsafeBufferPointer { src in
                out.pixels.withUnsafeMutableBufferPointer { dst in
                    for yy in y0..<y1 {
                        let s = ((yy - ty0) * l.tileWidth + (x0 - tx0)) * 4
                        let d = ((yy - ly) * width + (x0 - lx)) * 4
                        dst.baseAddress!.advanced(by: d).update(from: src.baseAddress!.advanced(by: s), count: (x1 - x0) * 4)
                    }
                }
            }
        }
    }
    return out
}

/// One tiled, JPEG-compressed TIFF directory (a pyramid level) as stored in the file.
struct TIFFLevel: Sendable {
    var width: Int
    var height: Int
    var tileWidth: Int
    var tileHeight: Int
    var offsets: [UInt64]
    var byteCounts: [UInt64]
    /// Shared Huffman/quantisation tables (TIFF tag 347), SOI…EOI, when present.
    var jpegTables: [UInt8]?
    /// PhotometricInterpretation: 2 RGB, 6 YCbCr.
    var photometric: Int

    var tilesAcross: Int { (width + tileWidth - 1) / tileWidth }
    var tilesDown: Int { (height + tileHeight - 1) / tileHeight }
}

/// Reads JPEG tiles straight out of a TIFF (classic or BigTIFF) and decodes them with
/// libturbojpeg — the direct path that skips OpenSlide's compositing.
///
/// Covers tiled, JPEG-compressed (compression 7), chunky 8-bit RGB/YCbCr directories, as
/// Aperio SVS and most generic pyramidal TIFFs store them; ``open(path:expecting:)`` returns
/// nil for anything else, and callers use OpenSlide. Aperio tiles hold RGB without a JFIF
/// or Adobe marker; an Adobe APP14 marker with transform 0 is inserted so libjpeg-turbo
/// keeps them as RGB. Safe to use from several tasks: reads use `pread`, each decode its
/// own TurboJPEG handle.
public final class TIFFTileReader: DirectTiles {
    let path: String
    let fd: Int32
    let levels: [TIFFLevel]
    /// Idle TurboJPEG decompressors, reused across reads.
    private let decoders = DecoderPool()

    private init(path: String, fd: Int32, levels: [TIFFLevel]) {
        self.path = path
        self.fd = fd
        self.levels = levels
    }

    deinit { close(fd) }

    /// Opens `path` and matches its tiled JPEG directories to OpenSlide's `levels` (by
    /// size); nil when any level cannot be served directly.
    public static func open(path: String, expecting levels: [SlideLevel]) -> TIFFTileReader? {
        let fd = Glibc.open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        guard let directories = try? TIFFParser(fd: fd).tiledJPEGDirectories() else {
            close(fd)
            return nil
        }
        var matched: [TIFFLevel] = []
        for level in levels {
            guard let d = directories.first(where: { $0.width == level.width && $0.height == level.height }) else {
                close(fd)
                return nil
            }
            matched.append(d)
        }
        return TIFFTileReader(path: path, fd: fd, levels: matched)
    }

    /// Tile size of a level.
    public func tileSize(level: Int) -> (width: Int, height: Int) { (levels[level].tileWidth, levels[level].tileHeight) }

    /// Reads a region as straight RGBA, the same pixels OpenSlide's `read_region` gives
    /// (transparent outside the level).
    /// - Parameters: `x`, `y` in level-0 pixels (as OpenSlide), the size in level pixels.
    public func readRegion(x: Int, y: Int, level: Int, width: Int, height: Int, downsample: Double) throws(SlideError) -> RGBAImage {
        let l = levels[level]
        // Level-0 → level coordinates the way OpenSlide does it (floor division).
        let lx = Int((Double(x) / downsample).rounded(.down))
        let ly = Int((Double(y) / downsample).rounded(.down))
        let decoder = try decoders.take()
        defer { decoders.give(decoder) }
        let layout = TileLayout(width: l.width, height: l.height, tileWidth: l.tileWidth, tileHeight: l.tileHeight)
        return try composeRegion(layout, lx: lx, ly: ly, width: width, height: height) { (c, r) throws(SlideError) in
            try decodeTile(level: level, column: c, row: r, decoder: decoder)
        }
    }

    /// Number of tiles across and down a level.
    public func tileGrid(level: Int) -> (columns: Int, rows: Int) { (levels[level].tilesAcross, levels[level].tilesDown) }

    /// The raw JPEG stream of one tile, tables merged and colour marker set: what the
    /// decoder gets (public for the decode-limit benchmark).
    public func jpegStream(level: Int, column: Int, row: Int) throws(SlideError) -> [UInt8] {
        let l = levels[level]
        let index = row * l.tilesAcross + column
        guard index < l.offsets.count else { throw .invalidRequest(path: path, message: "tile \(column),\(row) of level \(level) is not in the file") }
        let count = Int(l.byteCounts[index])
        // Read the tile straight behind the shared tables (minus their EOI) and an Adobe
        // marker slot, so the stream is assembled without extra copies.
        var tables = l.jpegTables ?? []
        if tables.suffix(2) == [0xFF, 0xD9] { tables.removeLast(2) }
        let prefix = tables.count
        var n = 0
        var stream = [UInt8](unsafeUninitializedCapacity: prefix + count + 16) { buffer, initialized in
            for i in 0..<prefix { buffer[i] = tables[i] }
            n = pread(fd, buffer.baseAddress! + prefix, count, off_t(l.offsets[index]))
            initialized = prefix + max(n, 0)
        }
        guard n == count, count >= 4 else {
            throw .openslideFailed(path: path, message: "tile \(column),\(row) of level \(level) is truncated (\(n) of \(count) bytes)")
        }
        if prefix > 0 {
            // Tables present: drop the tile's own SOI (the tables start with one).
            if stream[prefix] == 0xFF, stream[prefix + 1] == 0xD8 { stream.removeSubrange(prefix..<(prefix + 2)) }
        }
        if l.photometric == 2, !JPEGStream.hasColourMarker(stream) { JPEGStream.insertAdobeRGB(&stream) }
        return stream
    }

    /// A whole tile, decoded to RGBA (tile-sized, even at the edges).
    func decodeTile(level: Int, column: Int, row: Int, decoder: JPEGDecoder) throws(SlideError) -> RGBAImage {
        let l = levels[level]
        let stream = try jpegStream(level: level, column: column, row: row)
        do {
            return try decoder.decode(stream, width: l.tileWidth, height: l.tileHeight)
        } catch {
            throw .openslideFailed(path: path, message: "tile \(column),\(row) of level \(level): \(error)")
        }
    }
}

/// Helpers for the JPEG streams of TIFF tiles.
enum JPEGStream {
    /// Adobe APP14, transform 0: the components are RGB, not YCbCr.
    static func insertAdobeRGB(_ body: inout [UInt8]) {
        let app14: [UInt8] = [0xFF, 0xEE, 0x00, 0x0E, 0x41, 0x64, 0x6F, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00]
        body.insert(contentsOf: app14, at: 2)
    }

    /// Whether the stream already says its colour space (JFIF APP0 or Adobe APP14).
    static func hasColourMarker(_ b: [UInt8]) -> Bool {
        var i = 2
        while i + 4 <= b.count, b[i] == 0xFF {
            let marker = b[i + 1]
            if marker == 0xDA { return false }  // start of scan: no marker before it
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            if marker == 0xE0, i + 8 < b.count, Array(b[(i + 4)..<(i + 8)]) == Array("JFIF".utf8) { return true }
            if marker == 0xEE, i + 9 < b.count, Array(b[(i + 4)..<(i + 9)]) == Array("Adobe".utf8) { return true }
            i += 2 + length
        }
        return false
    }
}

/// Reusable decompressors; each is used by one read at a time.
final class DecoderPool: Sendable {
    private let idle = Mutex<[JPEGDecoder]>([])

    func take() throws(SlideError) -> JPEGDecoder {
        if let d = idle.withLock({ $0.popLast() }) { return d }
        return try JPEGDecoder()
    }

    func give(_ d: JPEGDecoder) { idle.withLock { if $0.count < 64 { $0.append(d) } } }
}

/// libturbojpeg decompression to RGBA. A decoder must be used by one caller at a time
/// (the reader's pool hands each out exclusively); that is why it may cross tasks.
public final class JPEGDecoder: @unchecked Sendable {
    private let handle: tjhandle

    public init() throws(SlideError) {
        guard let h = tjInitDecompress() else { throw .invalidRequest(path: "-", message: "libturbojpeg cannot start") }
        handle = h
    }

    deinit { tjDestroy(handle) }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Decodes a JPEG stream to RGBA, padded to `width` x `height` when smaller.
    public func decode(_ jpeg: [UInt8], width: Int, height: Int) throws -> RGBAImage {
        var w: Int32 = 0, h: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = jpeg.withUnsafeBufferPointer { tjDecompressHeader3(handle, $0.baseAddress, UInt(jpeg.count), &w, &h, &subsampling, &colorspace) }
        guard header == 0 else { throw Failure(description: String(cString: tjGetErrorStr2(handle))) }
        var code: Int32 = 0
        // Uninitialised: the decoder writes every byte (or fails, and the array is dropped).
        let pixels = [UInt8](unsafeUninitializedCapacity: Int(w) * Int(h) * 4) { buffer, count in
            code = jpeg.withUnsafeBufferPointer { src in
                tjDecompress2(handle, src.baseAddress, UInt(jpeg.count), buffer.baseAddress, w, 0, h, Int32(TJPF_RGBA.rawValue), 0)
            }
            count = buffer.count
        }
        guard code == 0 else { throw Failure(description: String(cString: tjGetErrorStr2(handle))) }
        var image = RGBAImage(width: Int(w), height: Int(h), pixels: pixels)
        if Int(w) != width || Int(h) != height {
            // A tile stored smaller than the tile size (rare): pad transparently.
            var padded = RGBAImage(width: width, height: height, fill: RGBA(0, 0, 0, 0))
            for y in 0..<min(height, Int(h)) { for x in 0..<min(width, Int(w)) { padded[x, y] = image[x, y] } }
            image = padded
        }
        return image
    }
}

/// Walks a TIFF's directories and keeps the tiled, JPEG-compressed, 8-bit RGB/YCbCr ones.
struct TIFFParser {
    let fd: Int32

    struct Malformed: Error {}

    private func read(_ offset: UInt64, _ count: Int) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: count)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        guard n == count else { throw Malformed() }
        return buf
    }

    func tiledJPEGDirectories() throws -> [TIFFLevel] {
        let header = try read(0, 16)
        let little = header[0] == 0x49
        guard little || header[0] == 0x4D else { throw Malformed() }
        func uint(_ b: ArraySlice<UInt8>) -> UInt64 {
            var v: UInt64 = 0
            for (i, byte) in (little ? Array(b) : b.reversed()).enumerated() { v |= UInt64(byte) << (8 * UInt64(i)) }
            return v
        }
        let big = uint(header[2..<4]) == 43
        var next = big ? uint(header[8..<16]) : uint(header[4..<8])
        var result: [TIFFLevel] = []
        var seen = Set<UInt64>()
        let typeSizes: [UInt64: Int] = [1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 16: 8]
        while next != 0, !seen.contains(next), seen.count < 64 {
            seen.insert(next)
            let countBytes = try read(next, big ? 8 : 2)
            let count = Int(uint(countBytes[...]))
            let entrySize = big ? 20 : 12
            let entries = try read(next + UInt64(countBytes.count), count * entrySize)
            var tags: [Int: [UInt64]] = [:]
            var tables: [UInt8]?
            for i in 0..<count {
                let e = entries[(i * entrySize)..<((i + 1) * entrySize)]
                let b = e.startIndex
                let tag = Int(uint(e[b..<(b + 2)]))
                let type = uint(e[(b + 2)..<(b + 4)])
                let n = Int(big ? uint(e[(b + 4)..<(b + 12)]) : uint(e[(b + 4)..<(b + 8)]))
                guard let size = typeSizes[type] else { continue }
                let inlineRoom = big ? 8 : 4
                let valueStart = b + (big ? 12 : 8)
                let raw: [UInt8] = n * size <= inlineRoom
                    ? Array(e[valueStart..<(valueStart + n * size)])
                    : try read(uint(e[valueStart..<(valueStart + inlineRoom)]), n * size)
                if tag == 347 {
                    tables = raw
                    continue
                }
                guard [256, 257, 258, 259, 262, 277, 284, 322, 323, 324, 325].contains(tag) else { continue }
                tags[tag] = stride(from: 0, to: raw.count, by: size).map { uint(raw[$0..<($0 + size)]) }
            }
            next = try {
                let at = next + UInt64(countBytes.count) + UInt64(count * entrySize)
                let bytes = try read(at, big ? 8 : 4)
                return uint(bytes[...])
            }()
            guard let w = tags[256]?.first, let h = tags[257]?.first, let tw = tags[322]?.first, let th = tags[323]?.first,
                let offsets = tags[324], let counts = tags[325], tags[259]?.first == 7, (tags[277]?.first ?? 1) == 3,
                (tags[284]?.first ?? 1) == 1, (tags[258] ?? [8]).allSatisfy({ $0 == 8 }), offsets.count == counts.count
            else { continue }
            let photometric = Int(tags[262]?.first ?? 6)
            guard photometric == 2 || photometric == 6 else { continue }
            result.append(
                TIFFLevel(
                    width: Int(w), height: Int(h), tileWidth: Int(tw), tileHeight: Int(th), offsets: offsets, byteCounts: counts,
                    jpegTables: tables, photometric: photometric))
        }
        return result
    }
}

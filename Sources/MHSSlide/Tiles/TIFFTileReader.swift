import CTurboJPEG
import DequeModule
import Dispatch
import MHSDynamicLibrary
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

extension DirectTiles {
    /// A whole level decoded at 1/`scale` (2, 4 or 8) in the DCT domain and assembled: an
    /// image of ceil(width / scale) x ceil(height / scale). Nil when the level's tiles are
    /// not a multiple of `scale` (the pieces would not line up).
    ///
    /// Rows of tiles are shared among `threads` decoders, each decoding into its own reusable
    /// tile buffer and copying into rows of the level no other decoder touches.
    public func scaledLevel(_ level: Int, width: Int, height: Int, scale: Int, threads: Int = Processors.online) throws(SlideError) -> RGBAImage? {
        let tile = tileSize(level: level), grid = tileGrid(level: level)
        guard [2, 4, 8].contains(scale), tile.width % scale == 0, tile.height % scale == 0 else { return nil }
        let (tw, th) = (tile.width / scale, tile.height / scale)
        let (ow, oh) = ((width + scale - 1) / scale, (height + scale - 1) / scale)
        guard grid.columns * tw >= ow, grid.rows * th >= oh else { return nil }
        let rows = min(grid.rows, (oh + th - 1) / th), columns = min(grid.columns, (ow + tw - 1) / tw)
        let workers = max(1, min(threads, rows))
        let failures = Mutex<[Int: SlideError]>([:])
        // Zero is transparent black: what a tile stored smaller than the grid leaves uncovered.
        var pixels = [UInt8](repeating: 0, count: ow * oh * 4)
        pixels.withUnsafeMutableBufferPointer { out in
            let level0 = DisjointRows(base: out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let destination = level0.base
                let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: tw * th * 4)
                defer { scratch.deallocate() }
                do throws(SlideError) {
                    let decoder = try JPEGDecoder()
                    for row in stride(from: worker, to: rows, by: workers) {
                        for column in 0..<columns {
                            let (x0, y0) = (column * tw, row * th)
                            let stream = try jpegStream(level: level, column: column, row: row)
                            let decoded: (width: Int, height: Int)
                            do {
                                decoded = try decoder.decode(stream, into: scratch, width: tile.width, height: tile.height, scale: scale)
                            } catch {
                                throw .openslideFailed(path: "-", message: "tile \(column),\(row) of level \(level) at 1/\(scale): \(error)")
                            }
                            let copyWidth = min(decoded.width, ow - x0)
                            for y in 0..<min(decoded.height, oh - y0) {
                                (destination + ((y0 + y) * ow + x0) * 4).update(from: scratch + y * decoded.width * 4, count: copyWidth * 4)
                            }
                        }
                    }
                } catch {
                    failures.withLock { $0[worker] = error }
                }
            }
        }
        // The first failing worker's error, so the message does not depend on timing more than it must.
        if let first = failures.withLock({ $0.min { $0.key < $1.key }?.value }) { throw first }
        return RGBAImage(width: ow, height: oh, pixels: pixels)
    }
}

extension DirectTiles {
    /// A region of a level (`x`, `y` in level-0 pixels, `width` x `height` in level pixels)
    /// decoded at 1/`scale` (2, 4 or 8) in the DCT domain: ceil(width / scale) x
    /// ceil(height / scale) pixels, each the decoder's own reduction of `scale` x `scale` level
    /// pixels (libjpeg-turbo's scaled IDCT, several times faster than a full decode and area
    /// averaging afterwards). A region whose origin is not on the reduced grid starts at the
    /// reduced pixel holding its origin (at most `scale - 1` level pixels early). Nil when the
    /// level's tiles are not a multiple of `scale`. Transparent outside the level.
    ///
    /// With `cache`, reduced tiles are kept and shared: neighbouring patches overlap the same
    /// tiles, and decoding each once is most of the saving.
    public func readRegion(
        x: Int, y: Int, level: Int, width: Int, height: Int, downsample: Double, levelWidth: Int, levelHeight: Int, scale: Int,
        cache: ScaledTileCache? = nil
    ) throws(SlideError) -> RGBAImage? {
        let tile = tileSize(level: level)
        guard [2, 4, 8].contains(scale), tile.width % scale == 0, tile.height % scale == 0, width > 0, height > 0 else { return nil }
        let lx = Int((Double(x) / downsample).rounded(.down)), ly = Int((Double(y) / downsample).rounded(.down))
        func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
        let sx = floorDiv(lx, scale), sy = floorDiv(ly, scale)
        let layout = TileLayout(
            width: (levelWidth + scale - 1) / scale, height: (levelHeight + scale - 1) / scale, tileWidth: tile.width / scale, tileHeight: tile.height / scale)
        let decoder = try JPEGDecoder()
        return try composeRegion(layout, lx: sx, ly: sy, width: (width + scale - 1) / scale, height: (height + scale - 1) / scale) {
            (c, r) throws(SlideError) in
            let key = ScaledTileCache.Key(level: level, scale: scale, column: c, row: r)
            if let hit = cache?.tile(key) { return hit }
            let stream = try jpegStream(level: level, column: c, row: r)
            let decoded: RGBAImage
            do {
                decoded = try decoder.decode(stream, width: tile.width, height: tile.height, scale: scale)
            } catch {
                throw .openslideFailed(path: "-", message: "tile \(c),\(r) of level \(level) at 1/\(scale): \(error)")
            }
            cache?.keep(decoded, for: key)
            return decoded
        }
    }
}

/// Tiles decoded at a reduction, kept first in, first out up to a byte limit: patches read in
/// rows share the tiles under their edges, and a window a few tile rows deep holds them.
public final class ScaledTileCache: Sendable {
    /// One tile of one level at one reduction.
    public struct Key: Hashable, Sendable {
        var level: Int
        var scale: Int
        var column: Int
        var row: Int
    }
    private struct State {
        var tiles: [Key: RGBAImage] = [:]
        var order = Deque<Key>()
        var bytes = 0
    }
    private let state = Mutex(State())
    /// The most bytes of decoded pixels kept.
    public let byteLimit: Int

    /// An empty cache keeping at most `byteLimit` bytes of pixels (32 MiB by default).
    public init(byteLimit: Int = 32 << 20) { self.byteLimit = byteLimit }

    func tile(_ key: Key) -> RGBAImage? { state.withLock { $0.tiles[key] } }

    func keep(_ image: RGBAImage, for key: Key) {
        state.withLock { s in
            guard s.tiles.updateValue(image, forKey: key) == nil else { return }
            s.order.append(key)
            s.bytes += image.pixels.count
            while s.bytes > byteLimit, let oldest = s.order.popFirst() {
                s.bytes -= s.tiles.removeValue(forKey: oldest)?.pixels.count ?? 0
            }
        }
    }

    /// Tiles and bytes held.
    public var usage: (tiles: Int, bytes: Int) { state.withLock { ($0.tiles.count, $0.bytes) } }
}

/// The assembled level's bytes, shared by decoders that each write only their own rows of
/// tiles (so no two touch one byte) and done before the buffer is read.
private struct DisjointRows: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt8>
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
    let bytes: FileBytes
    let levels: [TIFFLevel]
    /// Idle TurboJPEG decompressors, reused across reads.
    private let decoders = DecoderPool()

    private init(path: String, fd: Int32, bytes: FileBytes, levels: [TIFFLevel]) {
        self.path = path
        self.fd = fd
        self.bytes = bytes
        self.levels = levels
    }

    deinit { close(fd) }

    /// Opens `path` and matches its tiled JPEG directories to OpenSlide's `levels` (by
    /// size); nil when any level cannot be served directly.
    public static func open(path: String, expecting levels: [SlideLevel]) -> TIFFTileReader? {
        let fd = Glibc.open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        guard let directories = try? TIFFParser(fd: fd).tiledJPEGDirectories(), let bytes = try? FileBytes(fd: fd) else {
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
        return TIFFTileReader(path: path, fd: fd, bytes: bytes, levels: matched)
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
        guard column >= 0, row >= 0, column < l.tilesAcross, index < l.offsets.count else {
            throw .invalidRequest(path: path, message: "tile \(column),\(row) of level \(level) is not in the file")
        }
        let offset = l.offsets[index], count = l.byteCounts[index]
        guard count >= 4, bytes.contains(offset: offset, count: count) else {
            throw .openslideFailed(
                path: path, message: "tile \(column),\(row) of level \(level) (\(count) bytes at offset \(offset)) lies outside the \(bytes.size)-byte file")
        }
        let n = Int(count)
        // Read the tile straight behind the shared tables (minus their EOI) and an Adobe
        // marker slot, so the stream is assembled without extra copies.
        var tables = l.jpegTables ?? []
        if tables.suffix(2) == [0xFF, 0xD9] { tables.removeLast(2) }
        let prefix = tables.count
        var got = 0
        var stream = [UInt8](unsafeUninitializedCapacity: prefix + n + 16) { buffer, initialized in
            for i in 0..<prefix { buffer[i] = tables[i] }
            got = FileBytes.readFully(fd, into: buffer.baseAddress! + prefix, count: n, at: offset)
            initialized = prefix + got
        }
        guard got == n else {
            throw .openslideFailed(path: path, message: "tile \(column),\(row) of level \(level) is truncated (\(got) of \(n) bytes)")
        }
        if prefix > 0, stream.count >= prefix + 2 {
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

    /// Decodes a JPEG stream to RGBA, padded to `width` x `height` when smaller; with
    /// `scale` 2, 4 or 8, at that fraction of its size in the DCT domain (libjpeg-turbo's
    /// scaled decoding, several times faster than a full decode), padded to the tile's
    /// scaled size.
    public func decode(_ jpeg: [UInt8], width tileWidth: Int, height tileHeight: Int, scale: Int = 1) throws -> RGBAImage {
        let (width, height) = ((tileWidth + scale - 1) / scale, (tileHeight + scale - 1) / scale)
        var decoded = (width: 0, height: 0)
        var failure: (any Error)?
        // Uninitialised: the decoder writes every byte it reports (or fails, and the array is dropped).
        let pixels = [UInt8](unsafeUninitializedCapacity: width * height * 4) { buffer, count in
            do {
                decoded = try decode(jpeg, into: buffer.baseAddress!, width: tileWidth, height: tileHeight, scale: scale)
                count = decoded.width * decoded.height * 4
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        var image = RGBAImage(width: decoded.width, height: decoded.height, pixels: pixels)
        if decoded.width != width || decoded.height != height {
            // A tile stored smaller than the tile size (rare): pad transparently.
            var padded = RGBAImage(width: width, height: height, fill: RGBA(0, 0, 0, 0))
            for y in 0..<decoded.height { for x in 0..<decoded.width { padded[x, y] = image[x, y] } }
            image = padded
        }
        return image
    }

    /// Decodes a JPEG stream at 1/`scale` (1, 2, 4 or 8) into `destination`, packed RGBA
    /// rows, and says the size written: at most ceil(`width` / scale) x ceil(`height` / scale),
    /// which `destination` must hold. A stream whose header claims more than `width` x
    /// `height` is refused before anything is written.
    public func decode(_ jpeg: [UInt8], into destination: UnsafeMutablePointer<UInt8>, width: Int, height: Int, scale: Int) throws -> (width: Int, height: Int) {
        precondition([1, 2, 4, 8].contains(scale), "scale must be 1, 2, 4 or 8")
        var w: Int32 = 0, h: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = jpeg.withUnsafeBufferPointer { tjDecompressHeader3(handle, $0.baseAddress, UInt(jpeg.count), &w, &h, &subsampling, &colorspace) }
        guard header == 0 else { throw Failure(description: String(cString: tjGetErrorStr2(handle))) }
        // The header's size decides what is written: never more than the tile it should be.
        guard w > 0, h > 0, Int(w) <= width, Int(h) <= height else {
            throw Failure(description: "the JPEG is \(w)x\(h) pixels, larger than its \(width)x\(height) tile")
        }
        // TJSCALED: the scaled size rounds up.
        let s = Int32(scale)
        let (sw, sh) = ((w + s - 1) / s, (h + s - 1) / s)
        let code = jpeg.withUnsafeBufferPointer { src in
            tjDecompress2(handle, src.baseAddress, UInt(jpeg.count), destination, sw, 0, sh, Int32(TJPF_RGBA.rawValue), 0)
        }
        guard code == 0 else { throw Failure(description: String(cString: tjGetErrorStr2(handle))) }
        return (Int(sw), Int(sh))
    }
}

/// The tiled, JPEG-compressed, 8-bit RGB/YCbCr directories of a TIFF, from ``TIFFStructure``.
/// A directory is kept only when every number the direct path will use is sane: sizes from
/// 1 to 2^31 - 1, tiles from 1 to 8192 pixels a side, a whole tile grid of offsets and byte
/// counts (overflow-checked), tables under 1 MiB, and no conflicting duplicate of any of
/// these tags (OpenSlide reads those, not us).
struct TIFFParser {
    let fd: Int32

    static let usedTags: [UInt16] = [256, 257, 258, 259, 262, 277, 284, 322, 323, 324, 325, 347]

    func tiledJPEGDirectories() throws(MalformedFile) -> [TIFFLevel] {
        let tiff = try TIFFStructure(fd: fd)
        var result: [TIFFLevel] = []
        for d in tiff.directories {
            // A directory the direct path cannot serve (or whose numbers are absurd) is
            // skipped; OpenSlide then serves the level, or refuses the file.
            if let level = try? level(d, in: tiff) { result.append(level) }
        }
        return result
    }

    private func level(_ d: TIFFStructure.Directory, in tiff: TIFFStructure) throws(MalformedFile) -> TIFFLevel? {
        guard d.conflicting.isDisjoint(with: Self.usedTags) else { return nil }
        guard let w = try tiff.integer(d, 256)?.int(atMost: Int(Int32.max)), let h = try tiff.integer(d, 257)?.int(atMost: Int(Int32.max)),
            let tw = try tiff.integer(d, 322)?.int(atMost: 8192), let th = try tiff.integer(d, 323)?.int(atMost: 8192),
            w > 0, h > 0, tw > 0, th > 0,
            try tiff.integer(d, 259) == 7, (try tiff.integer(d, 277) ?? 1) == 3, (try tiff.integer(d, 284) ?? 1) == 1,
            (try tiff.integers(d, 258) ?? [8]).allSatisfy({ $0 == 8 })
        else { return nil }
        let photometric = try tiff.integer(d, 262) ?? 6
        guard photometric == 2 || photometric == 6 else { return nil }
        let across = (w + tw - 1) / tw, down = (h + th - 1) / th
        let (tiles, overflow) = across.multipliedReportingOverflow(by: down)
        guard !overflow, let offsetsEntry = d.entries[324], let countsEntry = d.entries[325],
            offsetsEntry.count >= UInt64(tiles), countsEntry.count >= UInt64(tiles)
        else { return nil }
        guard let offsets = try tiff.integers(d, 324), let counts = try tiff.integers(d, 325), offsets.count == counts.count else { return nil }
        var tables: [UInt8]?
        if let e = d.entries[347] {
            guard e.count <= 1 << 20 else { return nil }
            tables = try tiff.rawValue(e)
        }
        return TIFFLevel(
            width: w, height: h, tileWidth: tw, tileHeight: th, offsets: offsets, byteCounts: counts, jpegTables: tables,
            photometric: Int(photometric))
    }
}

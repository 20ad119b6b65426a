import Foundation
import MHSImaging

/// One VOLUME instance of a DICOM WSI series: a pyramid level stored as JPEG frames.
struct DICOMLevel: Sendable {
    var path: String
    var width: Int
    var height: Int
    var tileWidth: Int
    var tileHeight: Int
    /// Where each frame's JPEG bytes are, in TILED_FULL order (row by row); inside the file.
    var frames: [(offset: UInt64, length: UInt64)]
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
        // (Its header only: the walk to the frames happens once, below, for every file.)
        guard let series = DICOMHeader.read(path: slideFile)?.seriesInstanceUID, !series.isEmpty else { return nil }
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
        guard column >= 0, row >= 0, column < l.tilesAcross, index < l.frames.count, let fd = files[l.path] else {
            throw .invalidRequest(path: l.path, message: "frame \(column),\(row) of level \(level) is not in the file")
        }
        let (offset, length) = l.frames[index]
        // The parser checked the fragment against the file's size when it was opened.
        let n = Int(length)
        var got = 0
        var stream = [UInt8](unsafeUninitializedCapacity: n + 16) { buffer, initialized in
            got = FileBytes.readFully(fd, into: buffer.baseAddress!, count: n, at: offset)
            initialized = got
        }
        guard got == n, n >= 4 else {
            throw .openslideFailed(path: l.path, message: "frame \(column),\(row) of level \(level) is truncated (\(got) of \(n) bytes)")
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

/// A tiled JPEG WSI instance's level, from ``DICOMStructure``'s attributes.
enum DICOMInstanceParser {
    /// The attributes of the file at `path` down to its frames; nil when it is not DICOM or is malformed.
    static func attributes(path: String) -> DICOMStructure.Attributes? {
        try? DICOMStructure.read(path: path, depth: .frames)
    }

    /// The level the instance is, when the direct path can serve it: JPEG baseline, a VOLUME
    /// image that is not TILED_SPARSE, sizes from 1 to 2^31 - 1, tiles from 1 to 8192 pixels a
    /// side, NumberOfFrames matching the fragments, and a frame for every tile of the grid
    /// (counted without overflow).
    static func level(_ a: DICOMStructure.Attributes, path: String) -> DICOMLevel? {
        guard a.transferSyntax == "1.2.840.10008.1.2.4.50", a.imageType.count >= 3, a.imageType[2] == "VOLUME",
            a.organisation != "TILED_SPARSE", let rows = a.rows, let columns = a.columns, let width = a.totalColumns,
            let height = a.totalRows, (1...8192).contains(rows), (1...8192).contains(columns), (1...Int(Int32.max)).contains(width),
            (1...Int(Int32.max)).contains(height), !a.frames.isEmpty, a.frames.count == (a.numberOfFrames ?? a.frames.count),
            a.frames.allSatisfy({ $0.length >= 4 })
        else { return nil }
        let level = DICOMLevel(
            path: path, width: width, height: height, tileWidth: columns, tileHeight: rows, frames: a.frames, photometric: a.photometric)
        let (tiles, overflow) = level.tilesAcross.multipliedReportingOverflow(by: level.tilesDown)
        guard !overflow, level.frames.count >= tiles else { return nil }
        return level
    }
}

import MHSImaging
import MHSSlide

/// Draws one deep-zoom tile from a slide: the region read from the finest slide level that is
/// not finer than the tile needs (the direct JPEG path whenever the slide has one), in bands of bounded
/// size, shrunk by area averaging, translucent pixels put on white, padded to a full tile
/// beyond the slide's edge, and encoded as JPEG.
enum TileRenderer {
    /// Colour beyond the slide's right and bottom edges.
    static let padding = RGBA(236, 236, 236)
    /// The most slide pixels read at once (one band): 4 MP, 16 MiB of RGBA.
    static let bandPixels = 4 << 20

    /// The tile as JPEG: quality 90 with full-resolution colour (4:4:4), so stain edges at 1:1
    /// are not smeared by the encoder.
    static func jpeg(slide: Slide, zoom: DeepZoom, level: Int, col: Int, row: Int, quality: Int = 90) throws -> [UInt8]? {
        guard let image = try render(slide: slide, zoom: zoom, level: level, col: col, row: row) else { return nil }
        return try JPEGEncoder.encode(image, quality: quality, fullChroma: true)
    }

    /// The tile as a 256x256 opaque raster, nil outside the pyramid.
    static func render(slide: Slide, zoom: DeepZoom, level: Int, col: Int, row: Int) throws -> RGBAImage? {
        guard let region = zoom.region(level: level, col: col, row: row) else { return nil }
        let f = Double(zoom.scale(level: level))
        // The coarsest slide level whose pixels are still at least as fine as the tile's.
        let l = slide.levels.indices.last { slide.levels[$0].downsample <= f * 1.0001 } ?? 0
        let slideLevel = slide.levels[l]
        let d = slideLevel.downsample
        // The region in that level's pixels, kept inside the level.
        let lx = Int((Double(region.x) / d).rounded(.down)), ly = Int((Double(region.y) / d).rounded(.down))
        let lw = max(1, min(Int((Double(region.width) / d).rounded(.up)), slideLevel.width - lx))
        let lh = max(1, min(Int((Double(region.height) / d).rounded(.up)), slideLevel.height - ly))
        guard lx < slideLevel.width, ly < slideLevel.height else { return nil }
        let ow = max(1, min(DeepZoom.tileSide, Int((Double(region.width) / f).rounded(.up))))
        let oh = max(1, min(DeepZoom.tileSide, Int((Double(region.height) / f).rounded(.up))))

        var tile = RGBAImage(width: DeepZoom.tileSide, height: DeepZoom.tileSide, fill: padding)
        // Bands of output rows whose source rows fit `bandPixels`.
        let rowsPerBand = max(1, min(oh, bandPixels / max(1, lw) * oh / lh))
        var oy = 0
        while oy < oh {
            let bandRows = min(rowsPerBand, oh - oy)
            let sy0 = oy * lh / oh, sy1 = max(sy0 + 1, (oy + bandRows) * lh / oh)
            let band = try read(slide, level: l, lx: lx, ly: ly + sy0, width: lw, height: sy1 - sy0)
            let shrunk = band.resized(width: ow, height: bandRows)
            put(shrunk, into: &tile, atRow: oy)
            oy += bandRows
        }
        return tile
    }

    /// Level pixels (`lx`, `ly` in the level's own pixels) through the direct JPEG path
    /// whenever the slide has one — whatever the level's downsample, so every tile of a view
    /// comes from one decoder (OpenSlide shows some DICOM series in other colours) — else
    /// through OpenSlide.
    private static func read(_ slide: Slide, level: Int, lx: Int, ly: Int, width: Int, height: Int) throws -> RGBAImage {
        let d = slide.levels[level].downsample
        // The smallest level-0 coordinate whose floor division by d is lx (d >= 1).
        let x = Int((Double(lx) * d).rounded(.up)), y = Int((Double(ly) * d).rounded(.up))
        if let direct = slide.directTiles {
            return try direct.readRegion(x: x, y: y, level: level, width: width, height: height, downsample: d)
        }
        return try slide.readRegion(x: x, y: y, level: level, width: width, height: height)
    }

    /// Copies `src` into `tile` at (0, `row`), putting translucent pixels on white.
    private static func put(_ src: RGBAImage, into tile: inout RGBAImage, atRow row: Int) {
        let side = tile.width
        src.pixels.withUnsafeBufferPointer { s in
            tile.pixels.withUnsafeMutableBufferPointer { t in
                for y in 0..<src.height {
                    var i = y * src.width * 4
                    var o = ((row + y) * side) * 4
                    for _ in 0..<src.width {
                        let a = Int(s[i + 3])
                        if a == 255 {
                            t[o] = s[i]; t[o + 1] = s[i + 1]; t[o + 2] = s[i + 2]
                        } else {
                            for c in 0..<3 { t[o + c] = UInt8((Int(s[i + c]) * a + 255 * (255 - a) + 127) / 255) }
                        }
                        t[o + 3] = 255
                        i += 4
                        o += 4
                    }
                }
            }
        }
    }
}

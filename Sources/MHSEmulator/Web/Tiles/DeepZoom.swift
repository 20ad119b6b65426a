/// The deep-zoom pyramid the viewer pans and zooms over: square tiles of ``tileSide`` pixels;
/// level ``maxLevel`` shows the slide's level 0 pixel for pixel, each level below halves it,
/// and level 0 is the whole slide in one tile. The viewer's zoom is `level - maxLevel`, so zoom
/// 0 is 1:1 and negative zooms are coarser (Leaflet's `CRS.Simple` in level-0 pixels).
struct DeepZoom: Sendable, Equatable {
    /// Tile side in screen pixels.
    static let tileSide = 256

    /// Level-0 size of the slide.
    let width: Int
    let height: Int
    /// The 1:1 level: the smallest `n` with `max(width, height) <= tileSide * 2^n`.
    let maxLevel: Int

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        var n = 0
        while Self.tileSide << n < max(width, height) { n += 1 }
        maxLevel = n
    }

    /// Level-0 pixels per tile pixel at `level`.
    func scale(level: Int) -> Int { 1 << (maxLevel - level) }

    /// The level-0 rectangle tile (`col`, `row`) of `level` shows, clipped to the slide; nil
    /// for a level or tile outside the pyramid.
    func region(level: Int, col: Int, row: Int) -> (x: Int, y: Int, width: Int, height: Int)? {
        guard (0...maxLevel).contains(level), col >= 0, row >= 0 else { return nil }
        let side = Self.tileSide * scale(level: level)
        guard col <= width / side, row <= height / side else { return nil }  // before multiplying: no overflow
        let x = col * side, y = row * side
        guard x < width, y < height else { return nil }
        return (x, y, min(side, width - x), min(side, height - y))
    }
}

import MHSContract

/// One scored patch: its place in the grid and the model's probability per class.
public struct ScoredPatch: Sendable, Hashable {
    public var column: Int
    public var row: Int
    /// One probability per class, in `class_names` order.
    public var probabilities: [Double]

    public init(column: Int, row: Int, probabilities: [Double]) {
        self.column = column
        self.row = row
        self.probabilities = probabilities
    }
}

/// What a model directory's model said about one slide: the grid of level-0 patches it read
/// (square, side `patchSize`, from the slide's top-left corner, the last column and row
/// clipped to the slide) and the patches it scored (those on tissue).
public struct PatchScores: Sendable, Hashable {
    /// The side of a patch in level-0 pixels.
    public var patchSize: Int
    public var columns: Int
    public var rows: Int
    public var slideWidth: Int
    public var slideHeight: Int
    /// The scored patches, in any order.
    public var patches: [ScoredPatch]

    /// A grid over a `slideWidth × slideHeight` slide; its columns and rows are what it takes
    /// to cover the slide.
    public init(patchSize: Int, slideWidth: Int, slideHeight: Int, patches: [ScoredPatch]) {
        self.patchSize = max(patchSize, 1)
        self.slideWidth = slideWidth
        self.slideHeight = slideHeight
        self.columns = (slideWidth + self.patchSize - 1) / self.patchSize
        self.rows = (slideHeight + self.patchSize - 1) / self.patchSize
        self.patches = patches
    }

    /// The grid's cells in level-0 pixels, clipped to the slide.
    public var grid: GridRegions {
        GridRegions(
            columns: columns, rows: rows, cellWidth: Double(patchSize), cellHeight: Double(patchSize),
            maxX: Double(slideWidth), maxY: Double(slideHeight))
    }

    /// The level-0 rectangle of the patch at `column`, `row` (clipped to the slide).
    public func rectangle(column: Int, row: Int) -> (x: Int, y: Int, width: Int, height: Int) {
        let x = column * patchSize, y = row * patchSize
        return (x, y, min(patchSize, slideWidth - x), min(patchSize, slideHeight - y))
    }

    /// Each cell's probabilities (nil where no patch was scored), row by row.
    func dense() -> [[Double]?] {
        var cells = [[Double]?](repeating: nil, count: columns * rows)
        for p in patches where (0..<columns).contains(p.column) && (0..<rows).contains(p.row) {
            cells[p.row * columns + p.column] = p.probabilities
        }
        return cells
    }
}

import MHS

/// One detected nucleus, in level-0 pixels.
public struct Nucleus: Sendable, Equatable {
    public var x: Double
    public var y: Double
    /// The blob filter's response at its centre (haematoxylin OD contrast).
    public var score: Float

    public init(x: Double, y: Double, score: Float) {
        self.x = x
        self.y = y
        self.score = score
    }
}

/// Turns patches into the model's input and its `peaks` output back into nuclei.
///
/// Patches overlap by `margin` output pixels on each side (the grid's stride is
/// `patchSize - 2 * margin`, and the grid covers the slide's edges), because the blob filter
/// is unreliable near a patch's edge. Neighbours hand over in the middle of their overlap:
/// each patch keeps the peaks on its side of those lines plus one pixel, because
/// neighbouring patches' pixels need not line up exactly (origins are whole level-0
/// pixels); ``merge(_:)`` then folds the few nuclei seen twice along a line into one.
public struct NucleiDetector: Sendable {
    public let grid: PatchGrid
    public let margin: Int

    public init(grid: PatchGrid, margin: Int) {
        self.grid = grid
        self.margin = margin
    }

    /// A batch ready for the model: the NCHW tensor and where each image came from.
    public struct Batch: Sendable {
        public var tensor: Tensor
        public var patches: [Place]
    }

    /// Where a patch lies: its grid cell and level-0 origin.
    public struct Place: Sendable {
        public var column: Int
        public var row: Int
        public var x: Int
        public var y: Int
    }

    /// Packs RGBA patches into one float tensor N×3×P×P of 0…255 values (alpha dropped:
    /// OpenSlide's transparent pixels are outside the slide and read as black, which the
    /// model sees as dense stain only at the slide's border, where no patch is).
    public func pack(_ patches: [Patch]) -> Batch {
        let p = grid.patchSize, plane = p * p
        var values = [Float](repeating: 0, count: patches.count * 3 * plane)
        values.withUnsafeMutableBufferPointer { out in
            for (i, patch) in patches.enumerated() {
                let base = i * 3 * plane
                patch.image.pixels.withUnsafeBufferPointer { px in
                    for j in 0..<plane {
                        out[base + j] = Float(px[4 * j])
                        out[base + plane + j] = Float(px[4 * j + 1])
                        out[base + 2 * plane + j] = Float(px[4 * j + 2])
                    }
                }
            }
        }
        return Batch(
            tensor: Tensor(shape: [patches.count, 3, p, p], values: values),
            patches: patches.map { Place(column: $0.column, row: $0.row, x: $0.x, y: $0.y) })
    }

    /// A patch's origin along one axis, in output pixels.
    public func origin(_ index: Int, vertical: Bool) -> Double {
        let o = vertical ? grid.origin(column: 0, row: index).y : grid.origin(column: index, row: 0).x
        return Double(o) / grid.targetDownsample
    }

    /// The local output pixels (along one axis) that patch `index` of `count` owns: those
    /// whose centres lie between the middles of its overlaps with the previous and next patch.
    public func owned(_ index: Int, of count: Int, vertical: Bool = false, widenedBy extra: Double = 0) -> Range<Int> {
        let p = Double(grid.patchSize)
        let o = origin(index, vertical: vertical)
        let start = index == 0 ? 0 : max(0, Int(((origin(index - 1, vertical: vertical) + p + o) / 2 - extra - o - 0.5).rounded(.up)))
        let end = index == count - 1
            ? grid.patchSize
            : min(grid.patchSize, Int(((o + p + origin(index + 1, vertical: vertical)) / 2 + extra - o - 0.5).rounded(.up)))
        return start..<max(start, end)
    }

    /// Folds nuclei closer than 1.5 output pixels into the strongest of them: the same
    /// nucleus seen by two neighbouring patches (the model's 7×7 suppression keeps real
    /// nuclei of one patch at least 4 pixels apart). The outcome does not depend on the
    /// order patches arrived in: strongest first, ties broken by position; sorted by y, x.
    public func merge(_ nuclei: [Nucleus]) -> [Nucleus] {
        let radius = 1.5 * grid.targetDownsample
        struct Cell: Hashable { var x: Int; var y: Int }
        func cell(_ n: Nucleus) -> Cell { Cell(x: Int((n.x / radius).rounded(.down)), y: Int((n.y / radius).rounded(.down))) }
        let ordered = nuclei.sorted { a, b in a.score != b.score ? a.score > b.score : a.y != b.y ? a.y < b.y : a.x < b.x }
        var kept: [Cell: [Nucleus]] = [:]
        var result: [Nucleus] = []
        result.reserveCapacity(nuclei.count)
        for n in ordered {
            let c = cell(n)
            var near = false
            search: for dx in -1...1 {
                for dy in -1...1 {
                    for m in kept[Cell(x: c.x + dx, y: c.y + dy)] ?? [] where (m.x - n.x) * (m.x - n.x) + (m.y - n.y) * (m.y - n.y) < radius * radius {
                        near = true
                        break search
                    }
                }
            }
            if !near {
                kept[c, default: []].append(n)
                result.append(n)
            }
        }
        return result.sorted { $0.y != $1.y ? $0.y < $1.y : $0.x < $1.x }
    }

    /// Nuclei from a `peaks` output (N×1×P×P), each patch keeping those it owns (plus the
    /// one-pixel seam that ``merge(_:)`` settles).
    public func nuclei(from peaks: Tensor, batch: Batch, minimumScore: Float) -> [[Nucleus]] {
        let p = grid.patchSize
        let scale = grid.targetDownsample
        return batch.patches.enumerated().map { i, place in
            let plane = peaks.item(i)
            let xs = owned(place.column, of: grid.columns, widenedBy: 1), ys = owned(place.row, of: grid.rows, vertical: true, widenedBy: 1)
            var found: [Nucleus] = []
            plane.withUnsafeBufferPointer { v in
                for y in ys {
                    let row = y * p
                    for x in xs where v[row + x] > minimumScore {
                        found.append(Nucleus(x: Double(place.x) + (Double(x) + 0.5) * scale, y: Double(place.y) + (Double(y) + 0.5) * scale, score: v[row + x]))
                    }
                }
            }
            return found
        }
    }

    /// A level-0 rectangle.
    public struct Region: Sendable, Equatable {
        public var x: Double
        public var y: Double
        public var width: Double
        public var height: Double
        public func contains(_ n: Nucleus) -> Bool { n.x >= x && n.x < x + width && n.y >= y && n.y < y + height }
    }

    /// The level-0 region a patch owns (for the density map).
    public func ownedRegion(_ place: Place) -> Region {
        let xs = owned(place.column, of: grid.columns), ys = owned(place.row, of: grid.rows, vertical: true)
        let s = grid.targetDownsample
        return Region(x: Double(place.x) + Double(xs.lowerBound) * s, y: Double(place.y) + Double(ys.lowerBound) * s, width: Double(xs.count) * s, height: Double(ys.count) * s)
    }
}

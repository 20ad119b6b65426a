/// Cells of a grid — the patches a model scored above a threshold, say — merged into
/// polygons with holes, one per 4-connected group of cells, instead of one box per cell.
///
/// The outlines follow the cells' edges: each ring is traced along the sides between a
/// chosen cell and one that is not chosen, turning right where two groups touch only at a
/// corner, so diagonal neighbours stay separate polygons. Collinear points are dropped, so a
/// straight run of cells costs two points. Coordinates come from the grid's column and row
/// edges, so the last column or row may be narrower (a grid clipped to the slide).
public struct GridRegions: Sendable {
    /// `columns + 1` increasing x coordinates: column `i` spans `xEdges[i]...xEdges[i + 1]`.
    public var xEdges: [Double]
    /// `rows + 1` increasing y coordinates.
    public var yEdges: [Double]

    /// A grid of `columns × rows` cells of `cellWidth × cellHeight` from `(x, y)`, its last
    /// column and row clipped to `maxX` / `maxY` when given.
    public init(x: Double = 0, y: Double = 0, columns: Int, rows: Int, cellWidth: Double, cellHeight: Double,
                maxX: Double? = nil, maxY: Double? = nil) {
        xEdges = (0...max(columns, 0)).map { min(x + Double($0) * cellWidth, maxX ?? .infinity) }
        yEdges = (0...max(rows, 0)).map { min(y + Double($0) * cellHeight, maxY ?? .infinity) }
    }

    /// A grid with the given cell edges.
    public init(xEdges: [Double], yEdges: [Double]) {
        self.xEdges = xEdges
        self.yEdges = yEdges
    }

    public var columns: Int { max(xEdges.count - 1, 0) }
    public var rows: Int { max(yEdges.count - 1, 0) }

    /// The polygons (outer ring first, then holes; every ring closed) that cover exactly the
    /// cells where `chosen(column, row)` is true.
    public func polygons(_ chosen: (Int, Int) -> Bool) -> [[[Position]]] {
        let w = columns, h = rows
        guard w > 0, h > 0 else { return [] }
        var set = [Bool](repeating: false, count: w * h)
        for r in 0..<h { for c in 0..<w where chosen(c, r) { set[r * w + c] = true } }
        func isSet(_ c: Int, _ r: Int) -> Bool { c >= 0 && r >= 0 && c < w && r < h && set[r * w + c] }

        // 4-connected groups of chosen cells.
        var group = [Int](repeating: -1, count: w * h)
        var groups = 0
        var stack: [Int] = []
        for start in 0..<(w * h) where set[start] && group[start] < 0 {
            group[start] = groups
            stack.append(start)
            while let cell = stack.popLast() {
                let c = cell % w, r = cell / w
                for (nc, nr) in [(c - 1, r), (c + 1, r), (c, r - 1), (c, r + 1)] where isSet(nc, nr) && group[nr * w + nc] < 0 {
                    group[nr * w + nc] = groups
                    stack.append(nr * w + nc)
                }
            }
            groups += 1
        }

        // Directed boundary edges between grid corners, clockwise around each chosen cell
        // (y down): top eastwards, right southwards, bottom westwards, left northwards.
        struct Edge {
            var from: Int, to: Int, direction: Int, group: Int
        }
        let cornerColumns = w + 1
        func corner(_ c: Int, _ r: Int) -> Int { r * cornerColumns + c }
        var edges: [Edge] = []
        var outgoing: [Int: [Int]] = [:]
        func add(_ from: Int, _ to: Int, _ direction: Int, _ g: Int) {
            outgoing[from, default: []].append(edges.count)
            edges.append(Edge(from: from, to: to, direction: direction, group: g))
        }
        for r in 0..<h {
            for c in 0..<w where set[r * w + c] {
                let g = group[r * w + c]
                if !isSet(c, r - 1) { add(corner(c, r), corner(c + 1, r), 0, g) }
                if !isSet(c + 1, r) { add(corner(c + 1, r), corner(c + 1, r + 1), 1, g) }
                if !isSet(c, r + 1) { add(corner(c + 1, r + 1), corner(c, r + 1), 2, g) }
                if !isSet(c - 1, r) { add(corner(c, r + 1), corner(c, r), 3, g) }
            }
        }

        // Rings: follow edges end to start; where two leave one corner, take the right turn.
        var used = [Bool](repeating: false, count: edges.count)
        var outers: [Int: [[Position]]] = [:]
        var holes: [Int: [[Position]]] = [:]
        for first in edges.indices where !used[first] {
            var ring: [Position] = []
            var current = first
            var area = 0.0
            while true {
                used[current] = true
                let e = edges[current]
                let options = (outgoing[e.to] ?? []).filter { !used[$0] || $0 == first }
                let next: Int
                if options.count > 1 {
                    next = options.first { edges[$0].direction == (e.direction + 1) % 4 } ?? options[0]
                } else if let only = options.first {
                    next = only
                } else {
                    break
                }
                if edges[next].direction != e.direction {
                    let p = position(e.to, cornerColumns)
                    ring.append(p)
                }
                // The sign in grid units: a clipped, zero-width last column must not flip it.
                let (ac, ar) = (e.from % cornerColumns, e.from / cornerColumns), (bc, br) = (e.to % cornerColumns, e.to / cornerColumns)
                area += Double(ac * br - bc * ar)
                if next == first { break }
                current = next
            }
            guard ring.count >= 3 else { continue }
            ring.append(ring[0])
            if area > 0 {
                outers[edges[first].group, default: []].append(ring)
            } else {
                holes[edges[first].group, default: []].append(ring)
            }
        }
        // A group has one outer ring (its holes follow it); should it ever have more, each
        // is its own polygon and the holes stay with the first.
        return (0..<groups).flatMap { g -> [[[Position]]] in
            let rings = outers[g] ?? []
            return rings.enumerated().map { i, outer in [outer] + (i == 0 ? holes[g] ?? [] : []) }
        }
    }

    private func position(_ corner: Int, _ cornerColumns: Int) -> Position {
        Position(xEdges[corner % cornerColumns], yEdges[corner / cornerColumns])
    }
}

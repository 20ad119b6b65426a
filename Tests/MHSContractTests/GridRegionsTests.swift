import MHSContract
import Testing

/// Twice the signed area of a closed ring (positive for rings clockwise on screen, y down).
func doubleArea(_ ring: [Position]) -> Double {
    zip(ring, ring.dropFirst()).reduce(0) { $0 + $1.0.x * $1.1.y - $1.1.x * $1.0.y }
}

/// Whether `p` is inside the rings (even-odd over every ring given).
func inside(_ p: Position, _ rings: [[Position]]) -> Bool {
    var odd = false
    for ring in rings {
        for (a, b) in zip(ring, ring.dropFirst()) where (a.y > p.y) != (b.y > p.y) {
            if p.x < a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x) { odd.toggle() }
        }
    }
    return odd
}

@Suite("grid regions: chosen cells as polygons with holes")
struct GridRegionsTests {
    let grid = GridRegions(columns: 4, rows: 4, cellWidth: 10, cellHeight: 10)

    @Test("a block of cells is one rectangle of four corners")
    func block() {
        let polygons = grid.polygons { c, r in (1...2).contains(c) && (0...2).contains(r) }
        #expect(polygons.count == 1 && polygons[0].count == 1)
        #expect(Set(polygons[0][0].map { [$0.x, $0.y] }) == [[10, 0], [30, 0], [30, 30], [10, 30]])
        #expect(polygons[0][0].count == 5 && polygons[0][0].first == polygons[0][0].last)
    }

    @Test("a ring of cells has a hole; diagonal neighbours are two polygons")
    func holeAndDiagonal() {
        let donut = GridRegions(columns: 3, rows: 3, cellWidth: 1, cellHeight: 1).polygons { c, r in !(c == 1 && r == 1) }
        #expect(donut.count == 1 && donut[0].count == 2, "\(donut)")
        #expect(doubleArea(donut[0][0]) == 18 && doubleArea(donut[0][1]) == -2)
        let diagonal = grid.polygons { c, r in (c, r) == (0, 0) || (c, r) == (1, 1) }
        #expect(diagonal.count == 2 && diagonal.allSatisfy { $0.count == 1 && doubleArea($0[0]) == 200 })
        #expect(grid.polygons { _, _ in false }.isEmpty)
    }

    @Test("a grid clipped to the slide: the last column is as wide as what is left")
    func clipped() {
        let clippedGrid = GridRegions(columns: 3, rows: 1, cellWidth: 100, cellHeight: 100, maxX: 250)
        let polygons = clippedGrid.polygons { c, _ in c >= 1 }
        #expect(polygons.count == 1 && doubleArea(polygons[0][0]) == 2 * 150 * 100)
    }

    @Test("random grids: every cell's centre is inside exactly when chosen, and the areas add up")
    func random() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        for trial in 0..<400 {
            let columns = Int(next() % 12) + 1, rows = Int(next() % 12) + 1
            let density = Double(next() % 100) / 100
            var chosen = [[Bool]](repeating: [Bool](repeating: false, count: columns), count: rows)
            var count = 0
            for r in 0..<rows {
                for c in 0..<columns where Double(next() % 1000) / 1000 < density {
                    chosen[r][c] = true
                    count += 1
                }
            }
            let polygons = GridRegions(columns: columns, rows: rows, cellWidth: 1, cellHeight: 1).polygons { c, r in chosen[r][c] }
            let rings = polygons.flatMap { $0 }
            #expect(rings.allSatisfy { $0.count >= 5 && $0.first == $0.last }, "trial \(trial): open or degenerate ring")
            #expect(polygons.allSatisfy { doubleArea($0[0]) > 0 && $0.dropFirst().allSatisfy { doubleArea($0) < 0 } }, "trial \(trial): outer rings first, holes after")
            #expect(rings.reduce(0) { $0 + doubleArea($1) } == Double(2 * count), "trial \(trial): area")
            for r in 0..<rows {
                for c in 0..<columns {
                    let centre = Position(Double(c) + 0.5, Double(r) + 0.5)
                    if inside(centre, rings) != chosen[r][c] {
                        Issue.record("trial \(trial): cell (\(c), \(r)) is \(chosen[r][c] ? "chosen but outside" : "not chosen but inside")")
                    }
                }
            }
        }
    }
}

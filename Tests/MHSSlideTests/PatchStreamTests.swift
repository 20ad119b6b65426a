import Foundation
import MHSImaging
import MHSSlide
import MHSTestSupport
import Testing

@Suite("Patch grid, tissue mask and patch stream")
struct PatchStreamTests {
    let levels = [
        SlideLevel(width: 40000, height: 30000, downsample: 1), SlideLevel(width: 10000, height: 7500, downsample: 4),
        SlideLevel(width: 2500, height: 1875, downsample: 16),
    ]

    @Test("the level read is the smallest one at least as sharp as the target; others resample")
    func levelChoice() throws {
        let g20 = try PatchGrid(levels: levels, mpp: 0.25, path: "s", patchSize: 256, resolution: .mpp(0.5))
        #expect(g20.level == 0 && g20.targetDownsample == 2 && g20.resamples && g20.readScale == 2)
        let g1 = try PatchGrid(levels: levels, mpp: 0.25, path: "s", patchSize: 256, resolution: .mpp(1.0))
        #expect(g1.level == 1 && !g1.resamples)
        let g8 = try PatchGrid(levels: levels, mpp: 0.25, path: "s", patchSize: 224, stride: 112, resolution: .mpp(8))
        #expect(g8.level == 2 && g8.readScale == 2)
        #expect(g8.columns == Int((40000 - 224 * 32.0) / (112 * 32.0)) + 1)
        let byLevel = try PatchGrid(levels: levels, mpp: nil, path: "s", patchSize: 256, resolution: .level(1))
        #expect(byLevel.level == 1 && byLevel.columns == 39 && byLevel.rows == 29)
    }

    @Test("coverEdges adds a last column and row flush with the slide's edges, and only when a strip is left")
    func coverEdges() throws {
        // 40000 px at level 0, patches of 256 stepping 224: 178 regular columns end at 39904.
        let plain = try PatchGrid(levels: levels, mpp: nil, path: "s", patchSize: 256, stride: 224, resolution: .level(0))
        let covered = try PatchGrid(levels: levels, mpp: nil, path: "s", patchSize: 256, stride: 224, resolution: .level(0), coverEdges: true)
        #expect(plain.columns == 178 && covered.columns == 179 && covered.rows == plain.rows + 1)
        #expect(plain.origin(column: 177, row: 0).x + 256 == 39904)
        #expect(covered.origin(column: 178, row: 0).x == 40000 - 256 && covered.origin(column: 0, row: covered.rows - 1).y == 30000 - 256)
        #expect(covered.origin(column: 177, row: 3) == plain.origin(column: 177, row: 3))
        // A slide the regular grid already fills gets nothing extra.
        let exact = [SlideLevel(width: 256 + 224 * 9, height: 256, downsample: 1)]
        let e = try PatchGrid(levels: exact, mpp: nil, path: "s", patchSize: 256, stride: 224, resolution: .level(0), coverEdges: true)
        #expect(e.columns == 10 && e.rows == 1)
    }

    @Test("a target MPP on a slide without MPP is a clear error; a level is not")
    func missingMPP() throws {
        let s = try Slide(path: slide("tcga-cr-7395-01a-01-ts1.svs"))
        #expect(throws: PatchGridError.missingMPP(path: s.path)) { try PatchGrid(slide: s, patchSize: 256, resolution: .mpp(0.5)) }
        #expect(try PatchGrid(slide: s, patchSize: 256, resolution: .level(0)).count > 0)
    }

    @Test("the tissue mask of CMU-1-Small-Region is plausible and saved as a picture")
    func tissueMask() throws {
        let s = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let mask = try TissueMask.compute(slide: s)
        try FileManager.default.createDirectory(at: testOutput, withIntermediateDirectories: true)
        try Data(try PNG.encode(mask.image())).write(to: testOutput.appendingPathComponent("tissue-mask-CMU-1-Small-Region.png"))
        #expect((0.2...0.6).contains(mask.tissueFraction), "tissue fraction \(mask.tissueFraction)")
        // Glass in the top-left corner, tissue through the middle of the section.
        #expect(mask.fraction(x: 0, y: 0, width: 150, height: 150) < 0.1)
        #expect(mask.fraction(x: 900, y: 1500, width: 300, height: 300) > 0.9)
    }

    /// Every good slide but the RGB-attribute/JFIF-frame DICOM series, where mhs's colour
    /// policy differs from OpenSlide on purpose (see DirectTileTests).
    @Test("every patch equals OpenSlide's read_region at its coordinates", arguments: [
        "CMU-1-Small-Region.svs", "tcga-cr-7395-01a-01-ts1.svs", "openslide-boxes.tiff", "wsi2dcm-test-jpeg.dcm",
        "dicom-cmu-1-small-region-wsidicomizer/1.2.826.0.1.3680043.8.498.49320265424692186854261157717221663640.dcm", "synthetic",
    ])
    func patchesMatchOpenSlide(_ name: String) async throws {
        let s = try Slide(path: name == "synthetic" ? syntheticSlide : slide(name))
        let grid = try PatchGrid(slide: s, patchSize: 128, stride: 200, resolution: .level(0))
        let stream = PatchStream(slide: s, grid: grid, concurrency: 2)
        var seen = 0
        for try await patch in stream {
            let reference = try s.readRegion(x: patch.x, y: patch.y, level: 0, width: 128, height: 128)
            #expect(patch.image == reference, "\(name) patch at \(patch.x),\(patch.y) via \(patch.path)")
            #expect(patch.path == (s.directTiles != nil ? .direct : .openslide))
            seen += 1
        }
        #expect(seen == grid.count && seen > 0)
    }

    @Test("the tissue filter skips glass; batches cover every patch once")
    func tissueFilterAndBatches() async throws {
        let s = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let mask = try TissueMask.compute(slide: s)
        let grid = try PatchGrid(slide: s, patchSize: 256, resolution: .mpp(0.499))
        let all = PatchStream(slide: s, grid: grid)
        let tissue = PatchStream(slide: s, grid: grid, mask: mask, minimumTissueFraction: 0.5)
        #expect(tissue.cells.count < all.cells.count && tissue.cells.count > 0)
        var places = Set<[Int]>()
        for try await batch in tissue.batches(of: 4) {
            #expect(batch.count <= 4)
            for p in batch {
                #expect((p.tissueFraction ?? 0) >= 0.5)
                places.insert([p.column, p.row])
            }
        }
        #expect(places.count == tissue.cells.count)
    }

    @Test("resampled patches come at the target size; leaving early stops the readers")
    func resamplingAndEarlyExit() async throws {
        let s = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let grid = try PatchGrid(slide: s, patchSize: 64, resolution: .mpp(2.0))  // 4x coarser than the scan
        #expect(grid.resamples && grid.level == 0)
        let iterator = PatchStream(slide: s, grid: grid, concurrency: 2).makeAsyncIterator()
        for _ in 0..<3 {
            let p = try #require(try await iterator.next())
            #expect(p.image.width == 64 && p.image.height == 64 && p.extent > 255)
        }
    }
}

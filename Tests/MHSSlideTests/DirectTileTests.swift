import Foundation
import MHSImaging
import MHSSlide
import MHSTestSupport
import Testing

/// The synthetic slide (YCbCr 4:2:0 JPEG tiles), written once for these tests.
let syntheticSlide: String = {
    let path = NSTemporaryDirectory() + "mhs-tests-synthetic-\(getpid()).svs"
    if !FileManager.default.fileExists(atPath: path) { _ = try? SyntheticSlide.write(to: path, width: 2048, height: 1536) }
    return path
}()

/// The same, as BigTIFF (64-bit offsets).
let syntheticBigTIFF: String = {
    let path = NSTemporaryDirectory() + "mhs-tests-synthetic-big-\(getpid()).svs"
    if !FileManager.default.fileExists(atPath: path) { _ = try? SyntheticSlide.write(to: path, width: 1536, height: 1024, bigTIFF: true) }
    return path
}()

@Suite("Direct JPEG tile path")
struct DirectTileTests {
    @Test("JPEG TIFF slides and JPEG DICOM series get the direct path; others do not", arguments: [
        ("CMU-1-Small-Region.svs", true), ("openslide-small.svs", true), ("tcga-cr-7395-01a-01-ts1.svs", false), ("openslide-boxes.tiff", false),
        ("wsi2dcm-test-jpeg.dcm", true), ("camelyon-multiframe.dcm", true), ("wsi2dcm-test-jpeg2000.dcm", false), ("wsi2dcm-test-raw.dcm", false),
        ("dicom-cmu-1-small-region/level-0-frames-0-30.dcm", true), ("dicom-boxes/boxes_0.dcm", true),
        ("dicom-cmu-1-small-region-wsidicomizer/1.2.826.0.1.3680043.8.498.49320265424692186854261157717221663640.dcm", true),
    ])
    func availability(_ name: String, _ direct: Bool) throws {
        let s = try Slide(path: slide(name))
        #expect((s.directTiles != nil) == direct)
    }

    @Test("direct reads equal OpenSlide's read_region pixel for pixel", arguments: [
        "CMU-1-Small-Region.svs", "openslide-small.svs", "synthetic", "synthetic-bigtiff", "wsi2dcm-test-jpeg.dcm", "camelyon-multiframe.dcm", "dicom-boxes/boxes_0.dcm",
    ])
    func equality(_ name: String) throws {
        let s = try Slide(path: name == "synthetic" ? syntheticSlide : name == "synthetic-bigtiff" ? syntheticBigTIFF : slide(name))
        let direct = try #require(s.directTiles)
        _ = direct
        var rng = SystemRandomNumberGenerator()
        for level in s.levels.indices {
            let l = s.levels[level]
            let d = Int(l.downsample.rounded())
            var regions = [(0, 0, min(256, l.width), min(256, l.height)), (l.width - 10, l.height - 7, 40, 30), (-5, -5, 20, 20)]
            for _ in 0..<6 {
                let w = Int.random(in: 1...min(300, l.width), using: &rng), h = Int.random(in: 1...min(300, l.height), using: &rng)
                regions.append((Int.random(in: 0..<l.width, using: &rng), Int.random(in: 0..<l.height, using: &rng), w, h))
            }
            for (lx, ly, w, h) in regions {
                let (image, path) = try s.read(x: lx * d, y: ly * d, level: level, width: w, height: h)
                #expect(path == .direct)
                let reference = try s.readRegion(x: lx * d, y: ly * d, level: level, width: w, height: h)
                #expect(image == reference, "\(name) level \(level) region \(lx),\(ly) \(w)x\(h)")
            }
        }
    }

    @Test("DICOM frames whose JPEG markers say YCbCr while the attribute says RGB show true colours (mhs's policy)")
    func dicomColourPolicy() throws {
        let s = try Slide(path: slide("dicom-cmu-1-small-region/level-0-frames-0-30.dcm"))
        let (ours, path) = try s.read(x: 0, y: 0, level: 0, width: 64, height: 64)
        #expect(path == .direct)
        let openslide = try s.readRegion(x: 0, y: 0, level: 0, width: 64, height: 64)
        func mean(_ image: RGBAImage) -> (Int, Int, Int) {
            var sum = (0, 0, 0)
            for y in 0..<64 { for x in 0..<64 { let p = image[x, y]; sum.0 += Int(p.r); sum.1 += Int(p.g); sum.2 += Int(p.b) } }
            return (sum.0 / 4096, sum.1 / 4096, sum.2 / 4096)
        }
        let (r, g, b) = mean(ours)
        #expect(r > 225 && g > 225 && b > 225, "glass is near white: \((r, g, b))")
        let (_, og, ob) = mean(openslide)
        #expect(og < 160 && ob < 160, "OpenSlide 4.0.1 follows the attribute: salmon glass")
        // The same series' level 0 through the SVS it was converted from agrees with ours.
        let svs = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let (original, _) = try svs.read(x: 0, y: 0, level: 0, width: 64, height: 64)
        let (sr, sg, sb) = mean(original)
        #expect(abs(sr - r) < 8 && abs(sg - g) < 8 && abs(sb - b) < 8)
    }

    @Test("Aperio's RGB tiles come out RGB: the white background is not magenta")
    func aperioColours() throws {
        let s = try Slide(path: slide("CMU-1-Small-Region.svs"))
        let (tile, _) = try s.read(x: 0, y: 0, level: 0, width: 240, height: 240)
        var sum = (0, 0, 0)
        for y in 0..<240 { for x in 0..<240 { let p = tile[x, y]; sum.0 += Int(p.r); sum.1 += Int(p.g); sum.2 += Int(p.b) } }
        let n = 240 * 240
        // The test-data README: tile (0,0) averages (242,240,241), not (252,123,251).
        #expect(abs(sum.0 / n - 242) <= 1 && abs(sum.1 / n - 240) <= 1 && abs(sum.2 / n - 241) <= 1)
    }
}

@Suite("The thumbnail from JPEG tiles decoded at a fraction of their size")
struct ScaledThumbnailTests {
    @Test("CMU-1-Small-Region: decoded at 1/2 in the DCT domain, the same size as OpenSlide's and within a few levels of its pixels")
    func scaledThumbnail() async throws {
        struct Measured: Sendable {
            var levelSize: (width: Int, height: Int)
            var halfSize: (width: Int, height: Int)?
            var fastSize: (width: Int, height: Int)
            var referenceSize: (width: Int, height: Int)
            var mean: Double
            var worst: Int
            var thirdIsRefused: Bool
        }
        // Decoding a whole slide and comparing millions of pixels: off the cooperative pool.
        let m = try await offPool { () throws -> Measured in
            let s = try Slide(path: slide("CMU-1-Small-Region.svs"))
            let l = s.levels[0]
            let direct = s.directTiles
            let half = try direct?.scaledLevel(0, width: l.width, height: l.height, scale: 2)
            let fast = try s.thumbnail(maxSide: 1024)
            let reference = try s.readRegion(x: 0, y: 0, level: 0, width: l.width, height: l.height).fitting(maxSide: 1024)
            var total = 0, worst = 0
            if fast.pixels.count == reference.pixels.count {
                for i in fast.pixels.indices where i % 4 != 3 {
                    let d = abs(Int(fast.pixels[i]) - Int(reference.pixels[i]))
                    total += d
                    worst = max(worst, d)
                }
            }
            try? FileManager.default.createDirectory(at: testOutput, withIntermediateDirectories: true)
            try Data(try PNG.encode(fast)).write(to: testOutput.appendingPathComponent("thumbnail-scaled-decode.png"))
            try Data(try PNG.encode(reference)).write(to: testOutput.appendingPathComponent("thumbnail-openslide.png"))
            return Measured(
                levelSize: (l.width, l.height), halfSize: half.map { ($0.width, $0.height) }, fastSize: (fast.width, fast.height),
                referenceSize: (reference.width, reference.height), mean: Double(total) / Double(fast.pixels.count / 4 * 3), worst: worst,
                thirdIsRefused: (try direct?.scaledLevel(0, width: l.width, height: l.height, scale: 3)) == nil)
        }
        let half = try #require(m.halfSize)
        #expect(half.width == (m.levelSize.width + 1) / 2 && half.height == (m.levelSize.height + 1) / 2)
        #expect(m.fastSize == m.referenceSize)
        print("scaled thumbnail vs OpenSlide + area averaging: mean |Δ| \(m.mean), max |Δ| \(m.worst) (0-255)")
        // DCT-domain scaling is not area averaging: sharp edges differ, the picture does not.
        #expect(m.mean < 5, "mean absolute difference \(m.mean)")
        #expect(m.thirdIsRefused)
    }
}

// The Swift half of Benchmarks/tiles.sh, one measurement per process so peak RSS is its own.
//
//   TileBenchmark patches SLIDE [tissue]   every level-0 256x256 patch through PatchStream (2 workers)
//   TileBenchmark cells SLIDE              the tissue cells' level-0 origins, one "x y" a line (for Python)
//   TileBenchmark decode SLIDE [tissue]    the decode limit: the same tiles' JPEGs preloaded, decoded on every core
//   TileBenchmark verify SLIDE             20 random patches, direct path vs OpenSlide, must be equal
//   TileBenchmark scaled SLIDE MPP SIDE [level0]
//                                          SIDE px patches of a MPP µm/px grid, every one: decoded in full +
//                                          area averaging, then DCT-scaled; speed of each and the error
//                                          (level0: read from level 0, as a slide without the coarser levels)
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MHSImaging
import MHSSlide

func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func seconds(since start: ContinuousClock.Instant) -> Double { (ContinuousClock.now - start) / .seconds(1) }

let args = CommandLine.arguments
guard args.count >= 3 else {
    print("usage: TileBenchmark patches|cells|decode|verify SLIDE [tissue]")
    exit(2)
}
let slide = try Slide(path: args[2])
let grid = try PatchGrid(slide: slide, patchSize: 256, resolution: .level(0))
let cores = ProcessInfo.processInfo.activeProcessorCount

switch args[1] {
case "patches":
    let tissue = args.count > 3 && args[3] == "tissue"
    let maskStart = ContinuousClock.now
    let mask = tissue ? try TissueMask.compute(slide: slide) : nil
    let maskSeconds = seconds(since: maskStart)
    // Timed like the Python side, which gets the same cell list ready-made: the mask
    // (computed once per slide, reusable by the classifier) is reported on its own.
    let start = ContinuousClock.now
    let stream = PatchStream(slide: slide, grid: grid, mask: mask, minimumTissueFraction: tissue ? 0.25 : 0, concurrency: cores)
    var n = 0
    var checksum = 0
    var direct = 0
    for try await patch in stream {
        n += 1
        checksum &+= Int(patch.image.pixels[(128 * 256 + 128) * 4])
        if patch.path == .direct { direct += 1 }
    }
    let s = seconds(since: start)
    print("op=patches tissue=\(tissue) patches=\(n) of=\(grid.count) direct=\(direct) seconds=\(s) rate=\(Double(n) / s) mask_seconds=\(maskSeconds) checksum=\(checksum) peak_rss_mib=\(peakRSSMiB())")
case "cells":
    let mask = try TissueMask.compute(slide: slide)
    for cell in PatchStream(slide: slide, grid: grid, mask: mask, minimumTissueFraction: 0.25).cells {
        let o = grid.origin(column: cell.column, row: cell.row)
        print("\(o.x) \(o.y)")
    }
case "decode":
    guard let reader = slide.directTiles else {
        print("op=decode error=no-direct-path")
        exit(1)
    }
    // The same tiles the patch run decodes: all of level 0, or the tissue cells (tissue
    // tiles carry more detail and decode slower than glass). At most 6000, spread evenly.
    let (columns, _) = reader.tileGrid(level: 0)
    let size0 = reader.tileSize(level: 0)
    var tiles: [(Int, Int)]
    if args.count > 3 && args[3] == "tissue" {
        let mask = try TissueMask.compute(slide: slide)
        tiles = PatchStream(slide: slide, grid: grid, mask: mask, minimumTissueFraction: 0.25).cells.map {
            let o = grid.origin(column: $0.column, row: $0.row)
            return (o.x / size0.width, o.y / size0.height)
        }
    } else {
        tiles = (0..<(grid.columns * grid.rows)).map { i in
            let o = grid.origin(column: i % grid.columns, row: i / grid.columns)
            return (o.x / size0.width, o.y / size0.height)
        }
    }
    _ = columns
    if tiles.count > 6000 { tiles = (0..<6000).map { tiles[$0 * tiles.count / 6000] } }
    let limit = tiles.count
    let decodeScale = Int(ProcessInfo.processInfo.environment["MHS_DECODE_SCALE"] ?? "1") ?? 1
    var streams: [[UInt8]] = []
    for (c, r) in tiles { streams.append(try reader.jpegStream(level: 0, column: c, row: r)) }
    let size = reader.tileSize(level: 0)
    let total = max(limit, 12000)
    let start = ContinuousClock.now
    let shared = streams
    await withTaskGroup(of: Void.self) { group in
        for worker in 0..<cores {
            group.addTask {
                let decoder = try! JPEGDecoder()
                var i = worker
                while i < total {
                    _ = try! decoder.decode(shared[i % shared.count], width: size.width, height: size.height, scale: decodeScale)
                    i += cores
                }
            }
        }
    }
    let s = seconds(since: start)
    print("op=decode tiles=\(total) seconds=\(s) rate=\(Double(total) / s) threads=\(cores) peak_rss_mib=\(peakRSSMiB())")
case "verify":
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<20 {
        let c = Int.random(in: 0..<grid.columns, using: &rng), r = Int.random(in: 0..<grid.rows, using: &rng)
        let o = grid.origin(column: c, row: r)
        let (direct, path) = try slide.read(x: o.x, y: o.y, level: 0, width: 256, height: 256)
        let reference = try slide.readRegion(x: o.x, y: o.y, level: 0, width: 256, height: 256)
        guard path == .direct, direct == reference else {
            print("op=verify equal=false at=\(o.x),\(o.y) path=\(path)")
            exit(1)
        }
    }
    print("op=verify equal=true patches=20")
case "scaled":
    // Both ways over the same patches (tissue only: glass decodes faster and is not what models read).
    let target = Double(args[3])!, side = Int(args[4])!
    let levels = args.count > 5 && args[5] == "level0" ? Array(slide.levels.prefix(1)) : slide.levels
    let scaledGrid = try PatchGrid(levels: levels, mpp: slide.mpp?.x, path: slide.path, patchSize: side, resolution: .mpp(target))
    let mask = try TissueMask.compute(slide: slide)
    func run(_ dct: Bool) async throws -> (rate: Double, n: Int, scale: Int) {
        let stream = PatchStream(slide: slide, grid: scaledGrid, mask: mask, minimumTissueFraction: 0.25, concurrency: cores, scaledDecoding: dct)
        let start = ContinuousClock.now
        var n = 0, scale = 1
        for try await patch in stream { n += 1; scale = patch.decodeScale }
        return (Double(n) / seconds(since: start), n, scale)
    }
    let full = try await run(false)
    let dct = try await run(true)
    // The error: every 10th tissue patch read both ways.
    let cells = PatchStream(slide: slide, grid: scaledGrid, mask: mask, minimumTissueFraction: 0.25).cells
    let fullStream = PatchStream(slide: slide, grid: scaledGrid, scaledDecoding: false)
    let dctStream = PatchStream(slide: slide, grid: scaledGrid, scaledDecoding: true)
    var sum = [0, 0, 0], worst = [0, 0, 0], pixels = 0, compared = 0
    for cell in stride(from: 0, to: cells.count, by: 10).map({ cells[$0] }) {
        let a = try fullStream.read(column: cell.column, row: cell.row).image, b = try dctStream.read(column: cell.column, row: cell.row).image
        for i in 0..<(side * side) {
            for c in 0..<3 {
                let d = abs(Int(a.pixels[i * 4 + c]) - Int(b.pixels[i * 4 + c]))
                sum[c] += d
                worst[c] = max(worst[c], d)
            }
        }
        pixels += side * side
        compared += 1
    }
    let mean = sum.map { String(format: "%.2f", Double($0) / Double(max(pixels, 1))) }.joined(separator: "/")
    print("op=scaled target_mpp=\(target) side=\(side) level=\(scaledGrid.level) read_scale=\(String(format: "%.3f", scaledGrid.readScale)) dct_scale=\(dct.scale) patches=\(dct.n) full_rate=\(full.rate) dct_rate=\(dct.rate) speedup=\(dct.rate / full.rate) compared=\(compared) mean_abs_rgb=\(mean) max_abs_rgb=\(worst.map(String.init).joined(separator: "/")) peak_rss_mib=\(peakRSSMiB())")
default:
    print("unknown operation \(args[1])")
    exit(2)
}

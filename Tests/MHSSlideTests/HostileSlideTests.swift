import Foundation
import MHSImaging
import MHSSlide
import MHSTestSupport
import Testing

/// A small editor for the regression files: walks a little-endian TIFF's directories and
/// rewrites entries in place (no shifting), so each crash class gets a file of its own.
struct TIFFEditor {
    var bytes: [UInt8]
    let big: Bool

    init(path: String) throws {
        bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        precondition(bytes[0] == 0x49, "little-endian TIFFs only")
        big = bytes[2] == 43
    }

    func u(_ at: Int, _ width: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in stride(from: width - 1, through: 0, by: -1) { v = v << 8 | UInt64(bytes[at + i]) }
        return v
    }

    mutating func put(_ at: Int, _ width: Int, _ v: UInt64) {
        for i in 0..<width { bytes[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }

    var entrySize: Int { big ? 20 : 12 }
    var countSize: Int { big ? 8 : 2 }
    var fieldSize: Int { big ? 8 : 4 }
    /// Where the first directory's offset is stored.
    var headerPointer: Int { big ? 8 : 4 }

    /// Offsets of every directory.
    var directories: [Int] {
        var list: [Int] = []
        var next = Int(u(headerPointer, fieldSize))
        while next != 0, list.count < 64 {
            list.append(next)
            let count = Int(u(next, countSize))
            next = Int(u(next + countSize + count * entrySize, fieldSize))
        }
        return list
    }

    /// The offset of directory `d`'s entry for `tag`.
    func entry(_ d: Int, _ tag: UInt16) -> Int? {
        let at = directories[d]
        let count = Int(u(at, countSize))
        return (0..<count).map { at + countSize + $0 * entrySize }.first { u($0, 2) == UInt64(tag) }
    }

    mutating func setCount(_ d: Int, _ tag: UInt16, _ count: UInt64) {
        let e = entry(d, tag)!
        put(e + 4, big ? 8 : 4, count)
    }

    /// Rewrites an entry's tag, type, count and inline value.
    mutating func rewrite(_ d: Int, _ tag: UInt16, as newTag: UInt16, type: UInt16, value: UInt64) {
        let e = entry(d, tag)!
        put(e, 2, UInt64(newTag))
        put(e + 2, 2, UInt64(type))
        put(e + 4, big ? 8 : 4, 1)
        put(e + entrySize - fieldSize, fieldSize, value)
    }

    /// Sets the first element of an array tag stored out of line.
    mutating func setFirstExternal(_ d: Int, _ tag: UInt16, width: Int, _ value: UInt64) {
        let e = entry(d, tag)!
        let at = Int(u(e + entrySize - fieldSize, fieldSize))
        put(at, width, value)
    }

    func write(_ name: String) throws -> String {
        let path = hostileFolder + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// `mhs inspect --read` on a hostile file must end with 0 or 4, never a signal or a hang.
func inspectSurvives(_ path: String, _ comment: Comment? = nil) async throws -> Outcome {
    let r = try await mhs(["inspect", "--read", "--json", path], environment: ["MHS_PROBE_TIMEOUT": "20s"].merging(ProcessInfo.processInfo.environment) { a, _ in a })
    #expect(r.status == 0 || r.status == 4, "\(comment?.description ?? path): \(r.all)")
    #expect(!r.stderr.contains("Program crashed"), "\(r.all)")
    return r
}

/// One regression file per crash class the fuzz harness (`Fuzz/`) and the issue found; each
/// went through the real binary (and, where it was a Swift trap, through the public API
/// in-process too).
@Suite("Hostile slide bytes: each crash class found, on a small generated file")
struct HostileSlideTests {
    @Test("BigTIFF: an IFD offset, entry count, description count or tile offset of 2^63 or more is refused, not trapped")
    func bigTIFF64() async throws {
        let base = try TIFFEditor(path: syntheticBigTIFF)
        var offset = base
        offset.put(offset.headerPointer, 8, 1 << 63 | 5)
        var count = base
        count.put(count.directories[0], 8, 1 << 63)
        var description = base
        description.setCount(0, 270, 1 << 63 | 1)
        var tile = base
        tile.setFirstExternal(0, 324, width: 8, 1 << 63 | 1)
        for (name, edited) in [("offset", offset), ("count", count), ("description", description), ("tile", tile)] {
            let path = try edited.write("bigtiff-\(name).svs")
            _ = SlideFormat.sniff(path: path)  // must not trap
            _ = try await inspectSurvives(path, "BigTIFF \(name)")
        }
        // In-process: the huge tile offset is a read error on the direct path.
        let s = try Slide(path: try tile.write("bigtiff-tile-inproc.svs"))
        let direct = try #require(s.directTiles)
        #expect(throws: SlideError.self) { try direct.jpegStream(level: 0, column: 0, row: 0) }
        #expect(SlideFormat.sniff(path: try description.write("bigtiff-description-sniff.svs")) == .tiff(bigTIFF: true))
    }

    @Test("an ignored tag whose count asks for gigabytes costs nothing")
    func hugeIgnoredCount() async throws {
        var e = try TIFFEditor(path: syntheticSlide)
        e.setCount(0, 530, 0x7FFF_FFFF)  // YCbCrSubsampling, never read by the direct path
        let path = try e.write("huge-ignored-count.svs")
        let s = try Slide(path: path)
        #expect(s.directTiles != nil, "the direct path still opens: the tag was never read")
        _ = try await inspectSurvives(path)
    }

    @Test("duplicate TileWidth (0 first, 0x7FFFFFFF after): the direct path steps aside, nothing divides by zero", arguments: [
        (UInt16(254), UInt64(0)), (UInt16(530), UInt64(0x7FFF_FFFF)), (UInt16(254), UInt64(0x7FFF_FFFF)),
    ])
    func duplicateTileWidth(_ replaced: UInt16, _ value: UInt64) async throws {
        var e = try TIFFEditor(path: syntheticSlide)
        for d in e.directories.indices { e.rewrite(d, replaced, as: 322, type: 4, value: value) }
        let path = try e.write("duplicate-tilewidth-\(replaced)-\(value).svs")
        if let s = try? Slide(path: path) {
            #expect(s.directTiles == nil, "conflicting TileWidth entries: OpenSlide serves the slide alone")
        }
        _ = try await inspectSurvives(path)
    }

    @Test("a zero tile size without a duplicate is refused by the direct path")
    func zeroTileSize() async throws {
        var e = try TIFFEditor(path: syntheticSlide)
        for d in e.directories.indices { e.rewrite(d, 322, as: 322, type: 4, value: 0) }
        let path = try e.write("zero-tilewidth.svs")
        #expect(TIFFTileReader.open(path: path, expecting: [SlideLevel(width: 2048, height: 1536, downsample: 1)]) == nil)
        _ = try await inspectSurvives(path)
    }

    @Test("DICOM: a total pixel matrix near 2^32 x 2^32 does not overflow the grid or the thumbnail")
    func dicomHugeMatrix() async throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: slide("wsi2dcm-test-jpeg.dcm"))))
        for tag: [UInt8] in [[0x48, 0x00, 0x06, 0x00], [0x48, 0x00, 0x07, 0x00]] {
            let at = try #require(bytes.indices.first { bytes[$0..<min($0 + 4, bytes.count)].elementsEqual(tag) && bytes[$0 + 4] == 0x55 })
            for i in 0..<4 { bytes[at + 8 + i] = 0xFF }  // UL value FFFFFFFF
            bytes[at + 8] = 0xFE
        }
        let path = try hostile("huge-matrix.dcm", bytes)
        #expect(DICOMFrameReader.open(slideFile: path, expecting: [SlideLevel(width: 0xFFFF_FFFE, height: 0xFFFF_FFFE, downsample: 1)]) == nil)
        _ = try await inspectSurvives(path)
    }

    @Test("DICOM TILED_SPARSE: OpenSlide's segfault is contained in the probe and named, exit 4")
    func tiledSparse() async throws {
        let path = try tiledSparseDICOM()
        let r = try await inspectSurvives(path)
        #expect(r.status == 4)
        #expect(r.stderr.contains("OpenSlide crashed (SIGSEGV) opening this DICOM"), "\(r.stderr)")
    }

    @Test("an MPP of 1e300, 0 or 1000 is treated as missing, with a warning; absurd grids are clear errors")
    func absurdMPP() async throws {
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: slide("CMU-1-Small-Region.svs"))))
        for (name, mpp) in [("1e300", "1e+300"), ("zero", "0.0000"), ("1000", "1000.0")] {
            var bytes = original
            var i = 0
            while let at = (i..<(bytes.count - 12)).first(where: { bytes[$0..<($0 + 12)].elementsEqual(Array("MPP = 0.4990".utf8)) }) {
                bytes.replaceSubrange((at + 6)..<(at + 12), with: Array(mpp.utf8))
                i = at + 12
            }
            let s = try Slide(path: try hostile("mpp-\(name).svs", bytes))
            #expect(s.mpp == nil)
            #expect(s.mppWarning?.contains("outside the plausible") == true)
            #expect(throws: PatchGridError.missingMPP(path: s.path)) { try PatchGrid(slide: s, patchSize: 256, resolution: .mpp(1)) }
        }
        let levels = [SlideLevel(width: 46_000, height: 32_914, downsample: 1)]
        #expect(throws: PatchGridError.resolutionUnavailable(target: 1, slideMPP: 352.8)) {
            try PatchGrid(levels: levels, mpp: 352.8, path: "x", patchSize: 256, resolution: .mpp(1))
        }
        let huge = [SlideLevel(width: 200_000, height: 200_000, downsample: 1)]
        do {
            _ = try PatchGrid(levels: huge, mpp: 0.25, path: "x", patchSize: 8, stride: 1, resolution: .mpp(0.25))
            Issue.record("a 4e10-patch grid was made")
        } catch {
            #expect(error.description.contains("39997200049 patches, over the cap of 10000000"), "\(error)")
        }
    }

    @Test("a zip whose deflate data is zeroed, truncated or mis-sized ends in an error, never a spin")
    func zipInflate() async throws {
        let zip = slide("dicom-cmu-1-small-region.zip")
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: zip)))
        func u(_ b: [UInt8], _ at: Int, _ w: Int) -> Int { (0..<w).reduce(0) { $0 | Int(b[at + $1]) << (8 * $1) } }
        let eocd = try #require((0...(original.count - 22)).last { u(original, $0, 4) == 0x0605_4B50 })
        let entries = u(original, eocd + 10, 2), cd = u(original, eocd + 16, 4)
        var central: [Int] = [cd]
        for _ in 0..<(entries - 1) {
            let at = central.last!
            central.append(at + 46 + u(original, at + 28, 2) + u(original, at + 30, 2) + u(original, at + 32, 2))
        }
        // The first entry's deflate data, zeroed (sizes kept).
        var zeroed = original
        let local = u(original, central[0] + 42, 4), compressed = u(original, central[0] + 20, 4)
        let start = local + 30 + u(original, local + 26, 2) + u(original, local + 28, 2)
        for i in start..<(start + compressed) { zeroed[i] = 0 }
        // The last entry's compressed size in the central directory, halved: the stream
        // runs out before it ends (ZIPFoundation's reader spun at the end of the file here).
        var short = original
        let at = central.last!
        let size = u(short, at + 20, 4)
        for k in 0..<4 { short[at + 20 + k] = UInt8((size / 2) >> (8 * k) & 0xFF) }
        var bomb = original
        for k in 0..<4 { bomb[at + 24 + k] = 0xFF }  // uncompressed size 4 GiB - 1
        for (name, bytes) in [("zeroed", zeroed), ("short", short), ("mis-sized", bomb)] {
            let path = try hostile("zip-\(name).zip", bytes)
            let start = ContinuousClock.now
            #expect(throws: SeriesArchiveError.self, "\(name)") { try SeriesArchive.extract(path, into: hostileFolder + "/zip-\(name)") }
            #expect(ContinuousClock.now - start < .seconds(20), "\(name) ended")
            let r = try await inspectSurvives(path)
            #expect(r.status == 4)
        }
    }

    @Test("a series folder, a series zip and a folder without DICOM: mhs inspect says which, never 'the file is empty'")
    func inspectSeries() async throws {
        for target in ["dicom-cmu-1-small-region", "dicom-cmu-1-small-region.zip", "dicom-boxes"] {
            let r = try await mhs(["inspect", "--json", slide(target)])
            #expect(r.status == 0, "\(r.all)")
            #expect(r.stdout.contains("\"opened\""), "\(r.stdout)")
            #expect(r.stdout.contains("\"vendor\":\"dicom\""))
        }
        let empty = hostileFolder + "/no-dicom"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: empty + "/notes.txt"))
        let r = try await mhs(["inspect", empty])
        #expect(r.status == 4)
        #expect(r.stderr.contains("holds no DICOM file") && !r.stderr.contains("empty"), "\(r.stderr)")
        #expect(SlideFormat.sniff(path: empty) != .unsupported("the file is empty"))
    }

    @Test("OpenSlide's SIGSEGV on a big-endian TIFF whose two header offsets disagree, and its SIGFPE on a 65535 x 1 tile grid: contained, exit 4", arguments: [
        ("be-header-mismatch.svs", "SIGSEGV"), ("bigtiff-be-geometry.svs", "SIGFPE"),
    ])
    func openslideCrashes(_ name: String, _ signal: String) async throws {
        // Made by the fuzz harness's own TIFF converter (Fuzz/regressions.py).
        let folder = hostileFolder + "/converted-" + name  // one per case: the cases run in parallel
        let status = try await runProgram("/usr/bin/env", ["python3", repositoryRoot.appendingPathComponent("Fuzz/regressions.py").path, slidesDirectory, folder])
        #expect(status == 0)
        let r = try await inspectSurvives(folder + "/" + name)
        #expect(r.status == 4)
        #expect(r.stderr.contains("OpenSlide crashed (\(signal)) opening this"), "\(r.stderr)")
    }

    @Test("a zip bomb ratio past Int.max is printed, not trapped; an infinite objective power is missing")
    func hugeNumbersInWords() async throws {
        #expect(SeriesArchiveError.tooLarge(entry: "x.dcm", ratio: 9.2e18).description.contains("9.2e+18x"))
        // "AppMag = 20|StripeWidth" becomes "AppMag = inf|tripeWidth": same length, and
        // OpenSlide copies it into openslide.objective-power, which must not reach JSON as inf.
        var inf = Array(try Data(contentsOf: URL(fileURLWithPath: slide("CMU-1-Small-Region.svs"))))
        var i = 0
        while let at = (i..<(inf.count - 13)).first(where: { inf[$0..<($0 + 13)].elementsEqual(Array("AppMag = 20|S".utf8)) }) {
            inf.replaceSubrange((at + 9)..<(at + 13), with: Array("inf|".utf8))
            i = at + 13
        }
        #expect(i > 0)
        for path in [try hostile("appmag-inf.svs", inf)] {
            let r = try await mhs(["inspect", "--json", path])
            #expect(r.status == 0, "\(r.all)")
            #expect(r.stdout.contains("\"objective_power\":null"), "\(r.stdout)")
        }
    }

    @Test("the probe hands its thumbnail over; a hand-over of the wrong size or shape is refused")
    func thumbnailHandOver() async throws {
        let path = slide("CMU-1-Small-Region.svs")
        let file = hostileFolder + "/handed-over.rgba"
        let outcome = await SlideProbe(executable: mhsBinary).check(path, thumbnail: file)
        #expect(outcome == .readable)
        let image = try #require(SlideProbe.readThumbnail(from: file))
        #expect(!FileManager.default.fileExists(atPath: file), "read once, then removed")
        let s = try Slide(path: path)
        #expect(!s.adoptThumbnail(RGBAImage(width: 10, height: 10, fill: RGBA(0, 0, 0, 255)), maxSide: 1024))
        #expect(s.adoptThumbnail(image, maxSide: 1024))
        #expect(try s.thumbnail(maxSide: 1024).pixels == (try Slide(path: path).thumbnail(maxSide: 1024)).pixels, "the same pixels as reading it here")
        try Data("MHSRGBA1 not really".utf8).write(to: URL(fileURLWithPath: file))
        #expect(SlideProbe.readThumbnail(from: file) == nil)
    }

    @Test("a probe past its time limit is stopped and named")
    func probeTimeout() async throws {
        let probe = SlideProbe(executable: mhsBinary, timeout: .milliseconds(1))
        let finding = try #require(await probe.problem(with: slide("CMU-1-Small-Region.svs")))
        guard case .hung = finding.outcome else { Issue.record("\(finding)"); return }
        #expect(finding.message.contains("this Aperio SVS took longer than 0.001 s (MHS_PROBE_TIMEOUT)"), "\(finding.message)")
    }

    @Test("a child started before its slide: reads a good slide, names a crash, stops a hang, and falls back when it cannot start")
    func startedChild() async throws {
        let good = slide("CMU-1-Small-Region.svs")
        let file = hostileFolder + "/started.rgba"
        let readable = try await SlideProbe(executable: mhsBinary).withStartedChild { child in
            try await Task.sleep(for: .milliseconds(200))  // a download: the child waits for its slide
            return await child.problem(with: good, thumbnail: file)
        }
        #expect(readable == nil)
        #expect(SlideProbe.readThumbnail(from: file) != nil, "the started child hands its thumbnail over too")

        // OpenSlide's SIGFPE on a 65535 x 1 tile grid, as the cold probe names it.
        let folder = hostileFolder + "/started-converted"
        _ = try await runProgram("/usr/bin/env", ["python3", repositoryRoot.appendingPathComponent("Fuzz/regressions.py").path, slidesDirectory, folder])
        let crash = try #require(await SlideProbe(executable: mhsBinary).withStartedChild { await $0.problem(with: folder + "/bigtiff-be-geometry.svs") })
        #expect(crash.message.contains("OpenSlide crashed (SIGFPE) opening this"), "\(crash.message)")

        // The time limit runs from the hand-over, not from the child's start.
        let hung = try #require(
            await SlideProbe(executable: mhsBinary, timeout: .milliseconds(1)).withStartedChild { child in
                try await Task.sleep(for: .milliseconds(100))
                return await child.problem(with: good)
            })
        guard case .hung = hung.outcome else { Issue.record("\(hung)"); return }

        // No executable: the started child never runs, and the cold probe says so.
        let missing = try #require(await SlideProbe(executable: "/nonexistent/mhs").withStartedChild { await $0.problem(with: good) })
        guard case .failedToRun = missing.outcome else { Issue.record("\(missing)"); return }
        #expect(missing.message.contains("/nonexistent/mhs"), "\(missing.message)")
    }

    @Test("a started child never given a slide ends with the scope, whatever the body did")
    func startedChildUnused() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        struct DownloadFailed: Error {}
        await #expect(throws: DownloadFailed.self) {
            try await SlideProbe(executable: mhsBinary).withStartedChild { _ in throw DownloadFailed() }
        }
        let value = try await SlideProbe(executable: mhsBinary).withStartedChild { _ in 42 }
        #expect(value == 42)
        print("two unused started children came and went in \(clock.now - start)")
        #expect(SlideProbe.parseRequest(Array("a b\u{0}\u{0}".utf8))! == ("a b", nil))
        #expect(SlideProbe.parseRequest(Array("\u{0}x\u{0}".utf8)) == nil, "no slide path")
        #expect(SlideProbe.parseRequest(Array("a".utf8)) == nil, "not ended")
    }
}

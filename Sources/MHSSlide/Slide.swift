import MHSImaging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What went wrong with a slide, in words a lab can act on. Every case names the file.
public enum SlideError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No OpenSlide library could be loaded.
    case libraryNotFound(searched: [String])
    /// A library was found but lacks a function OpenSlide 3.4+ has.
    case libraryUnusable(path: String, missing: String)
    /// The file does not exist or cannot be read.
    case unreadableFile(path: String, reason: String)
    /// OpenSlide does not recognise the format.
    case unsupportedFormat(path: String, detail: String)
    /// OpenSlide recognised the file but failed on it (corrupt, truncated, ...).
    case openslideFailed(path: String, message: String)
    /// A request outside what the slide has (level, region size).
    case invalidRequest(path: String, message: String)

    public var description: String {
        switch self {
        case .libraryNotFound(let searched):
            "OpenSlide 4 was not found (looked at: \(searched.joined(separator: "; "))); install it with `pip install openslide-bin` or set MHS_OPENSLIDE_LIB"
        case .libraryUnusable(let path, let missing):
            "the OpenSlide library at \(path) has no \(missing); it is too old or not OpenSlide"
        case .unreadableFile(let path, let reason): "\(path): cannot read the file: \(reason)"
        case .unsupportedFormat(let path, let detail): "\(path): not a slide format OpenSlide can open (\(detail))"
        case .openslideFailed(let path, let message): "\(path): OpenSlide failed: \(message)"
        case .invalidRequest(let path, let message): "\(path): \(message)"
        }
    }
}

/// One pyramid level.
public struct SlideLevel: Sendable, Hashable {
    public var width: Int
    public var height: Int
    /// Level-0 pixels per pixel of this level.
    public var downsample: Double

    public init(width: Int, height: Int, downsample: Double) {
        self.width = width
        self.height = height
        self.downsample = downsample
    }
}

/// A whole-slide image opened through OpenSlide (SVS, TIFF, DICOM and the other formats
/// OpenSlide reads).
///
/// Thread safety: OpenSlide handles are safe to read from several threads at once, so a
/// `Slide` may be shared across tasks. OpenSlide errors are sticky: after one, every read
/// on the same handle fails with the same message.
public final class Slide: @unchecked Sendable {
    // @unchecked: the handle is only read after init, and OpenSlide serialises internally.

    /// The path it was opened from.
    public let path: String
    /// OpenSlide's vendor name (`aperio`, `generic-tiff`, `dicom`, ...).
    public let vendor: String?
    /// The pyramid, level 0 (full resolution) first.
    public let levels: [SlideLevel]
    /// Every OpenSlide property (`openslide.mpp-x`, `aperio.AppMag`, ...).
    public let properties: [String: String]
    /// Names and sizes of associated images (label, macro, thumbnail).
    public let associatedImages: [String: (width: Int, height: Int)]

    /// The direct JPEG path, when every level is a tiled JPEG TIFF directory or a JPEG
    /// baseline TILED_FULL DICOM instance.
    public let directTiles: (any DirectTiles)?

    private let library: OpenSlideLibrary
    private let handle: OpaquePointer
    /// Thumbnails already read, by `maxSide`: the runner's picture, the tissue mask and the
    /// emulator's page ask for the same one.
    private let thumbnails = Mutex<[Int: RGBAImage]>([:])
    /// Tiles decoded at a reduction for ``readScaled(x:y:level:width:height:scale:)``, shared by
    /// every reader of the slide (32 MiB at most).
    private let scaledTiles = ScaledTileCache()

    /// Opens the slide at `path`.
    /// - Throws: ``SlideError`` naming the file and what was wrong.
    public init(path: String) throws(SlideError) {
        self.path = path
        let lib = try OpenSlideLibrary.shared()
        library = lib
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw .unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        if st.st_size == 0 { throw .unsupportedFormat(path: path, detail: "the file is empty") }
        vendor = lib.detectVendor(path).map { String(cString: $0) }
        guard let h = lib.open(path) else {
            throw .unsupportedFormat(path: path, detail: "format not recognised")
        }
        if let e = lib.getError(h) {
            let message = String(cString: e)
            lib.close(h)
            throw .openslideFailed(path: path, message: message)
        }
        handle = h
        let count = lib.levelCount(h)
        var levels: [SlideLevel] = []
        for l in 0..<max(count, 0) {
            var w: Int64 = 0
            var hgt: Int64 = 0
            lib.levelDimensions(h, l, &w, &hgt)
            levels.append(SlideLevel(width: Int(w), height: Int(hgt), downsample: lib.levelDownsample(h, l)))
        }
        var props: [String: String] = [:]
        for name in Self.strings(lib.propertyNames(h)) {
            props[name] = name.withCString { lib.propertyValue(h, $0) }.map { String(cString: $0) }
        }
        var associated: [String: (width: Int, height: Int)] = [:]
        for name in Self.strings(lib.associatedNames(h)) {
            var w: Int64 = 0
            var hgt: Int64 = 0
            name.withCString { lib.associatedDimensions(h, $0, &w, &hgt) }
            associated[name] = (Int(w), Int(hgt))
        }
        self.levels = levels
        self.properties = props
        self.associatedImages = associated
        if let e = lib.getError(h) {
            lib.close(h)
            throw .openslideFailed(path: path, message: String(cString: e))
        }
        if levels.isEmpty || levels[0].width <= 0 || levels[0].height <= 0 {
            lib.close(h)
            throw .openslideFailed(path: path, message: "the slide reports no usable level")
        }
        if let bad = levels.firstIndex(where: { $0.width <= 0 || $0.height <= 0 || !$0.downsample.isFinite || $0.downsample <= 0 }) {
            let l = levels[bad]
            lib.close(h)
            throw .openslideFailed(path: path, message: "level \(bad) reports \(l.width)x\(l.height) pixels at downsample \(l.downsample)")
        }
        switch vendor {
        case "aperio", "generic-tiff": directTiles = TIFFTileReader.open(path: path, expecting: levels)
        case "dicom": directTiles = DICOMFrameReader.open(slideFile: path, expecting: levels)
        default: directTiles = nil
        }
    }

    /// Which decoder served a read.
    public enum ReadPath: String, Sendable {
        /// JPEG tiles read from the file and decoded with libturbojpeg.
        case direct
        /// OpenSlide's `read_region`.
        case openslide
    }

    /// Reads a region at 1/`scale` (2, 4 or 8) of the level's resolution, decoded that small
    /// in the DCT domain through the direct JPEG path (see
    /// ``DirectTiles/readRegion(x:y:level:width:height:downsample:levelWidth:levelHeight:scale:)``);
    /// nil when the slide has no direct path or its tiles do not divide by `scale`.
    public func readScaled(x: Int, y: Int, level: Int, width: Int, height: Int, scale: Int) throws(SlideError) -> RGBAImage? {
        guard let directTiles, levels.indices.contains(level) else { return nil }
        let l = levels[level]
        return try directTiles.readRegion(
            x: x, y: y, level: level, width: width, height: height, downsample: l.downsample, levelWidth: l.width, levelHeight: l.height, scale: scale,
            cache: scaledTiles)
    }

    /// Reads a region the fastest way that gives OpenSlide's pixels: the direct JPEG tile
    /// path when the slide has one and the region's origin falls on whole pixels of the
    /// level, else OpenSlide (which also resamples fractional origins).
    public func read(x: Int, y: Int, level: Int, width: Int, height: Int) throws(SlideError) -> (image: RGBAImage, path: ReadPath) {
        let d = levels.indices.contains(level) ? levels[level].downsample : 1
        if let directTiles, Double(x) / d == (Double(x) / d).rounded(), Double(y) / d == (Double(y) / d).rounded() {
            return (try directTiles.readRegion(x: x, y: y, level: level, width: width, height: height, downsample: d), .direct)
        }
        return (try readRegion(x: x, y: y, level: level, width: width, height: height), .openslide)
    }

    deinit { library.close(handle) }

    private static func strings(_ list: UnsafePointer<UnsafePointer<CChar>?>?) -> [String] {
        guard let list else { return [] }
        var result: [String] = []
        var i = 0
        while let s = list[i] {
            result.append(String(cString: s))
            i += 1
        }
        return result
    }

    /// Level-0 width and height.
    public var dimensions: (width: Int, height: Int) { (levels[0].width, levels[0].height) }

    /// The range of microns per pixel a real scan has (a 1x overview is about 10; the
    /// finest scanners about 0.1).
    public static let plausibleMPP: ClosedRange<Double> = 0.05...100

    /// Microns per pixel at level 0, when the slide says and the value is plausible
    /// (``plausibleMPP``); an implausible value is treated as missing (see ``mppWarning``).
    public var mpp: (x: Double, y: Double)? {
        guard let x = recordedMPP.x, let y = recordedMPP.y, Self.plausibleMPP.contains(x), Self.plausibleMPP.contains(y) else { return nil }
        return (x, y)
    }

    /// What the slide's properties say, unchecked.
    private var recordedMPP: (x: Double?, y: Double?) {
        (properties["openslide.mpp-x"].flatMap(Double.init), properties["openslide.mpp-y"].flatMap(Double.init))
    }

    /// Why a recorded MPP is not used, when it is not.
    public var mppWarning: String? {
        let (x, y) = recordedMPP
        guard x != nil || y != nil, mpp == nil else { return nil }
        func show(_ v: Double?) -> String { v.map { "\($0)" } ?? "missing" }
        return "the slide records an MPP of \(show(x)) x \(show(y)) µm/px, outside the plausible \(Self.plausibleMPP.lowerBound)–\(Int(Self.plausibleMPP.upperBound)) µm/px, so it is treated as missing"
    }

    /// Scanning objective magnification, when the slide says.
    public var objectivePower: Double? { properties["openslide.objective-power"].flatMap(Double.init).flatMap { $0.isFinite && $0 > 0 ? $0 : nil } }

    /// The OpenSlide library serving this slide.
    public var openslideVersion: String { library.version }

    private func failIfError() throws(SlideError) {
        if let e = library.getError(handle) { throw .openslideFailed(path: path, message: String(cString: e)) }
    }

    /// Reads a region as un-premultiplied RGBA.
    /// - Parameters:
    ///   - x, y: top-left corner in level-0 pixels.
    ///   - level: pyramid level to read from.
    ///   - width, height: size in pixels of that level.
    public func readRegion(x: Int, y: Int, level: Int, width: Int, height: Int) throws(SlideError) -> RGBAImage {
        guard levels.indices.contains(level) else {
            throw .invalidRequest(path: path, message: "level \(level) does not exist (the slide has \(levels.count))")
        }
        guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15, width * height <= 1 << 28 else {
            throw .invalidRequest(path: path, message: "region \(width)x\(height) is empty or too large to read at once")
        }
        var argb = [UInt32](repeating: 0, count: width * height)
        argb.withUnsafeMutableBufferPointer { buffer in
            library.readRegion(handle, buffer.baseAddress!, Int64(x), Int64(y), Int32(level), Int64(width), Int64(height))
        }
        try failIfError()
        return Self.unpremultiply(argb, width: width, height: height)
    }

    /// Reads an associated image (label, macro, ...) as RGBA.
    public func readAssociatedImage(_ name: String) throws(SlideError) -> RGBAImage {
        guard let size = associatedImages[name] else {
            throw .invalidRequest(path: path, message: "no associated image named \(name) (has: \(associatedImages.keys.sorted().joined(separator: ", ")))")
        }
        guard size.width > 0, size.height > 0, size.width <= 1 << 15, size.height <= 1 << 15 else {
            throw .invalidRequest(path: path, message: "the associated image \(name) reports \(size.width)x\(size.height) pixels, too large to read")
        }
        var argb = [UInt32](repeating: 0, count: size.width * size.height)
        argb.withUnsafeMutableBufferPointer { buffer in
            name.withCString { library.readAssociated(handle, $0, buffer.baseAddress!) }
        }
        try failIfError()
        return Self.unpremultiply(argb, width: size.width, height: size.height)
    }

    /// A whole-slide picture whose longer side is at most `maxSide` pixels, read from the
    /// smallest level that is still at least that big, then box-filtered down.
    /// Read once per size and kept (4 MiB for 1024 px).
    public func thumbnail(maxSide: Int = 1024) throws(SlideError) -> RGBAImage {
        let side = max(1, maxSide)
        if let kept = thumbnails.withLock({ $0[side] }) { return kept }
        let image = try readThumbnail(side: side)
        thumbnails.withLock { $0[side] = image }
        return image
    }

    /// Keeps a thumbnail made elsewhere from the same file — by the ``SlideProbe`` child,
    /// which already decoded it — so ``thumbnail(maxSide:)`` does not read it again. Refused
    /// (false) unless its size is what this slide's thumbnail at `maxSide` would be.
    @discardableResult
    public func adoptThumbnail(_ image: RGBAImage, maxSide: Int) -> Bool {
        let side = max(1, maxSide)
        guard let pick = try? thumbnailLevel(side: side) else { return false }
        let l = levels[pick]
        let scale = min(1, Double(side) / Double(max(l.width, l.height)))
        let expected = (max(1, Int((Double(l.width) * scale).rounded())), max(1, Int((Double(l.height) * scale).rounded())))
        guard abs(image.width - expected.0) <= 1, abs(image.height - expected.1) <= 1, image.pixels.count == image.width * image.height * 4
        else { return false }
        thumbnails.withLock { $0[side] = image }
        return true
    }

    /// The level ``thumbnail(maxSide:)`` reads for `side`.
    private func thumbnailLevel(side: Int) throws(SlideError) -> Int {
        func area(_ l: SlideLevel) -> Int {
            let (a, overflow) = l.width.multipliedReportingOverflow(by: l.height)
            return overflow ? .max : a
        }
        var pick = levels.indices.last { max(levels[$0].width, levels[$0].height) >= side } ?? 0
        while pick + 1 < levels.count, area(levels[pick]) > 1 << 26 { pick += 1 }
        let l = levels[pick]
        guard area(l) <= 1 << 26, l.width <= 1 << 15, l.height <= 1 << 15 else {
            throw .invalidRequest(path: path, message: "no pyramid level is small enough for a thumbnail (smallest is \(l.width)x\(l.height))")
        }
        return pick
    }

    /// Makes OpenSlide decode what ``thumbnail(maxSide:)`` would read, without converting
    /// the pixels (for ``SlideProbe``).
    func touchThumbnailLevel(maxSide: Int = 1024) throws(SlideError) {
        let pick = try thumbnailLevel(side: max(1, maxSide))
        let l = levels[pick]
        var argb = [UInt32](repeating: 0, count: l.width * l.height)
        argb.withUnsafeMutableBufferPointer { buffer in
            library.readRegion(handle, buffer.baseAddress!, 0, 0, Int32(pick), Int64(l.width), Int64(l.height))
        }
        try failIfError()
    }

    private func readThumbnail(side: Int) throws(SlideError) -> RGBAImage {
        // The smallest level still at least `side` pixels on its longer side (level 0 when
        // none is), then smaller levels while that one is too big to read at once.
        let pick = try thumbnailLevel(side: side)
        let l = levels[pick]
        // JPEG tiles read directly: decoded at the largest 1/2, 1/4 or 1/8 that still
        // leaves at least `side` pixels, in the DCT domain, then resampled (the run's
        // thumbnail is most of the whole task's time otherwise). OpenSlide for the rest.
        if let direct = directTiles,
            let scale = [8, 4, 2].first(where: { max(l.width, l.height) / $0 >= side }),
            let scaled = try? direct.scaledLevel(pick, width: l.width, height: l.height, scale: scale)
        {
            return scaled.fitting(maxSide: side)
        }
        return try readRegion(x: 0, y: 0, level: pick, width: l.width, height: l.height).fitting(maxSide: side)
    }

    /// Converts OpenSlide's premultiplied native-endian ARGB to straight RGBA.
    static func unpremultiply(_ argb: [UInt32], width: Int, height: Int) -> RGBAImage {
        var out = [UInt8](repeating: 0, count: width * height * 4)
        out.withUnsafeMutableBufferPointer { o in
            argb.withUnsafeBufferPointer { p in
                for i in 0..<p.count {
                    let v = p[i]
                    let a = UInt32(v >> 24)
                    var r = (v >> 16) & 0xFF
                    var g = (v >> 8) & 0xFF
                    var b = v & 0xFF
                    if a != 255 && a != 0 {
                        r = min(255, (r * 255 + a / 2) / a)
                        g = min(255, (g * 255 + a / 2) / a)
                        b = min(255, (b * 255 + a / 2) / a)
                    }
                    o[i * 4] = UInt8(r)
                    o[i * 4 + 1] = UInt8(g)
                    o[i * 4 + 2] = UInt8(b)
                    o[i * 4 + 3] = UInt8(a)
                }
            }
        }
        return RGBAImage(width: width, height: height, pixels: out)
    }
}

/// At what resolution patches are wanted.
public enum PatchResolution: Sendable, Equatable {
    /// Microns per pixel (e.g. 0.5 for a "20x" model); needs the slide's MPP.
    case mpp(Double)
    /// A pyramid level, as it is.
    case level(Int)
}

/// Why a patch grid cannot be made.
public enum PatchGridError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingMPP(path: String)
    case noSuchLevel(Int, levels: Int)
    case invalid(String)
    /// The target is finer than the slide can give (more than 2x upsampling of level 0).
    case resolutionUnavailable(target: Double, slideMPP: Double)
    /// The grid would have more patches than the cap.
    case tooManyPatches(Double, cap: Int)

    public var description: String {
        switch self {
        case .missingMPP(let path):
            "\(path) records no MPP (microns per pixel), so patches at a target MPP cannot be placed; give a pyramid level instead (PatchResolution.level)"
        case .noSuchLevel(let l, let n): "level \(l) does not exist (the slide has \(n))"
        case .invalid(let why): why
        case .resolutionUnavailable(let target, let mpp):
            "the grid wants \(target) µm/px but the slide's finest level is \(mpp) µm/px: more than 2x finer than the slide can give"
        case .tooManyPatches(let n, let cap):
            "the grid would have \(n < 1e15 ? String(Int64(n)) : String(n)) patches, over the cap of \(cap)"
        }
    }
}

/// A regular grid of square patches over a slide at one resolution, WSInfer-style: patches
/// lie wholly inside the slide, `stride` apart (less than `patchSize` overlaps them).
/// With `coverEdges`, a last column and row are added flush with the slide's right and
/// bottom edges (overlapping their neighbours more), so every pixel is in some patch.
///
/// The pyramid level read is the smallest one at least as sharp as the target; when its
/// resolution differs from the target by more than 1%, each patch is read larger and
/// resampled down to `patchSize`.
public struct PatchGrid: Sendable, Equatable {
    /// Output patch side in pixels.
    public let patchSize: Int
    /// Step between patch origins, in output pixels.
    public let stride: Int
    /// The level read from.
    public let level: Int
    /// That level's downsample.
    public let levelDownsample: Double
    /// Level-0 pixels per output pixel.
    public let targetDownsample: Double
    public let columns: Int
    public let rows: Int
    /// Whether the last column and row sit flush with the slide's edges.
    public let coversEdges: Bool
    /// Level-0 size of the slide.
    public let slideWidth: Int
    public let slideHeight: Int

    /// Level pixels read per output pixel (1 when the level matches the target).
    public var readScale: Double { targetDownsample / levelDownsample }
    /// Whether patches need resampling after the read.
    public var resamples: Bool { abs(readScale - 1) > 0.01 }
    /// The largest JPEG decoding reduction (2, 4 or 8) that does not undershoot the target
    /// (nil below 2x): patches can be decoded that much smaller in the DCT domain, leaving
    /// only `readScale / dctScale` to resample.
    public var dctScale: Int? { [8, 4, 2].first { Double($0) <= readScale * (1 + 1e-9) } }
    /// Side of a patch in level-0 pixels.
    public var extent: Double { Double(patchSize) * targetDownsample }
    public var count: Int { columns * rows }

    /// The most patches a grid may have unless told otherwise: ten million (a 150,000 px
    /// square slide in 64 px patches at level 0 has 5.5 million).
    public static let defaultMaximumPatches = 10_000_000

    /// - Throws: ``PatchGridError``: no MPP for an MPP target, a target more than 2x finer
    ///   than level 0, more than `maximumPatches` patches.
    public init(
        levels: [SlideLevel], mpp: Double?, path: String, patchSize: Int, stride: Int? = nil, resolution: PatchResolution,
        coverEdges: Bool = false, maximumPatches: Int = PatchGrid.defaultMaximumPatches
    ) throws(PatchGridError) {
        guard patchSize > 0, patchSize <= 1 << 14 else { throw .invalid("patch size must be from 1 to 16384 pixels") }
        let stride = stride ?? patchSize
        guard stride > 0, stride <= 1 << 20 else { throw .invalid("stride must be from 1 to 1048576 pixels") }
        guard !levels.isEmpty, levels[0].width > 0, levels[0].height > 0 else { throw .invalid("the slide has no usable level") }
        self.patchSize = patchSize
        self.stride = stride
        switch resolution {
        case .level(let l):
            guard levels.indices.contains(l) else { throw .noSuchLevel(l, levels: levels.count) }
            level = l
            levelDownsample = levels[l].downsample
            targetDownsample = levels[l].downsample
        case .mpp(let target):
            guard target > 0, target.isFinite else { throw .invalid("target MPP must be a positive number") }
            guard let mpp, mpp > 0, mpp.isFinite else { throw .missingMPP(path: path) }
            let want = target / mpp
            guard want >= 0.5 else { throw .resolutionUnavailable(target: target, slideMPP: mpp) }
            let sharpEnough = levels.indices.filter { levels[$0].downsample <= want * 1.01 }
            level = sharpEnough.max { levels[$0].downsample < levels[$1].downsample } ?? 0
            levelDownsample = levels[level].downsample
            targetDownsample = max(want, 1e-9)
        }
        let extent = Double(patchSize) * targetDownsample
        let step = Double(stride) * targetDownsample
        let td = targetDownsample
        func fit(_ size: Int) -> Int {
            guard Double(size) >= extent else { return 0 }
            let regular = Int(((Double(size) - extent) / step).rounded(.down)) + 1
            // One more, flush with the edge, when the regular ones leave an output pixel or more.
            let last = PatchGrid.lastOffset(size: size, patchSize: patchSize, targetDownsample: td)
            return coverEdges && last > (regular - 1) * stride ? regular + 1 : regular
        }
        coversEdges = coverEdges
        slideWidth = levels[0].width
        slideHeight = levels[0].height
        columns = fit(levels[0].width)
        rows = fit(levels[0].height)
        // Multiplied in floating point: two huge counts must not overflow an Int.
        let total = Double(columns) * Double(rows)
        guard total <= Double(maximumPatches) else { throw .tooManyPatches(total, cap: maximumPatches) }
    }

    /// A slide's grid.
    public init(
        slide: Slide, patchSize: Int, stride: Int? = nil, resolution: PatchResolution, coverEdges: Bool = false
    ) throws(PatchGridError) {
        try self.init(
            levels: slide.levels, mpp: slide.mpp?.x, path: slide.path, patchSize: patchSize, stride: stride, resolution: resolution,
            coverEdges: coverEdges)
    }

    /// Level-0 origin of a patch. Origins are whole output pixels apart (the edge patches
    /// too, which end within one output pixel of the slide's edge), so the pixels of
    /// overlapping patches line up.
    public func origin(column: Int, row: Int) -> (x: Int, y: Int) {
        func place(_ index: Int, _ size: Int) -> Int {
            var offset = index * stride
            if coversEdges { offset = min(offset, Self.lastOffset(size: size, patchSize: patchSize, targetDownsample: targetDownsample)) }
            return Int((Double(offset) * targetDownsample).rounded())
        }
        return (place(column, slideWidth), place(row, slideHeight))
    }

    /// The largest whole-output-pixel offset at which a patch still fits in `size` level-0 pixels.
    static func lastOffset(size: Int, patchSize: Int, targetDownsample: Double) -> Int {
        max(0, Int((Double(size) / targetDownsample - Double(patchSize)).rounded(.down)))
    }
}

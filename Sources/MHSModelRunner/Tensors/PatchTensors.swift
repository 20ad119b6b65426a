import MHSImaging
import MHSInference
import MHSModels

/// A model directory's transform (`Resize`, `ToTensor`, `Normalize`) applied to level-0
/// patches, written straight into one NCHW float32 batch.
///
/// `Resize` is exactly what torchvision's `Resize` does to WSInfer's patches (PIL images):
/// PIL's bilinear resampling of 8-bit images — a triangle filter widened by the reduction
/// factor (every source pixel averaged, antialiased), separable, horizontal then vertical,
/// with PIL's 22-bit fixed-point weights and each pass rounded back to bytes — so the bytes
/// the model sees equal WSInfer's. `ToTensor` scales to [0, 1]; `Normalize` subtracts the
/// mean and divides by the standard deviation per channel.
public struct PatchTensors: Sendable {
    /// The side of the square patches given (level-0 pixels).
    public let sourceSide: Int
    /// The side of the model's input.
    public let side: Int
    let taps: ResampleTaps
    /// Per channel: value × scale + offset turns a byte (0-255) into the model's input.
    let scale: [Float]
    let offset: [Float]

    /// The transform of `configuration` for patches of `sourceSide` pixels.
    public init(_ configuration: ModelConfiguration, sourceSide: Int) {
        self.sourceSide = max(1, sourceSide)
        side = configuration.inputSize
        taps = ResampleTaps(source: self.sourceSide, target: side)
        let (mean, std) = configuration.normalization
        scale = (0..<3).map { Float(1 / (255 * std[$0])) }
        offset = (0..<3).map { Float(-mean[$0] / std[$0]) }
    }

    /// The values one patch takes in the batch (3 × side × side).
    public var valuesPerPatch: Int { 3 * side * side }

    /// Patches (each `sourceSide` square, RGBA) as one `[count, 3, side, side]` tensor, in order.
    public func batch(_ images: [RGBAImage]) -> Tensor {
        var values = [Float](repeating: 0, count: images.count * valuesPerPatch)
        values.withUnsafeMutableBufferPointer { out in
            var rows = [UInt8](repeating: 0, count: sourceSide * side * 3)
            var resized = [UInt8](repeating: 0, count: side * side * 3)
            for (i, image) in images.enumerated() {
                let plane = UnsafeMutableBufferPointer(rebasing: out[(i * valuesPerPatch)..<((i + 1) * valuesPerPatch)])
                write(image, into: plane, rows: &rows, resized: &resized)
            }
        }
        return Tensor(shape: [images.count, 3, side, side], values: values)
    }

    /// The patch resized as the model sees it: `side` × `side` interleaved RGB bytes.
    public func resizedBytes(_ image: RGBAImage) -> [UInt8] {
        var rows = [UInt8](repeating: 0, count: sourceSide * side * 3)
        var resized = [UInt8](repeating: 0, count: side * side * 3)
        var scratch = [Float](repeating: 0, count: valuesPerPatch)
        scratch.withUnsafeMutableBufferPointer { write(image, into: $0, rows: &rows, resized: &resized) }
        return resized
    }

    /// PIL's fixed point: 22 fractional bits, and the half added before the shift.
    static let precisionBits = 22

    /// Rounds a fixed-point sum to a byte, as PIL's `clip8`.
    @inline(__always)
    static func clip8(_ sum: Int32) -> UInt8 {
        if sum >= Int32(255) << precisionBits { return 255 }
        if sum <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: sum >> precisionBits)
    }

    /// Writes one patch into `out` (3 planes of side × side). A patch of another size than
    /// ``sourceSide`` is read where it overlaps (a smaller one is padded with black, as
    /// OpenSlide pads reads past a slide's edge).
    func write(_ image: RGBAImage, into out: UnsafeMutableBufferPointer<Float>, rows: inout [UInt8], resized: inout [UInt8]) {
        let n = sourceSide, s = side
        let w = min(image.width, n), h = min(image.height, n)
        let half = Int32(1) << (Self.precisionBits - 1)
        let taps = self.taps
        image.pixels.withUnsafeBufferPointer { src in
            rows.withUnsafeMutableBufferPointer { mid in
                // Horizontal pass: every source row to `side` columns of bytes.
                for y in 0..<n {
                    let rowOut = y * s * 3
                    guard y < h else {
                        for k in 0..<(s * 3) { mid[rowOut + k] = 0 }
                        continue
                    }
                    let rowIn = y * image.width * 4
                    for x in 0..<s {
                        var r = half, g = half, b = half
                        let first = taps.first[x], base = x * taps.width
                        for t in 0..<taps.count[x] {
                            let j = first + t
                            guard j < w else { break }
                            let weight = taps.weights[base + t]
                            let p = rowIn + j * 4
                            r &+= Int32(src[p]) &* weight; g &+= Int32(src[p + 1]) &* weight; b &+= Int32(src[p + 2]) &* weight
                        }
                        let o = rowOut + x * 3
                        mid[o] = Self.clip8(r); mid[o + 1] = Self.clip8(g); mid[o + 2] = Self.clip8(b)
                    }
                }
                // Vertical pass, to bytes, then scale and offset into the three planes.
                resized.withUnsafeMutableBufferPointer { bytes in
                    let plane = s * s
                    for y in 0..<s {
                        let first = taps.first[y], base = y * taps.width, count = taps.count[y]
                        for x in 0..<s {
                            var r = half, g = half, b = half
                            for t in 0..<count {
                                let weight = taps.weights[base + t]
                                let p = ((first + t) * s + x) * 3
                                r &+= Int32(mid[p]) &* weight; g &+= Int32(mid[p + 1]) &* weight; b &+= Int32(mid[p + 2]) &* weight
                            }
                            let o = y * s + x
                            let (br, bg, bb) = (Self.clip8(r), Self.clip8(g), Self.clip8(b))
                            bytes[o * 3] = br; bytes[o * 3 + 1] = bg; bytes[o * 3 + 2] = bb
                            out[o] = Float(br) * scale[0] + offset[0]
                            out[plane + o] = Float(bg) * scale[1] + offset[1]
                            out[2 * plane + o] = Float(bb) * scale[2] + offset[2]
                        }
                    }
                }
            }
        }
    }
}

/// The source pixels and weights of each output pixel of a 1-D resampling from `source`
/// to `target` pixels with PIL's bilinear filter (a triangle, widened by the reduction
/// factor when reducing): weights normalised to sum to 1, then turned into PIL's 22-bit
/// fixed point (rounded half away from zero).
struct ResampleTaps: Sendable {
    /// The first source pixel of each output pixel.
    var first: [Int]
    /// How many source pixels each output pixel reads.
    var count: [Int]
    /// `width` fixed-point weights per output pixel (the first `count` used).
    var weights: [Int32]
    /// The same weights before rounding to fixed point.
    var exact: [Double]
    var width: Int

    init(source: Int, target: Int) {
        let scale = Double(source) / Double(target)
        let filterScale = max(scale, 1)
        let support = filterScale
        width = Int(support.rounded(.up)) * 2 + 1
        first = []
        count = []
        weights = [Int32](repeating: 0, count: target * width)
        exact = [Double](repeating: 0, count: target * width)
        let unit = Double(1 << PatchTensors.precisionBits)
        for i in 0..<target {
            let center = (Double(i) + 0.5) * scale
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), source)
            var taps: [Double] = []
            for j in lo..<max(lo, hi) {
                let x = (Double(j) - center + 0.5) / filterScale
                taps.append(max(0, 1 - abs(x)))
            }
            let total = taps.reduce(0, +)
            first.append(lo)
            count.append(min(taps.count, width))
            for (t, v) in taps.prefix(width).enumerated() {
                let k = total != 0 ? v / total : 0
                exact[i * width + t] = k
                weights[i * width + t] = Int32(k < 0 ? (-0.5 + k * unit).rounded(.towardZero) : (0.5 + k * unit).rounded(.towardZero))
            }
        }
    }
}

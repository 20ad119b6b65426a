import MHSImaging
import MHSInference
import MHSModels

/// A model directory's transform (`Resize`, `ToTensor`, `Normalize`) applied to level-0
/// patches, written straight into one NCHW float32 batch.
///
/// `Resize` is PIL's bilinear resampling as torchvision applies it to WSInfer's patches:
/// a triangle filter widened by the reduction factor (so a reduction averages every source
/// pixel, antialiased), separable, horizontal then vertical — computed in floating point
/// rather than rounded to bytes between the passes. `ToTensor` scales to [0, 1];
/// `Normalize` subtracts the mean and divides by the standard deviation per channel.
public struct PatchTensors: Sendable {
    /// The side of the square patches given (level-0 pixels).
    public let sourceSide: Int
    /// The side of the model's input.
    public let side: Int
    let horizontal: ResampleTaps
    let vertical: ResampleTaps
    /// Per channel: value × scale + offset turns a byte (0-255) into the model's input.
    let scale: [Float]
    let offset: [Float]

    /// The transform of `configuration` for patches of `sourceSide` pixels.
    public init(_ configuration: ModelConfiguration, sourceSide: Int) {
        self.sourceSide = max(1, sourceSide)
        side = configuration.inputSize
        horizontal = ResampleTaps(source: self.sourceSide, target: side)
        vertical = horizontal
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
            var scratch = [Float](repeating: 0, count: sourceSide * side * 3)
            for (i, image) in images.enumerated() {
                write(image, into: UnsafeMutableBufferPointer(rebasing: out[(i * valuesPerPatch)..<((i + 1) * valuesPerPatch)]), scratch: &scratch)
            }
        }
        return Tensor(shape: [images.count, 3, side, side], values: values)
    }

    /// Writes one patch into `out` (3 planes of side × side). A patch of another size than
    /// ``sourceSide`` is read where it overlaps (a smaller one is padded with black, as
    /// OpenSlide pads reads past a slide's edge).
    func write(_ image: RGBAImage, into out: UnsafeMutableBufferPointer<Float>, scratch: inout [Float]) {
        let n = sourceSide, s = side
        let w = min(image.width, n), h = min(image.height, n)
        image.pixels.withUnsafeBufferPointer { src in
            scratch.withUnsafeMutableBufferPointer { mid in
                // Horizontal pass: every source row to `side` columns (interleaved RGB floats).
                for y in 0..<n {
                    let rowOut = y * s * 3
                    guard y < h else {
                        for k in 0..<(s * 3) { mid[rowOut + k] = 0 }
                        continue
                    }
                    let rowIn = y * image.width * 4
                    for x in 0..<s {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        let first = horizontal.first[x]
                        let base = x * horizontal.width
                        for t in 0..<horizontal.count[x] {
                            let j = first + t
                            guard j < w else { break }
                            let weight = horizontal.weights[base + t]
                            let p = rowIn + j * 4
                            r += weight * Float(src[p]); g += weight * Float(src[p + 1]); b += weight * Float(src[p + 2])
                        }
                        let o = rowOut + x * 3
                        mid[o] = r; mid[o + 1] = g; mid[o + 2] = b
                    }
                }
                // Vertical pass, then scale and offset, into the three planes.
                let plane = s * s
                for y in 0..<s {
                    let first = vertical.first[y], base = y * vertical.width, taps = vertical.count[y]
                    for x in 0..<s {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        for t in 0..<taps {
                            let weight = vertical.weights[base + t]
                            let p = ((first + t) * s + x) * 3
                            r += weight * mid[p]; g += weight * mid[p + 1]; b += weight * mid[p + 2]
                        }
                        let o = y * s + x
                        out[o] = r * scale[0] + offset[0]
                        out[plane + o] = g * scale[1] + offset[1]
                        out[2 * plane + o] = b * scale[2] + offset[2]
                    }
                }
            }
        }
    }
}

/// The source pixels and weights of each output pixel of a 1-D resampling from `source`
/// to `target` pixels with PIL's bilinear filter (a triangle, widened by the reduction
/// factor when reducing), weights normalised to sum to 1.
struct ResampleTaps: Sendable {
    /// The first source pixel of each output pixel.
    var first: [Int]
    /// How many source pixels each output pixel reads.
    var count: [Int]
    /// `width` weights per output pixel (the first `count` used).
    var weights: [Float]
    var width: Int

    init(source: Int, target: Int) {
        let scale = Double(source) / Double(target)
        let filterScale = max(scale, 1)
        let support = filterScale
        width = Int(support.rounded(.up)) * 2 + 1
        first = []
        count = []
        weights = [Float](repeating: 0, count: target * width)
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
            for (t, v) in taps.prefix(width).enumerated() { weights[i * width + t] = Float(total > 0 ? v / total : 0) }
        }
    }
}

import MHSImaging
import PropertyBased
import Testing

/// `RGBAImage.fitting(maxSide:)` divides by multiplying with a reciprocal; it must give
/// exactly what the plain box average gives, for every size and every pixel value.
@Suite("Shrinking an image")
struct ResampleTests {
    /// The box average written the plain way, as the reference.
    static func reference(_ image: RGBAImage, maxSide: Int) -> RGBAImage {
        let longest = max(image.width, image.height)
        guard longest > maxSide, maxSide > 0 else { return image }
        let scale = Double(maxSide) / Double(longest)
        let w = max(1, Int((Double(image.width) * scale).rounded())), h = max(1, Int((Double(image.height) * scale).rounded()))
        var out = [UInt8](repeating: 0, count: w * h * 4)
        for oy in 0..<h {
            let y0 = oy * image.height / h, y1 = max(y0 + 1, (oy + 1) * image.height / h)
            for ox in 0..<w {
                let x0 = ox * image.width / w, x1 = max(x0 + 1, (ox + 1) * image.width / w)
                for c in 0..<4 {
                    var sum = 0
                    for y in y0..<y1 { for x in x0..<x1 { sum += Int(image.pixels[(y * image.width + x) * 4 + c]) } }
                    out[(oy * w + ox) * 4 + c] = UInt8(sum / ((y1 - y0) * (x1 - x0)))
                }
            }
        }
        return RGBAImage(width: w, height: h, pixels: out)
    }

    @Test("property: the fast box average equals the plain one, byte for byte")
    func sameAsPlainAverage() async {
        let sizes = Gen.int(in: 1...300).array(of: 3)
        await propertyCheck(count: 300, input: sizes, Gen.int(in: 0...255).array(of: 64)) { size, values in
            let (width, height, maxSide) = (size[0], size[1], max(1, size[2] / 3))
            // Mostly saturated bytes, where an inexact reciprocal would show first.
            let pixels = (0..<(width * height * 4)).map { i in UInt8(i % 5 == 0 ? 255 : values[i % values.count]) }
            let image = RGBAImage(width: width, height: height, pixels: pixels)
            #expect(image.fitting(maxSide: maxSide) == Self.reference(image, maxSide: maxSide), "\(width)x\(height) into \(maxSide)")
        }
    }

    @Test("all-white boxes of every area up to 64 x 64 stay white")
    func saturatedBoxes() {
        for side in [2, 3, 5, 7, 31, 63, 64, 65, 100] {
            let image = RGBAImage(width: side * 3, height: side * 2, fill: RGBA(255, 255, 255, 255))
            let small = image.fitting(maxSide: 3)
            #expect(small.pixels.allSatisfy { $0 == 255 }, "boxes of \(side) x \(side)")
        }
    }
}

import MHSImaging
import Testing

@Suite("PNG")
struct PNGTests {
    /// A picture with detail in every channel.
    static func picture(alpha: (Int) -> UInt8) -> RGBAImage {
        let (w, h) = (97, 61)
        var pixels: [UInt8] = []
        for i in 0..<(w * h) { pixels += [UInt8(i % 251), UInt8((i * 7) % 256), UInt8((i / w * 3) % 256), alpha(i)] }
        return RGBAImage(width: w, height: h, pixels: pixels)
    }

    @Test("an opaque picture is stored as truecolour, one with any transparency keeps its alpha; both decode to the same pixels", arguments: [PNG.Effort.fast, .compact])
    func roundTrip(_ effort: PNG.Effort) throws {
        let opaque = Self.picture { _ in 255 }
        let translucent = Self.picture { $0 == 4000 ? 254 : 255 }
        let a = try PNG.encode(opaque, effort: effort), b = try PNG.encode(translucent, effort: effort)
        // IHDR's colour type, byte 25: 2 truecolour, 6 truecolour with alpha.
        #expect(a[25] == 2)
        #expect(b[25] == 6)
        #expect(try PNG.decode(a) == opaque)
        #expect(try PNG.decode(b) == translucent)
        #expect(a.count < b.count)
    }
}

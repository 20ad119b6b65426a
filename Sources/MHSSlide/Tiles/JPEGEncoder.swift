import CTurboJPEG
import MHSImaging

/// libturbojpeg compression to baseline JPEG (YCbCr 4:2:0): the synthetic slide's tiles and
/// the emulator's deep-zoom tiles.
final class JPEGCompressor {
    private let handle: tjhandle

    init() throws(SlideError) {
        guard let h = tjInitCompress() else { throw SlideError.invalidRequest(path: "-", message: "libturbojpeg cannot start") }
        handle = h
    }

    deinit { tjDestroy(handle) }

    /// Compresses a 256x256 RGB tile.
    func compress(_ rgb: [UInt8], quality: Int32 = 85) throws(SlideError) -> [UInt8] {
        try compress(rgb, width: 256, height: 256, channels: 3, quality: quality)
    }

    /// Compresses `width` x `height` pixels of 3 (RGB) or 4 (RGBA, alpha ignored) bytes.
    func compress(_ pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Int32, fullChroma: Bool = false) throws(SlideError) -> [UInt8] {
        precondition(channels == 3 || channels == 4, "JPEG input is RGB or RGBA")
        precondition(pixels.count == width * height * channels, "pixel buffer does not match \(width)x\(height)")
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let format = channels == 3 ? TJPF_RGB : TJPF_RGBX
        let code = pixels.withUnsafeBufferPointer { src in
            tjCompress2(
                handle, src.baseAddress, Int32(width), Int32(width * channels), Int32(height), Int32(format.rawValue), &buffer, &size,
                Int32((fullChroma ? TJSAMP_444 : TJSAMP_420).rawValue), quality, 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard code == 0, let buffer else {
            throw SlideError.invalidRequest(path: "-", message: "JPEG compression failed: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}

/// JPEG encoding of rasters.
public enum JPEGEncoder {
    /// An opaque RGBA raster as a baseline JPEG at `quality` (1-100), its colour at full
    /// resolution (YCbCr 4:4:4) when `fullChroma`, else halved both ways (4:2:0); alpha is
    /// ignored, so composite translucent pixels first.
    public static func encode(_ image: RGBAImage, quality: Int = 85, fullChroma: Bool = false) throws(SlideError) -> [UInt8] {
        try JPEGCompressor().compress(
            image.pixels, width: image.width, height: image.height, channels: 4, quality: Int32(min(max(quality, 1), 100)), fullChroma: fullChroma)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// What a downloaded file is, judged from its bytes (never from a URL, which has no
/// reliable extension).
public enum SlideFormat: Sendable, Equatable, CustomStringConvertible {
    /// A TIFF whose first ImageDescription starts with `Aperio`.
    case aperioSVS(bigTIFF: Bool)
    /// Any other TIFF.
    case tiff(bigTIFF: Bool)
    /// A DICOM Part 10 file (`DICM` at byte 128).
    case dicom
    /// A zip (a DICOM series, for this platform).
    case zip
    /// Something else, with a hint of what.
    case unsupported(String)

    /// A file name extension OpenSlide and people recognise.
    public var fileExtension: String {
        switch self {
        case .aperioSVS: "svs"
        case .tiff: "tiff"
        case .dicom: "dcm"
        case .zip: "zip"
        case .unsupported: "bin"
        }
    }

    public var description: String {
        switch self {
        case .aperioSVS(let big): big ? "Aperio SVS (BigTIFF)" : "Aperio SVS"
        case .tiff(let big): big ? "BigTIFF" : "TIFF"
        case .dicom: "DICOM"
        case .zip: "zip (DICOM series)"
        case .unsupported(let what): "unsupported (\(what))"
        }
    }

    /// Sniffs the file at `path`.
    public static func sniff(path: String) -> SlideFormat {
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            return .unsupported("a folder, not a file (for a DICOM series, give the folder to mhs inspect, or one of its files)")
        }
        guard let f = fopen(path, "rb") else { return .unsupported("cannot be read: \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        var head = [UInt8](repeating: 0, count: 132)
        let n = fread(&head, 1, head.count, f)
        if n == 0 { return .unsupported("the file is empty") }
        let b = Array(head[0..<n])
        if n >= 132, Array(b[128..<132]) == Array("DICM".utf8) { return .dicom }
        if b.starts(with: [0x50, 0x4B, 0x03, 0x04]) || b.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .zip }
        let little = b.starts(with: [0x49, 0x49]), big = b.starts(with: [0x4D, 0x4D])
        if (little || big) && n >= 4 {
            let magic = little ? UInt16(b[2]) | UInt16(b[3]) << 8 : UInt16(b[2]) << 8 | UInt16(b[3])
            if magic == 42 || magic == 43 {
                let isBig = magic == 43
                let description = TIFFProbe.firstImageDescription(path: path)
                return description?.hasPrefix("Aperio") == true ? .aperioSVS(bigTIFF: isBig) : .tiff(bigTIFF: isBig)
            }
        }
        if b.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .unsupported("a PNG image, not a whole-slide image") }
        if b.starts(with: [0xFF, 0xD8, 0xFF]) { return .unsupported("a JPEG image, not a whole-slide image") }
        if b.allSatisfy({ $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || (0x20..<0x7F).contains($0) }) {
            return .unsupported("plain text, not a whole-slide image")
        }
        return .unsupported("unknown format starting with \(b.prefix(8).map { String($0, radix: 16) }.joined(separator: " "))")
    }
}

/// Reads just enough of a TIFF to find IFD 0's ImageDescription, through ``TIFFStructure``.
enum TIFFProbe {
    static func firstImageDescription(path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let tiff = try? TIFFStructure(fd: fd), let first = tiff.directories.first else { return nil }
        return try? tiff.text(first, 270)
    }
}

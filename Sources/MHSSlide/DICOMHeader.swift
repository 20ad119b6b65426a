#if canImport(Glibc)
import Glibc
#endif

/// The few attributes of a DICOM file's header that decide how it may be used, read
/// without a DICOM library: enough to tell a lone downsampled level from a whole slide.
public struct DICOMHeader: Sendable, Equatable {
    /// (0008,0008) ImageType, e.g. `["DERIVED", "PRIMARY", "VOLUME", "RESAMPLED"]`.
    public var imageType: [String]
    /// (0020,000E) SeriesInstanceUID.
    public var seriesInstanceUID: String?

    /// A VOLUME image made by resampling another one: a lower pyramid level.
    public var isResampledVolume: Bool {
        imageType.count >= 4 && imageType[2] == "VOLUME" && imageType[3] == "RESAMPLED"
    }

    /// Reads the header of the DICOM Part 10 file at `path`; nil when it is not one or the
    /// attributes cannot be found in its first 64 KiB.
    public static func read(path: String) -> DICOMHeader? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var bytes = [UInt8](repeating: 0, count: 1 << 16)
        let n = fread(&bytes, 1, bytes.count, f)
        guard n >= 132, Array(bytes[128..<132]) == Array("DICM".utf8) else { return nil }
        return parse(Array(bytes[132..<n]))
    }

    /// Walks data elements from just after the `DICM` marker. The file meta group is
    /// explicit VR little endian; the data set is explicit unless the meta group's
    /// transfer syntax is implicit VR little endian (1.2.840.10008.1.2).
    static func parse(_ b: [UInt8]) -> DICOMHeader? {
        var i = 0
        var explicit = true
        var imageType: [String]?
        var series: String?
        func u16(_ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        while i + 8 <= b.count {
            let group = u16(i)
            let element = u16(i + 2)
            var length: Int
            var valueStart: Int
            let inMeta = group == 0x0002
            if inMeta || explicit {
                let vr = String(decoding: b[(i + 4)..<(i + 6)], as: UTF8.self)
                if ["OB", "OW", "OF", "SQ", "UT", "UN", "OD", "OL", "OV", "UC", "UR", "SV", "UV"].contains(vr) {
                    guard i + 12 <= b.count else { break }
                    length = u32(i + 8)
                    valueStart = i + 12
                } else {
                    length = u16(i + 6)
                    valueStart = i + 8
                }
            } else {
                length = u32(i + 4)
                valueStart = i + 8
            }
            if length == 0xFFFF_FFFF { break }  // undefined length (a sequence): stop, we have what precedes it
            guard valueStart + length <= b.count else { break }
            let value = String(decoding: b[valueStart..<(valueStart + length)], as: UTF8.self)
                .trimming([" ", "\0"])
            if group == 0x0002, element == 0x0010 { explicit = value != "1.2.840.10008.1.2" }
            if group == 0x0008, element == 0x0008 { imageType = value.split(separator: "\\").map(String.init) }
            if group == 0x0020, element == 0x000E { series = value }
            if group > 0x0020 { break }
            i = valueStart + length
        }
        guard let imageType else { return nil }
        return DICOMHeader(imageType: imageType, seriesInstanceUID: series)
    }
}

extension String {
    fileprivate func trimming(_ set: Set<Character>) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}

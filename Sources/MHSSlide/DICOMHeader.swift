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

    /// Reads the header of the DICOM Part 10 file at `path` (through ``DICOMStructure``);
    /// nil when it is not one, is malformed, or has no ImageType.
    public static func read(path: String) -> DICOMHeader? {
        guard let a = try? DICOMStructure.read(path: path, depth: .header), !a.imageType.isEmpty else { return nil }
        return DICOMHeader(imageType: a.imageType, seriesInstanceUID: a.seriesUID.isEmpty ? nil : a.seriesUID)
    }
}

import Foundation

/// Why a DICOM series zip was refused.
public enum SeriesArchiveError: Error, Sendable, CustomStringConvertible {
    case notAZip(String)
    case pathTraversal(entry: String)
    case tooLarge(entry: String, ratio: Double)
    case totalTooLarge(bytes: UInt64, limit: UInt64)
    case empty
    case extraction(String)

    public var description: String {
        switch self {
        case .notAZip(let why): "the DICOM series zip cannot be read: \(why)"
        case .pathTraversal(let entry): "the zip entry \"\(entry)\" points outside the extraction folder; refusing the archive"
        case .tooLarge(let entry, let ratio):
            "the zip entry \"\(entry)\" expands \(ratio < 1e15 ? String(Int(ratio)) : String(format: "%.3g", ratio))x; refusing a likely zip bomb"
        case .totalTooLarge(let bytes, let limit): "the zip expands to \(bytes) bytes, over the \(limit)-byte limit"
        case .empty: "the zip holds no files"
        case .extraction(let why): "extracting the zip failed: \(why)"
        }
    }
}

/// Unpacks a zipped DICOM series flat into one folder, as OpenSlide wants it: entry
/// folders are dropped, names that climb out of the folder or absolute paths are refused,
/// and so are absurd expansion ratios.
public enum SeriesArchive {
    /// Compressed-to-expanded ratio above which an entry is refused.
    public static let maximumRatio = 200.0
    /// Refuse archives expanding beyond this many bytes in total.
    public static let maximumTotal: UInt64 = 64 << 30

    /// Extracts `zip` into `folder` and returns the extracted files, sorted. Reads the
    /// archive through ``ZipStructure`` (every number checked, inflation bounded by the
    /// declared sizes), so a corrupt archive is an error, never a spin.
    public static func extract(_ zip: String, into folder: String) throws(SeriesArchiveError) -> [String] {
        let fd = open(zip, O_RDONLY)
        guard fd >= 0 else { throw .notAZip(String(cString: strerror(errno))) }
        defer { close(fd) }
        let archive: ZipStructure
        do {
            archive = try ZipStructure(fd: fd)
        } catch {
            throw .notAZip(error.message)
        }
        var total: UInt64 = 0
        var files: [(ZipStructure.Entry, String)] = []
        var names: Set<String> = []
        for entry in archive.entries where !entry.isDirectory {
            let path = entry.path
            let components = path.split(separator: "/", omittingEmptySubsequences: false)
            if path.hasPrefix("/") || path.hasPrefix("\\") || components.contains("..") || path.contains("\\..") || path.contains(":")
                || path.contains("\0")
            {
                throw .pathTraversal(entry: path)
            }
            let name = String(components.last ?? "")
            if name.isEmpty || name.hasPrefix(".") && name.count <= 2 { continue }
            if name.hasPrefix("._") || path.hasPrefix("__MACOSX/") { continue }  // macOS resource forks
            guard name.utf8.count <= 255 else { throw .extraction("the zip entry name \"\(path.prefix(80))…\" is too long") }
            let ratio = Double(entry.uncompressedSize) / Double(max(entry.compressedSize, 1))
            if entry.uncompressedSize > 1 << 20, ratio > maximumRatio { throw .tooLarge(entry: path, ratio: ratio) }
            total += min(entry.uncompressedSize, maximumTotal + 1)
            if total > maximumTotal { throw .totalTooLarge(bytes: total, limit: maximumTotal) }
            // Flattened, two entries may share a name: the first is kept.
            guard names.insert(name).inserted else { continue }
            files.append((entry, name))
        }
        guard !files.isEmpty else { throw .empty }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw .extraction("cannot create \(folder): \(error.localizedDescription)")
        }
        var written: [String] = []
        for (entry, name) in files {
            let target = folder + "/" + name
            unlink(target)
            let out = open(target, O_CREAT | O_WRONLY | O_TRUNC | O_EXCL, 0o644)
            guard out >= 0 else { throw .extraction("cannot create \(target): \(String(cString: strerror(errno)))") }
            do {
                defer { close(out) }
                try archive.extract(entry, to: out)
            } catch {
                unlink(target)
                throw .extraction(error.message)
            }
            written.append(target)
        }
        return written.sorted()
    }

    /// The series file to open: a full-resolution VOLUME instance if one says so, else
    /// any DICOM file (OpenSlide finds the rest of the series in the folder).
    public static func entryToOpen(_ files: [String]) -> String? {
        let dicom = files.filter { SlideFormat.sniff(path: $0) == .dicom }
        let headers = dicom.map { ($0, DICOMHeader.read(path: $0)) }
        if let full = headers.first(where: { $0.1.map { $0.imageType.count >= 3 && $0.imageType[2] == "VOLUME" && !$0.isResampledVolume } ?? false }) {
            return full.0
        }
        return dicom.first
    }
}

import Foundation
import ZIPFoundation

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
            "the zip entry \"\(entry)\" expands \(Int(ratio))x; refusing a likely zip bomb"
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

    /// Extracts `zip` into `folder` and returns the extracted files, sorted.
    public static func extract(_ zip: String, into folder: String) throws(SeriesArchiveError) -> [String] {
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: zip), accessMode: .read)
        } catch {
            throw .notAZip("\(error)")
        }
        var total: UInt64 = 0
        var files: [(Entry, String)] = []
        for entry in archive where entry.type == .file {
            let path = entry.path
            let components = path.split(separator: "/", omittingEmptySubsequences: false)
            if path.hasPrefix("/") || path.hasPrefix("\\") || components.contains("..") || path.contains("\\..") || path.contains(":") {
                throw .pathTraversal(entry: path)
            }
            let name = String(components.last ?? "")
            if name.isEmpty || name.hasPrefix(".") && name.count <= 2 { continue }
            if name.hasPrefix("._") || path.hasPrefix("__MACOSX/") { continue }  // macOS resource forks
            let ratio = Double(entry.uncompressedSize) / Double(max(entry.compressedSize, 1))
            if entry.uncompressedSize > 1 << 20, ratio > maximumRatio { throw .tooLarge(entry: path, ratio: ratio) }
            total += entry.uncompressedSize
            if total > maximumTotal { throw .totalTooLarge(bytes: total, limit: maximumTotal) }
            files.append((entry, name))
        }
        guard !files.isEmpty else { throw .empty }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var written: [String] = []
            for (entry, name) in files {
                let target = folder + "/" + name
                try? FileManager.default.removeItem(atPath: target)
                _ = try archive.extract(entry, to: URL(fileURLWithPath: target))
                written.append(target)
            }
            return written.sorted()
        } catch {
            throw .extraction("\(error)")
        }
    }
}

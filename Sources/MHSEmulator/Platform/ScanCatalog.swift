import Crypto
import Foundation
import MHSContract
import MHSSlide
import ZIPFoundation

#if canImport(Glibc)
import Glibc
#endif

/// Turns `--slide` arguments into served scans: zips DICOM folders, unpacks DICOM zips so
/// OpenSlide can read them, opens each slide to learn its size (or why it cannot be read),
/// and computes the ETag S3 would give.
enum ScanCatalog {
    static let firstTaskNumber = 185_714
    static let firstScanNumber = 8_061_860
    static let firstCaseNumber = 52_417

    struct Prepared {
        var tasks: [EmulatedTask]
        var slides: [String: Slide]
    }

    static func prepare(_ specs: [ScanSpec], workDirectory: String, probe: SlideProbe?) async throws -> Prepared {
        var tasks: [EmulatedTask] = []
        var slides: [String: Slide] = [:]
        let fm = FileManager.default
        try fm.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        for (i, spec) in specs.enumerated() {
            let scanId = String(firstScanNumber + i)
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: spec.path, isDirectory: &isDirectory) else {
                throw EmulatorError.slideNotFound(spec.path)
            }
            var served = spec.path
            var slideFile = spec.path
            var zip: String?
            if isDirectory.boolValue {
                let zipPath = "\(workDirectory)/scan-\(scanId).zip"
                try? fm.removeItem(atPath: zipPath)
                let files = try seriesFiles(in: spec.path)
                let archive = try Archive(url: URL(fileURLWithPath: zipPath), accessMode: .create)
                for f in files {
                    try archive.addEntry(with: URL(fileURLWithPath: f).lastPathComponent, fileURL: URL(fileURLWithPath: f))
                }
                zip = zipPath
                served = largest(files) ?? spec.path
                slideFile = served
            } else if SlideFormat.sniff(path: spec.path) == .zip,
                let files = try? SeriesArchive.extract(spec.path, into: "\(workDirectory)/scan-\(scanId)")
            {
                zip = spec.path
                served = largest(files) ?? spec.path
                slideFile = served
            }
            // A zip that cannot be unpacked safely is served as it is, like any other bad input
            // (the container then meets it at SCAN_URL).
            var size: SlideSize?
            var readable = false
            var detail: String
            do {
                if let probe, let finding = await probe.problem(with: slideFile) {
                    throw SlideError.openslideFailed(path: slideFile, message: finding.message)
                }
                let slide = try Slide(path: slideFile)
                slides[scanId] = slide
                size = SlideSize(width: Double(slide.dimensions.width), height: Double(slide.dimensions.height))
                readable = true
                detail = "\(slide.vendor ?? "unknown vendor"), \(slide.dimensions.width)x\(slide.dimensions.height), \(slide.levels.count) level(s)"
            } catch {
                detail = "unreadable: \(error)"
            }
            let servedSize = fileSize(served)
            let zipSize = zip.map(fileSize)
            let scan = EmulatedScan(
                id: scanId, source: spec.path, servedFile: served, zipFile: zip, slideFile: slideFile, objectKey: randomHex(16),
                regions: spec.regions, size: size, readable: readable, detail: detail, servedSize: servedSize,
                servedETag: try etag(served, size: servedSize), zipSize: zipSize, zipETag: try zip.map { try etag($0, size: fileSize($0)) })
            tasks.append(EmulatedTask(number: firstTaskNumber + i, caseId: firstCaseNumber + i, scans: [scan]))
        }
        return Prepared(tasks: tasks, slides: slides)
    }

    static func seriesFiles(in folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
            .map { "\(folder)/\($0)" }
            .filter { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && !d.boolValue }
    }

    static func largest(_ files: [String]) -> String? { files.max { fileSize($0) < fileSize($1) } }

    static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// A plain MD5 ETag, as S3 gives single-part uploads; files over 256 MiB get a
    /// multipart-style ETag (`"…-N"`), which clients cannot and must not check as an MD5.
    static func etag(_ path: String, size: Int) throws -> String {
        guard size <= 256 << 20 else {
            let parts = (size + (64 << 20) - 1) / (64 << 20)
            let digest = Insecure.MD5.hash(data: Data("\(path)|\(size)".utf8))
            return "\"" + digest.map { format2($0) }.joined() + "-\(parts)\""
        }
        guard let f = fopen(path, "rb") else { throw EmulatorError.slideNotFound(path) }
        defer { fclose(f) }
        var md5 = Insecure.MD5()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            md5.update(data: buffer[0..<n])
        }
        return "\"" + md5.finalize().map { format2($0) }.joined() + "\""
    }
}

/// Why the emulator could not start.
public enum EmulatorError: Error, CustomStringConvertible {
    case slideNotFound(String)
    case noSlides
    case cannotListen(String)

    public var description: String {
        switch self {
        case .slideNotFound(let p): "--slide \(p): no such file or folder"
        case .noSlides: "give at least one --slide"
        case .cannotListen(let why): "cannot listen: \(why)"
        }
    }
}

import AsyncHTTPClient
import Foundation
import MHSSecrets
import MHSSlide
import MHSTransport

/// The scan on disk, named so OpenSlide sees what it is.
package struct DownloadedScan: Sendable, Equatable {
    /// The file to open (for a series zip: the DICOM file of the series to open).
    package var path: String
    /// What was sniffed in the download.
    package var format: SlideFormat
    /// Bytes downloaded.
    package var bytes: Int
    /// For the run report: bytes and kind.
    package var summary: String

    package init(path: String, format: SlideFormat, bytes: Int, summary: String) {
        self.path = path
        self.format = format
        self.bytes = bytes
        self.summary = summary
    }
}

/// Downloads the scan (the series zip when `SCAN_URL_ZIP` is set), sniffs what it is,
/// extracts a series zip, and refuses what mhs cannot read (exit 3 for the download,
/// exit 4 for the file).
package struct DownloadStage: Sendable {
    package var configuration: TaskConfiguration
    package var redactor: Redactor
    package var console: Console
    package var recorder: RunRecorder
    /// The task's HTTP client (one trusting `caFile` when set).
    package var client: HTTPClient

    package init(configuration: TaskConfiguration, redactor: Redactor, console: Console, recorder: RunRecorder, client: HTTPClient = .shared) {
        self.client = client
        self.configuration = configuration
        self.redactor = redactor
        self.console = console
        self.recorder = recorder
    }

    package func run() async throws -> DownloadedScan {
        let env = configuration
        var options = Downloader.Options()
        if let n = env.downloadConnections { options.connections = n }
        if let mb = env.downloadPartMB { options.partSize = mb << 20 }
        let console = self.console
        let downloader = Downloader(client: client, redactor: redactor, options: options, logger: console.logger(label: "mhs.download"))
        let progress = ProgressPrinter(console: console)
        let base = env.workDirectory + "/scan-\(env.scanID)"
        let url = env.scanZipURL ?? env.scanURL
        let target = base + (env.scanZipURL != nil ? ".zip" : ".download")
        console.say("Downloading the \(env.scanZipURL != nil ? "DICOM series zip (SCAN_URL_ZIP)" : "scan (SCAN_URL)")")
        let result: DownloadResult
        do {
            result = try await downloader.download(url, to: target) { progress.report($0) }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw StageFailure(.download, "downloading \(env.scanZipURL != nil ? "SCAN_URL_ZIP" : "SCAN_URL") failed: \(error)")
        }
        let rate = result.seconds > 0 ? Double(result.bytes) / result.seconds / 1e6 : 0
        let how = result.ranged ? "\(options.connections) parallel ranges" : "one stream"
        console.say(String(format: "Downloaded %.1f MB in %.2f s (%.1f MB/s, %@%@%@)", Double(result.bytes) / 1e6, result.seconds, rate, how,
                           result.retries > 0 ? ", \(result.retries) retries" : "", result.etagVerified ? ", MD5 verified" : ""))
        let format = SlideFormat.sniff(path: target)
        recorder.update {
            $0.download = RunReport.Download(
                bytes: result.bytes, seconds: result.seconds, ranged: result.ranged, retries: result.retries,
                etagVerified: result.etagVerified)
            $0.format = format.description
        }
        switch format {
        case .unsupported(let what):
            throw StageFailure(.slide, "the scan is not a whole-slide image mhs can read: \(what)")
        case .zip:
            let folder = base + "-series"
            try? FileManager.default.removeItem(atPath: folder)
            let files: [String]
            do {
                files = try SeriesArchive.extract(target, into: folder)
            } catch {
                throw StageFailure(.slide, "\(error)")
            }
            guard let file = SeriesArchive.entryToOpen(files) else {
                throw StageFailure(.slide, "the zip holds no DICOM file (\(files.count) file(s))")
            }
            console.say("Extracted \(files.count) DICOM file(s) of the series; opening \(URL(fileURLWithPath: file).lastPathComponent)")
            return DownloadedScan(path: file, format: format, bytes: result.bytes, summary: "\(result.bytes) bytes, series of \(files.count)")
        case .dicom:
            let path = base + ".dcm"
            try Self.move(target, to: path)
            if let header = DICOMHeader.read(path: path), header.isResampledVolume {
                throw StageFailure(
                    .slide,
                    "SCAN_URL is a lone DICOM file of a resampled pyramid level (ImageType \(header.imageType.joined(separator: "\\"))) and no SCAN_URL_ZIP was given: results in its pixels would be in the wrong coordinate frame for the slide, so mhs stops instead")
            }
            return DownloadedScan(path: path, format: format, bytes: result.bytes, summary: "\(result.bytes) bytes, DICOM")
        case .aperioSVS, .tiff:
            let path = base + "." + format.fileExtension
            try Self.move(target, to: path)
            return DownloadedScan(path: path, format: format, bytes: result.bytes, summary: "\(result.bytes) bytes, \(format)")
        }
    }

    /// Renames the download so OpenSlide sees the extension of what it is.
    static func move(_ from: String, to: String) throws {
        do {
            try? FileManager.default.removeItem(atPath: to)
            try FileManager.default.moveItem(atPath: from, toPath: to)
        } catch {
            throw StageFailure(.download, "cannot move the download into place at \(to): \(error.localizedDescription)")
        }
    }
}

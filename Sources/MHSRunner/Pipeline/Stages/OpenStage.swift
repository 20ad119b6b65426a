import Foundation
import MHSImaging
import MHSSlide

/// Opens the downloaded scan: first in a child process (``SlideProbe``) when an executable
/// is given, so a crash or a hang inside OpenSlide is exit 4 with a message instead of a lost
/// task, then here. The probe's decoded thumbnail is adopted instead of being read twice.
/// Given a child started ahead (``SlideProbe/withStartedChild(_:)``), the probe runs in it.
package struct OpenStage: Sendable {
    package var configuration: TaskConfiguration
    /// The `mhs` binary to probe with; nil opens the slide directly.
    package var probeExecutable: String?
    package var console: Console
    package var recorder: RunRecorder

    package init(configuration: TaskConfiguration, probeExecutable: String?, console: Console, recorder: RunRecorder) {
        self.configuration = configuration
        self.probeExecutable = probeExecutable
        self.console = console
        self.recorder = recorder
    }

    package func run(_ scan: DownloadedScan, in started: SlideProbe.StartedChild? = nil) async throws -> Slide {
        let name = URL(fileURLWithPath: scan.path).lastPathComponent
        let probedThumbnail = configuration.workDirectory + "/thumbnail-\(configuration.scanID).rgba"
        if let probeExecutable {
            let finding: SlideProbe.Finding?
            if let started {
                finding = await started.problem(with: scan.path, thumbnail: probedThumbnail)
            } else {
                finding = await Self.probe(probeExecutable, configuration).problem(with: scan.path, thumbnail: probedThumbnail)
            }
            try Task.checkCancellation()
            recorder.update { $0.probe = finding?.message ?? "readable" }
            if let finding {
                // A refusal names the file already; a crash or a hang does not.
                if case .refused = finding.outcome { throw StageFailure(.slide, finding.message) }
                throw StageFailure(.slide, "\(name): \(finding.message)")
            }
        }
        let slide: Slide
        do {
            slide = try Slide(path: scan.path)
        } catch {
            throw StageFailure(.slide, "\(error)")
        }
        if let warning = slide.mppWarning { console.say("WARNING: \(warning)") }
        if probeExecutable != nil, let image = SlideProbe.readThumbnail(from: probedThumbnail) {
            let adopted = slide.adoptThumbnail(image, maxSide: ThumbnailStage.maxSide)
            recorder.update { $0.thumbnailFromProbe = adopted }
        }
        let mpp = slide.mpp.map { String(format: "%.3f µm/px", $0.x) } ?? "no MPP"
        console.say("Opened \(name): \(slide.vendor ?? "unknown vendor"), \(slide.dimensions.width)x\(slide.dimensions.height), \(slide.levels.count) level(s), \(mpp)")
        recorder.update {
            $0.slide = RunReport.SlideFacts(
                vendor: slide.vendor, width: slide.dimensions.width, height: slide.dimensions.height, levels: slide.levels.count,
                mpp: slide.mpp?.x)
        }
        return slide
    }
}

extension OpenStage {
    /// The probe for a task: the `mhs` binary and the task's time limit for it (`MHS_PROBE_TIMEOUT`).
    package static func probe(_ executable: String, _ configuration: TaskConfiguration) -> SlideProbe {
        SlideProbe(executable: executable, timeout: .milliseconds(Int64(configuration.probeTimeout * 1000)))
    }
}

/// Reads the whole-slide thumbnail `result.png` is drawn on. OpenSlide opens some broken
/// files and fails only when pixels are read, so a failure here is exit 4. Runs beside the
/// classifier.
package struct ThumbnailStage: Sendable {
    /// The thumbnail's longest side.
    package static let maxSide = 1024

    package init() {}

    package func run(_ slide: Slide) throws -> RGBAImage {
        do {
            return try slide.thumbnail(maxSide: Self.maxSide)
        } catch {
            throw StageFailure(.slide, "the slide opens but its pixels cannot be read: \(error)")
        }
    }
}

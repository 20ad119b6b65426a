import ArgumentParser
import Foundation
import MHS

/// `mhs probe-slide`: the child side of ``SlideProbe`` — opens a slide and reads its
/// thumbnail and a region of every level, saying each stage on standard error first, so that
/// the parent can name where a crash inside OpenSlide happened. Not meant to be run by hand.
struct ProbeSlideCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe-slide",
        abstract: "Open and read a slide (run by mhs in a child process, so a crash in OpenSlide cannot lose the task).",
        discussion: "Exit status: 0 readable, 4 refused (the message says why); a crash shows as the signal that ended it.",
        shouldDisplay: false
    )

    @Argument(help: "The slide file.")
    var slide: String

    @Option(help: "Also write the 1024 px thumbnail here (raw RGBA), for the parent to use.")
    var thumbnail: String?

    func run() throws {
        do {
            _ = try SlideProbe.exercise(path: slide, thumbnail: thumbnail) { stage in
                FileHandle.standardError.write(Data("probe: \(stage)\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("mhs probe-slide: \(error)\n".utf8))
            throw ExitCode(4)
        }
    }
}

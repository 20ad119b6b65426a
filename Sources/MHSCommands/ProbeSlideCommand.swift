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
        discussion: """
            Exit status: 0 readable, 4 refused (the message says why); a crash shows as the signal that ended it. \
            With --from-standard-input it starts before its slide exists (OpenSlide loaded) and reads the slide's path \
            and the thumbnail's from its input, each ended by a NUL; an input that ends empty exits 0.
            """,
        shouldDisplay: false
    )

    @Argument(help: "The slide file.")
    var slide: String?

    @Option(help: "Also write the 1024 px thumbnail here (raw RGBA), for the parent to use.")
    var thumbnail: String?

    @Flag(help: "Read the slide's path (and the thumbnail's) from standard input, loading OpenSlide while waiting.")
    var fromStandardInput = false

    func validate() throws {
        guard (slide != nil) != fromStandardInput else {
            throw ValidationError("give either a slide or --from-standard-input")
        }
    }

    func run() throws {
        var request = (path: slide ?? "", thumbnail: thumbnail)
        if fromStandardInput {
            // Loaded now, while the parent is still downloading; a failure is reported below,
            // when opening the slide needs the library.
            _ = try? OpenSlideLibrary.shared()
            let input = FileHandle.standardInput.readDataToEndOfFile()
            if input.isEmpty { return }  // the parent needed no probe after all
            guard let given = SlideProbe.parseRequest(Array(input)) else {
                FileHandle.standardError.write(Data("mhs probe-slide: the request on standard input is malformed\n".utf8))
                throw ExitCode(2)
            }
            request = given
        }
        do {
            _ = try SlideProbe.exercise(path: request.path, thumbnail: request.thumbnail) { stage in
                FileHandle.standardError.write(Data("probe: \(stage)\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("mhs probe-slide: \(error)\n".utf8))
            throw ExitCode(4)
        }
    }
}

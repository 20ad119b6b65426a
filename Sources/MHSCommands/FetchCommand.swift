import ArgumentParser
import Foundation
import Logging
import MHSSecrets
import MHSTransport

/// `mhs fetch`: download a URL the way `mhs run` downloads a slide.
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download a (presigned) URL to a file the way `mhs run` does: parallel ranges, resume, retries.",
        discussion: "Exit status: 0 downloaded, 3 failed (the message says why). Used by Benchmarks/download.sh."
    )

    @Argument(help: "The URL.")
    var url: String

    @Option(help: "Where to write it.")
    var out: String

    @Option(help: "Parallel connections.")
    var connections: Int = 8

    @Option(help: "Part size in MiB.")
    var partMb: Int = 8

    func run() async throws {
        var options = Downloader.Options()
        options.connections = max(1, connections)
        options.partSize = max(1, partMb) << 20
        let downloader = Downloader(redactor: Redactor(), options: options, logger: Logger(label: "mhs.fetch") { _ in StandardErrorWarnings() })
        do {
            let r = try await downloader.download(url, to: out)
            print(String(format: "%d bytes in %.3f s (%.1f MB/s), %@, %d retries%@", r.bytes, r.seconds, Double(r.bytes) / max(r.seconds, 1e-9) / 1e6,
                         r.ranged ? "\(options.connections) ranges" : "one stream", r.retries, r.etagVerified ? ", MD5 verified" : ""))
        } catch {
            printError("mhs fetch: \(Redactor().redact(error.description))")
            throw ExitCode(3)
        }
    }
}

/// `mhs fetch`'s log: warnings and errors on standard error as `warning: …`, nothing else.
struct StandardErrorWarnings: LogHandler {
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        printError("\(event.level >= .error ? "error" : "warning"): \(event.message)")
    }
}

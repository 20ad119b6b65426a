import ArgumentParser
import Foundation
import MHS
import MHSEmulator

/// `mhs emulator`: the local Techcyte platform, until SIGINT or SIGTERM.
struct EmulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emulator",
        abstract: "Serve Techcyte's Model Hosting Service contract on loopback for local testing.",
        discussion: """
            Each --slide (a slide file, a DICOM series folder, or a zip of one) becomes the one scan of \
            its own task. When ready, prints `ready http://127.0.0.1:PORT`, then the container \
            environment of each task as `export NAME='value'` lines and as `docker run -e` flags. \
            Open the printed URL to see posted annotations over the slide. Append #regions=N to a \
            --slide to give that scan 0 or 2 regions (the platform then rejects its results).
            Faults: --fault ROUTE:KIND[:count=N] with ROUTE one of download, zip, token, results, \
            case, evaluations, debug and KIND one of status=CODE, reset-after=BYTES, rate=BYTES, \
            delay=MS, short-body, reset-before-apply, reset-after-apply (results only). More can be \
            added while running: curl -X POST --data 'results:status=503:count=2' URL/_emulator/faults
            With --tls it serves HTTPS with a private CA made at start, as the real platform does: HOST \
            is the bare `techcyte.test:PORT`, so a container written for the platform (which dials \
            https://api.<HOST>/api/v3) works unchanged once api.techcyte.test reaches this machine and \
            it trusts the CA file printed (SSL_CERT_FILE, REQUESTS_CA_BUNDLE or MHS_CA_FILE).
            """
    )

    @Option(name: .customLong("slide"), help: "A slide file, DICOM folder or DICOM zip; repeat for more tasks.")
    var slides: [String]

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = 0

    @Option(help: "How containers authenticate: jwt (JWT_TOKEN) or api-key (API_KEY_ID/API_KEY_SECRET).")
    var auth: String = "jwt"

    @Option(help: "API key id accepted at /token (random by default).")
    var apiKeyId: String?

    @Option(help: "API key secret accepted at /token (random by default).")
    var apiKeySecret: String?

    @Option(help: "Lifetime of presigned URLs in seconds.")
    var urlTtl: Int = 3600

    @Option(name: .customLong("fault"), help: "A fault to inject: ROUTE:KIND[:count=N]; repeatable.")
    var faults: [String] = []

    @Flag(help: "Serve HTTPS with a private CA made at start; HOST becomes a bare host name.")
    var tls = false

    @Option(help: "The platform's host name with --tls (clients dial api.<name>).")
    var tlsHost = "techcyte.test"

    @Option(help: "Where to write the CA certificate with --tls (default: ca.pem in the emulator's work folder).")
    var caFile: String?

    func validate() throws {
        guard EmulatorAuth(rawValue: auth) != nil else { throw ValidationError("--auth must be jwt or api-key, found '\(auth)'") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard urlTtl > 0 else { throw ValidationError("--url-ttl must be positive") }
        for f in faults {
            do { _ = try Fault(parsing: f) } catch { throw ValidationError(error.description) }
        }
        guard Self.isHostName(tlsHost) else {
            throw ValidationError("--tls-host must be a host name with a dot, such as techcyte.test; found '\(tlsHost)'")
        }
        for s in slides where EmulatorCommand.scanSpec(s) == nil {
            throw ValidationError("--slide \(s): the #regions=N suffix needs a number")
        }
    }

    /// Two or more DNS labels (letters, digits, inner hyphens, 1-63 characters) joined by dots.
    static func isHostName(_ text: String) -> Bool {
        let labels = text.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { label in
            (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    static func scanSpec(_ text: String) -> ScanSpec? {
        guard let hash = text.range(of: "#regions=", options: .backwards) else { return ScanSpec(path: text) }
        guard let n = Int(text[hash.upperBound...]), n >= 0 else { return nil }
        return ScanSpec(path: String(text[..<hash.lowerBound]), regions: n)
    }

    func run() async throws {
        var configuration = EmulatorConfiguration(
            scans: slides.compactMap(Self.scanSpec), auth: EmulatorAuth(rawValue: auth)!, apiKeyID: apiKeyId, apiKeySecret: apiKeySecret)
        configuration.port = port
        configuration.probe = SlideProbe.currentExecutable.map { SlideProbe(executable: $0) }
        if let leaflet = CommandContext.current.environment["MHS_LEAFLET_DIR"], !leaflet.isEmpty { configuration.leafletDirectory = leaflet }
        configuration.urlTTL = urlTtl
        configuration.faults = try faults.map { try Fault(parsing: $0) }
        if tls { configuration.tls = TLSOptions(hostName: tlsHost.lowercased(), caFile: caFile) }
        let summary: RunningEmulator.Summary
        do {
            summary = try await Emulator.runUntilSignalled(configuration) { running in
                printFlushed(Self.banner(running))
            }
        } catch let error as EmulatorError {
            printError("mhs emulator: \(error)")
            throw ExitCode(2)
        }
        printFlushed("emulator stopped: \(summary)")
    }

    static func banner(_ running: RunningEmulator) -> String {
        var lines = ["ready \(running.baseURL)", ""]
        let names = running.tlsHostNames
        if let ca = running.caFile {
            lines += [
                "# HTTPS with a private CA: \(ca) (trust it: SSL_CERT_FILE, REQUESTS_CA_BUNDLE or MHS_CA_FILE)",
                "# \(names.joined(separator: " and ")) must reach this machine: in a container --add-host (below); here a line",
                "#   127.0.0.1 \(names.joined(separator: " ")) in /etc/hosts",
                "",
            ]
        }
        for task in running.tasks {
            let scan = task.scans[0]
            lines.append("# task \(task.number), scan \(scan.id): \(scan.source)\(scan.readable ? "" : " (unreadable as a slide: \(scan.detail))")")
            let env = running.environment(for: task)
            for (name, value) in env { lines.append("export \(name)=\(shellQuote(value))") }
            if let ca = running.caFile {
                for name in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"] { lines.append("export \(name)=\(shellQuote(ca))") }
                // The container shares the host's network, resolves the names to loopback and
                // reads the CA from a mount; the URLs stay exactly as printed.
                let mounted = "/etc/mhs-emulator-ca.pem"
                let flags = ["--network host"] + names.map { "--add-host \($0):127.0.0.1" } + [
                    "-v \(shellQuote(ca)):\(mounted):ro", "-e SSL_CERT_FILE=\(mounted)", "-e REQUESTS_CA_BUNDLE=\(mounted)",
                ] + env.map { "-e \($0.name)=\(shellQuote($0.value))" }
                lines.append("# podman run --rm " + flags.joined(separator: " ") + " IMAGE")
                lines.append("# docker run --rm --gpus all " + flags.joined(separator: " ") + " IMAGE")
            } else {
                let docker = env.map { "-e \($0.name)=\(shellQuote($0.value.replacingOccurrences(of: "127.0.0.1", with: "host.docker.internal")))" }
                lines.append("# docker run --rm --gpus all --add-host=host.docker.internal:host-gateway " + docker.joined(separator: " ") + " IMAGE")
            }
            lines.append("")
        }
        lines.append("page: \(running.baseURL)/   calls: \(running.baseURL)/_emulator/calls   state: \(running.baseURL)/_emulator/state")
        return lines.joined(separator: "\n")
    }
}

/// Single-quotes a value for POSIX shells.
func shellQuote(_ value: String) -> String {
    "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// Prints and flushes, so that a process reading our pipe sees it at once.
func printFlushed(_ text: String) {
    print(text)
    fflush(nil)
}

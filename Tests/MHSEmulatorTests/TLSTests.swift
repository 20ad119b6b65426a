import Foundation
import MHSTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `mhs emulator --tls` against clients that know nothing of it: a Python client written
/// the way the platform's template is (it dials `https://api.$HOST/api/v3`) and `mhs run`,
/// each run unchanged — only the host names resolved to loopback, in a private mount
/// namespace whose `/etc/hosts` says so, and the CA trusted through the usual variables.
@Suite("mhs emulator --tls (the real binary, clients unchanged)")
struct TLSTests {
    /// The `export` lines of each task block of the banner.
    static func tasks(_ banner: String) -> [[String: String]] {
        var blocks: [[String: String]] = []
        for line in banner.split(separator: "\n") {
            if line.hasPrefix("# task ") { blocks.append([:]) }
            guard line.hasPrefix("export "), !blocks.isEmpty, let eq = line.firstIndex(of: "=") else { continue }
            let name = String(line[line.index(line.startIndex, offsetBy: 7)..<eq])
            blocks[blocks.count - 1][name] = String(line[line.index(after: eq)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        return blocks
    }

    /// Runs `program` with `arguments` where `names` resolve to 127.0.0.1 (a private
    /// `/etc/hosts` bind-mounted in a new mount namespace), with exactly `environment`.
    static func resolving(_ names: [String], _ program: String, _ arguments: [String], environment: [String: String]) async throws -> Outcome {
        let hosts = FileManager.default.temporaryDirectory.appendingPathComponent("mhs-tls-hosts-\(UUID().uuidString)")
        try Data("127.0.0.1 localhost \(names.joined(separator: " "))\n".utf8).write(to: hosts)
        defer { try? FileManager.default.removeItem(at: hosts) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["--mount", "sh", "-c", "mount --bind \"$0\" /etc/hosts && exec \"$@\"", hosts.path, program] + arguments
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        async let stdout = readToEnd(out.fileHandleForReading)
        async let stderr = readToEnd(err.fileHandleForReading)
        let (o, e) = await (stdout, stderr)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                done.resume()
            }
        }
        return Outcome(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// What the process itself has, minus every variable about certificates.
    static var plainEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.filter { !["SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "MHS_CA_FILE"].contains($0.key) }
    }

    @Test("HTTPS under a host name: the Python client and mhs run post once each; without the CA the client is refused")
    func unchangedClients() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mhs-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ca = folder + "/ca.pem"
        let small = slide("CMU-1-Small-Region.svs")
        let emulator = try await EmulatorProcess.start(["--tls", "--auth", "api-key", "--ca-file", ca] + Array(repeating: ["--slide", small], count: 3).flatMap { $0 })
        let banner = emulator.banner
        #expect(banner.contains("ready https://api.techcyte.test:"), "\(banner)")
        #expect(banner.contains("# HTTPS with a private CA: \(ca)"))
        #expect(banner.contains("--add-host api.techcyte.test:127.0.0.1"))
        let tasks = Self.tasks(banner)
        #expect(tasks.count == 3)
        guard tasks.count == 3 else { _ = await emulator.terminate(); return }
        let host = try #require(tasks[0]["HOST"])
        #expect(host.hasPrefix("techcyte.test:") && !host.contains("/"), "HOST is a bare host: \(host)")
        #expect(tasks[0]["SCAN_URL"]?.hasPrefix("https://api.techcyte.test:") == true)
        #expect(tasks[0]["SSL_CERT_FILE"] == ca && tasks[0]["REQUESTS_CA_BUNDLE"] == ca)
        #expect(try String(contentsOfFile: ca, encoding: .utf8).hasPrefix("-----BEGIN CERTIFICATE-----"))
        let names = ["api.techcyte.test", "techcyte.test"]
        let client = repositoryRoot.appendingPathComponent("Examples/python-client/client.py").path

        // Without the CA the client is refused at its first exchange, before anything is posted.
        // (mhs run is refused too, with the advice to set MHS_CA_FILE, but only after
        // async-http-client has retried the connection until the token call's deadline.)
        var untrusted = Self.plainEnvironment.merging(tasks[0]) { $1 }
        for name in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"] { untrusted[name] = nil }
        let refused = try await Self.resolving(names, "/usr/bin/env", ["python3", client], environment: untrusted)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("CERTIFICATE_VERIFY_FAILED") || refused.stderr.contains("SSLError"), "\(refused.stderr.suffix(600))")
        // With it: the Python client as it is, then mhs run, each on its own task.
        let python = try await Self.resolving(names, "/usr/bin/env", ["python3", client], environment: Self.plainEnvironment.merging(tasks[1]) { $1 })
        #expect(python.status == 0, "\(python.all)")
        #expect(python.stdout.contains("Results posted: HTTP 201"), "\(python.stdout)")
        var run = Self.plainEnvironment.merging(tasks[2]) { $1 }
        run["MHS_OUTPUT_DIR"] = folder + "/out"
        run["MHS_WORK_DIR"] = folder + "/out/work"
        let mhsRun = try await Self.resolving(names, mhsBinary, ["run"], environment: run)
        #expect(mhsRun.status == 0, "\(mhsRun.all)")
        #expect(mhsRun.stdout.contains("Results posted: HTTP 201"))
        #expect(mhsRun.stdout.contains("Debug bundle uploaded"), "the presigned PUT over HTTPS too")

        let (status, rest) = await emulator.terminate()
        #expect(status == 0)
        #expect(rest.contains("2 evaluation(s) (0 duplicate)"), "\(rest)")
    }
}

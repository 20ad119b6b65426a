import AsyncHTTPClient
import Foundation
import MHSContract
import MHSTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A running `mhs emulator` process and what it printed up to its banner's last line.
struct EmulatorProcess {
    let process: Process
    let banner: String
    let output: Pipe

    var baseURL: String { banner.split(separator: "\n").first { $0.hasPrefix("ready ") }.map { String($0.dropFirst(6)) } ?? "" }

    /// `export NAME='value'` lines of the first task.
    var environment: [String: String] {
        var env: [String: String] = [:]
        for line in banner.split(separator: "\n") where line.hasPrefix("export ") {
            let rest = line.dropFirst(7)
            guard let eq = rest.firstIndex(of: "=") else { continue }
            let name = String(rest[..<eq])
            if env[name] == nil { env[name] = String(rest[rest.index(after: eq)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'")) }
        }
        return env
    }

    static func start(_ arguments: [String]) async throws -> EmulatorProcess {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: mhsBinary)
        p.arguments = ["emulator"] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Read the banner on a GCD thread, not on Swift's cooperative pool.
        let text = await withCheckedContinuation { (done: CheckedContinuation<String, Never>) in
            DispatchQueue.global().async {
                var text = ""
                let deadline = Date().addingTimeInterval(60)
                while !text.contains("\npage: ") && Date() < deadline {
                    let chunk = out.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                done.resume(returning: text)
            }
        }
        return EmulatorProcess(process: p, banner: text, output: out)
    }

    /// Peak resident memory of the process so far, in MiB (VmHWM).
    var peakRSSMiB: Double {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }

    /// Sends SIGTERM and returns the exit status and whatever it printed after the banner.
    func terminate() async -> (status: Int32, rest: String) {
        kill(process.processIdentifier, SIGTERM)
        let rest = String(decoding: await readToEnd(output.fileHandleForReading), as: UTF8.self)
        let process = self.process
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                done.resume()
            }
        }
        return (process.terminationStatus, rest)
    }
}

@Suite("mhs emulator (the real binary)")
struct EmulatorCLITests {
    @Test("prints ready, the environment as exports and docker flags; stops on SIGTERM with a summary")
    func banner() async throws {
        let emu = try await EmulatorProcess.start(["--slide", slide("CMU-1-Small-Region.svs"), "--slide", slide("dicom-cmu-1-small-region"), "--port", "0", "--auth", "api-key", "--api-key-id", "lab-key", "--api-key-secret", "s3cr3t-value-for-tests"])
        #expect(emu.baseURL.hasPrefix("http://127.0.0.1:"))
        let env = emu.environment
        for name in ["HOST", "TASK_ID", "SCAN_ID", "SCAN_URL", "API_KEY_ID", "API_KEY_SECRET", "DEBUG_FILE_UPLOAD_URL"] {
            #expect(env[name] != nil, "missing export \(name)")
        }
        #expect(env["HOST"] == emu.baseURL + "/api/v3")
        #expect(env["TASK_ID"].flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } == "task:185714")
        #expect(env["API_KEY_ID"] == "lab-key")
        #expect(emu.banner.contains("export SCAN_URL_ZIP="), "the DICOM task has SCAN_URL_ZIP")
        #expect(emu.banner.contains("# docker run --rm --gpus all") && emu.banner.contains("-e TASK_ID='dGFzazoxODU3MTQ='"))
        let slide = try await send(.GET, try #require(env["SCAN_URL"]))
        #expect(slide.status == 200 && slide.body.count == 1_938_955)
        let (status, rest) = await emu.terminate()
        #expect(status == 0)
        #expect(rest.contains("emulator stopped: 1 call(s) (0 dropped), 0 evaluation(s)"), "\(rest)")
    }

    @Test("bad arguments are refused before starting, each with its own message", arguments: [
        (["--slide", "/nonexistent/slide.svs"], "--slide /nonexistent/slide.svs: no such file or folder"),
        (["--slide", slide("CMU-1-Small-Region.svs"), "--fault", "download:boom"], "invalid fault 'download:boom': unknown fault 'boom'"),
        (["--slide", slide("CMU-1-Small-Region.svs"), "--auth", "magic"], "--auth must be jwt or api-key, found 'magic'"),
    ])
    func badArguments(_ args: [String], _ expected: String) async throws {
        let r = try await mhs(["emulator"] + args)
        #expect(r.status != 0 && !r.stdout.contains("ready "), "\(args)")
        #expect(r.stderr.contains(expected), "\(r.stderr)")
    }

    @Test("a 1 GiB sparse file is served with flat memory")
    func sparseGigabyte() async throws {
        let path = NSTemporaryDirectory() + "mhs-sparse-\(UUID().uuidString)"
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        #expect(ftruncate(fd, 1 << 30) == 0)
        close(fd)
        defer { unlink(path) }
        let emu = try await EmulatorProcess.start(["--slide", path])
        let before = emu.peakRSSMiB
        let result = await download(try #require(emu.environment["SCAN_URL"]))
        let after = emu.peakRSSMiB
        #expect(result.error == nil && result.bytes == 1 << 30)
        #expect(after - before < 64, "peak RSS grew from \(before) MiB to \(after) MiB while serving 1 GiB")
        _ = await emu.terminate()
    }

    @Test("the call record, the state and the page never show secrets")
    func noSecrets() async throws {
        let secret = "super-secret-api-value-42"
        let emu = try await EmulatorProcess.start(["--slide", slide("CMU-1-Small-Region.svs"), "--auth", "api-key", "--api-key-id", "k1", "--api-key-secret", secret])
        let env = emu.environment
        let basic = Data("k1:\(secret)".utf8).base64EncodedString()
        let token = try await send(.POST, env["HOST"]! + "/token", headers: [("Authorization", "Basic \(basic)")], body: Array("grant_type=client_credentials".utf8))
        let jwt = try #require(token.json?["access_token"]?.stringValue)
        _ = try await send(.GET, env["SCAN_URL"]! + "&token=\(jwt)")
        _ = try await send(.POST, env["HOST"]! + "/external/results/" + env["TASK_ID"]!, headers: bearer(jwt), body: try exampleBody("basic.json"))
        _ = try await send(.PUT, env["DEBUG_FILE_UPLOAD_URL"]!, body: [1, 2, 3])
        let signature = String(env["SCAN_URL"]!.split(separator: "&").first { $0.hasPrefix("X-Amz-Signature=") }!.dropFirst(16))
        for page in ["/_emulator/calls", "/_emulator/state", "/"] {
            let text = try await send(.GET, emu.baseURL + page).text
            for s in [secret, jwt, signature, basic] { #expect(!text.contains(s), "\(page) shows a secret") }
        }
        let (_, rest) = await emu.terminate()
        for s in [secret, jwt, signature] { #expect(!rest.contains(s)) }
    }
}

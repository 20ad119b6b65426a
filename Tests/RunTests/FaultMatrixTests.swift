import Foundation
import MHSContract
import MHSEmulator
import MHSTestSupport
import Testing
import ZIPFoundation

#if canImport(Glibc)
import Glibc
#endif

let cmu = slide("CMU-1-Small-Region.svs")
let cmuSize = 1_938_955

/// Runs `mhs run` against an emulator with `faults`, returning the outcome and the emulator
/// for assertions on its record.
func runWithFaults(
    _ name: String, scans: [ScanSpec] = [ScanSpec(path: cmu)], faults: [String] = [], auth: EmulatorAuth = .jwt, urlTTL: Int = 3600,
    edit: @Sendable (inout [String: String]) -> Void = { _ in }, wait: Double = 0,
    _ check: @Sendable (Outcome, RunningEmulator, String) async throws -> Void
) async throws {
    var config = EmulatorConfiguration(scans: scans, auth: auth)
    config.faults = try faults.map { try Fault(parsing: $0) }
    config.urlTTL = urlTTL
    try await Emulator.withRunning(config) { emu in
        let output = freshOutput("matrix-" + name)
        var env = containerEnvironment(emu, auth: auth, output: output)
        edit(&env)
        if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
        let outcome = try await mhs(["run"], environment: env)
        try await check(outcome, emu, output)
    }
}

func gets(_ emu: RunningEmulator) async -> [CallRecord] {
    await emu.calls().filter { $0.method == "GET" && $0.path.hasPrefix("/bucket/") }
}

/// The fault matrix: each row is one injected failure, checked from both sides — the
/// runner's exit status and output, and the emulator's record of what crossed the wire.
@Suite("Fault matrix (mhs run against the emulator's faults)")
struct FaultMatrixTests {
    @Test("(a) reset mid-download three times: resumed, file byte-identical")
    func a() async throws {
        try await runWithFaults("a", faults: ["download:reset-after=300000:count=3"]) { r, emu, output in
            #expect(r.status == 0, "\(r.all)")
            #expect(r.stdout.contains("3 retries"))
            let downloaded = try Data(contentsOf: URL(fileURLWithPath: output + "/work/scan-8061860.svs"))
            #expect(downloaded == (try Data(contentsOf: URL(fileURLWithPath: cmu))))
            let record = await gets(emu)
            #expect(record.map(\.outcome) == ["dropped", "dropped", "dropped", "completed"])
            #expect(record.allSatisfy { $0.status == 206 })
            // Resumed, not restarted: the last request carries only what was missing.
            #expect(record.last!.bytesOut < cmuSize)
        }
    }

    @Test("(b) 503 twice on the slide: retried, success")
    func b() async throws {
        try await runWithFaults("b", faults: ["download:status=503:count=2"]) { r, emu, _ in
            #expect(r.status == 0, "\(r.all)")
            #expect(await gets(emu).map(\.status) == [503, 503, 206])
            #expect(await resultPosts(emu).count == 1)
        }
    }

    @Test("(c) URL expired: exit 3 at once, no retry storm")
    func c() async throws {
        try await runWithFaults("c", urlTTL: 1, wait: 2.2) { r, emu, _ in
            #expect(r.status == 3, "\(r.all)")
            #expect(r.stdout.contains("the presigned URL has expired") && r.stdout.contains("Request has expired"))
            #expect(await gets(emu).count == 1)
        }
    }

    @Test("a presigned URL expiring within 5 minutes is warned about, and still used")
    func expiringSoon() async throws {
        try await runWithFaults("expiring", urlTTL: 120) { r, emu, _ in
            #expect(r.status == 0, "\(r.all)")
            #expect(r.stdout.contains("WARNING: the presigned URL expires in 1"))
            #expect(await resultPosts(emu).count == 1)
        }
    }

    @Test("(d) bad signature: exit 3 naming it")
    func d() async throws {
        try await runWithFaults("d", edit: { env in
            env["SCAN_URL"] = env["SCAN_URL"]!.replacingOccurrences(of: "X-Amz-Signature=", with: "X-Amz-Signature=00")
        }) { r, emu, _ in
            #expect(r.status == 3, "\(r.all)")
            #expect(r.stdout.contains("the presigned URL's signature was refused"))
            #expect(await gets(emu).count == 1)
        }
    }

    @Test("(e) 401 from /token: exit 2 with a credentials message before the download")
    func e() async throws {
        try await runWithFaults("e", faults: ["token:status=401"], auth: .apiKey) { r, emu, _ in
            #expect(r.status == 2, "\(r.all)")
            #expect(r.stdout.contains("cannot obtain a token") && r.stdout.contains("credentials refused (401)"))
            #expect(await gets(emu).isEmpty)
            #expect(await emu.calls().first?.path == "/api/v3/token")
        }
    }

    @Test("(f) 500 on POST: results printed and saved, exit 7, exactly one POST")
    func f() async throws {
        try await runWithFaults("f", faults: ["results:status=500"]) { r, emu, output in
            #expect(r.status == 7, "\(r.all)")
            #expect(r.stdout.contains("Posting failed: HTTP 500") && r.stdout.contains("Results JSON: {\"caseResults\""))
            let saved = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/results.json"))))
            #expect(saved["scanResults"]?.arrayValue?.count == 1)
            #expect(await resultPosts(emu).count == 1)
            #expect(await emu.evaluations().isEmpty)
        }
    }

    @Test("(g) 503 twice then 201: exactly one evaluation")
    func g() async throws {
        try await runWithFaults("g", faults: ["results:status=503:count=2"]) { r, emu, _ in
            #expect(r.status == 0, "\(r.all)")
            #expect(await resultPosts(emu).map(\.status) == [503, 503, 201])
            #expect(await emu.evaluations().count == 1)
            #expect(r.stdout.contains("Results posted: HTTP 201 (attempt 3)"))
        }
    }

    @Test("(h) reset after the results were applied: no second POST, exit 0, one evaluation")
    func h() async throws {
        try await runWithFaults("h", faults: ["results:reset-after-apply:count=1"]) { r, emu, _ in
            #expect(r.status == 0, "\(r.all)")
            #expect(await resultPosts(emu).count == 1)
            #expect(await emu.evaluations().count == 1)
            let calls = await emu.calls().map { "\($0.method) \($0.path.split(separator: "?")[0])" }
            #expect(calls.contains("GET /api/v3/external/case_evaluations/dGFzazoxODU3MTQ="))
            #expect(r.stdout.contains("confirmed through case_evaluations"))
        }
    }

    @Test("(i) reset before the results were applied: posted once, one evaluation")
    func i() async throws {
        try await runWithFaults("i", faults: ["results:reset-before-apply:count=1"]) { r, emu, _ in
            #expect(r.status == 0, "\(r.all)")
            let posts = await resultPosts(emu)
            #expect(posts.map(\.outcome) == ["dropped", "completed"])
            #expect(await emu.evaluations().count == 1)
            let sequence = await emu.calls().filter { $0.path.contains("/external/") }.map(\.method)
            #expect(sequence.first == "POST" && sequence.last == "POST" && sequence.count >= 3, "\(sequence)")
            #expect(sequence.dropFirst().dropLast().allSatisfy { $0 == "GET" }, "the second POST only after case_evaluations showed none")
        }
    }

    /// Evaluation lookups the emulator recorded, in order.
    static func lookups(_ emu: RunningEmulator) async -> [CallRecord] {
        await emu.calls().filter { $0.method == "GET" && $0.path.contains("/external/case_evaluations/") }
    }

    @Test("(o) gateway: stored, then 502: no second POST, exit 0, one evaluation")
    func o() async throws {
        try await runWithFaults("o", faults: ["results:status-after-apply=502:count=1"]) { r, emu, _ in
            #expect(r.status == 0, "\(r.all)")
            #expect(await resultPosts(emu).map(\.status) == [502])
            #expect(await emu.evaluations().count == 1)
            #expect(await Self.lookups(emu).count == 1)
            #expect(r.stdout.contains("answered HTTP 502: the platform may have stored the results"))
            #expect(r.stdout.contains("confirmed through case_evaluations"))
        }
    }

    @Test("(p) gateway: stored, then 504: no second POST, exit 0, one evaluation")
    func p() async throws {
        try await runWithFaults("p", faults: ["results:status-after-apply=504:count=1"]) { r, emu, _ in
            #expect(r.status == 0, "\(r.all)")
            #expect(await resultPosts(emu).map(\.status) == [504])
            #expect(await emu.evaluations().count == 1)
        }
    }

    @Test("(q) gateway: 504 while the backend is still storing: lookups wait for the late commit, one evaluation")
    func q() async throws {
        // The commit comes 1.5 s after the 504; the window is far longer so that a loaded CI
        // machine (the in-process emulator's timer waiting for a thread) cannot turn this row
        // into a resend. The lookups stop as soon as the commit shows, so it costs nothing.
        try await runWithFaults("q", faults: ["results:apply-after=1500:count=1"], edit: { env in env["MHS_POST_CONFIRM_WINDOW"] = "60s" }) {
            r, emu, _ in
            #expect(r.status == 0, "\(r.all)")
            #expect(await resultPosts(emu).map(\.status) == [504])
            #expect(await emu.evaluations().count == 1)
            let lookups = await Self.lookups(emu)
            #expect(lookups.count >= 2, "the first lookups saw none, a later one the late commit")
            #expect(r.stdout.contains("confirmed through case_evaluations"))
        }
    }

    @Test("(r) gateway: 503 and nothing stored: posted again only after the window, one evaluation")
    func r() async throws {
        try await runWithFaults("r", faults: ["results:status=503:count=1"], edit: { env in env["MHS_POST_CONFIRM_WINDOW"] = "2s" }) {
            r, emu, _ in
            #expect(r.status == 0, "\(r.all)")
            let posts = await resultPosts(emu)
            #expect(posts.map(\.status) == [503, 201])
            #expect(await emu.evaluations().count == 1)
            // At least the lookup at the window's end (on a loaded machine the earlier ones
            // may take the whole window).
            let lookups = await Self.lookups(emu)
            #expect(lookups.count >= 1)
            if let first = posts.first?.at, let second = posts.last?.at {
                #expect(second.timeIntervalSince(first) >= 1.9, "the resend waited for the confirmation window")
            }
            #expect(r.stdout.contains("still lists none after 2 s: the POST was not stored; posting again"))
            #expect(r.stdout.contains("Results posted: HTTP 201 (attempt 2)"))
        }
    }

    @Test("(j) a 1 MB/s throttle with a 30 s deadline: exit 8 in time")
    func j() async throws {
        let big = NSTemporaryDirectory() + "mhs-throttled-\(UUID().uuidString).svs"
        let fd = open(big, O_CREAT | O_WRONLY, 0o600)
        _ = ftruncate(fd, 512 << 20)
        close(fd)
        defer { unlink(big) }
        try await runWithFaults("j", scans: [ScanSpec(path: big)], faults: ["download:rate=1000000"], edit: { env in
            env["MHS_DEADLINE"] = "30s"
            env["MHS_POST_MARGIN"] = "5s"
        }) { r, emu, output in
            #expect(r.status == 8, "\(r.all)")
            // The deadline, not the download, ended it: 512 MiB at 1 MB/s would take 512 s. (A
            // tighter bound than this failed on a loaded 2-core CI machine: no timing thresholds.)
            #expect(r.seconds < 200, "took \(r.seconds) s")
            #expect(r.stdout.contains("MHS_DEADLINE 30s with 5s kept for posting ran out during the download stage"))
            #expect(r.stdout.contains("download: ") && r.stdout.contains("MB/s, ETA"), "progress lines for the log tab")
            #expect(await resultPosts(emu).isEmpty)
            let report = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/run-report.json"))))
            #expect(report["exit_status"] == 8)
        }
    }

    @Test("(k) SIGTERM during the classifier: exit 143, run report written")
    func k() async throws {
        try await Emulator.withRunning(EmulatorConfiguration(scans: [ScanSpec(path: cmu)])) { emu in
            let output = freshOutput("matrix-k")
            var env = containerEnvironment(emu, output: output)
            env["MHS_CLASSIFIER"] = "slow"
            let r = try await mhs(["run"], environment: env, signal: SIGTERM, when: "slow classifier: waiting")
            #expect(r.status == 143, "\(r.all)")
            #expect(r.stdout.contains("received SIGTERM"))
            let report = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: output + "/run-report.json"))))
            #expect(report["exit_status"] == 143 && report["outcome"] == "terminated (SIGTERM)")
            #expect(FileManager.default.fileExists(atPath: output + "/results.partial.json"))
            #expect(await resultPosts(emu).isEmpty)
        }
    }

    @Test("(l) short body: detected and retried")
    func l() async throws {
        try await runWithFaults("l", faults: ["download:short-body:count=1"]) { r, emu, output in
            #expect(r.status == 0, "\(r.all)")
            let record = await gets(emu)
            #expect(record.map(\.outcome) == ["dropped", "completed"] && record.first?.fault == "short-body")
            let downloaded = try Data(contentsOf: URL(fileURLWithPath: output + "/work/scan-8061860.svs"))
            #expect(downloaded.count == cmuSize)
        }
    }

    @Test("a server without range support: one stream, restarted from zero after a reset")
    func noRanges() async throws {
        try await runWithFaults("no-range", faults: ["download:no-range", "download:reset-after=500000:count=1"]) { r, emu, output in
            #expect(r.status == 0, "\(r.all)")
            #expect(r.stdout.contains("one stream"))
            #expect(await gets(emu).map(\.status) == [200, 200])
            let downloaded = try Data(contentsOf: URL(fileURLWithPath: output + "/work/scan-8061860.svs"))
            #expect(downloaded == (try Data(contentsOf: URL(fileURLWithPath: cmu))))
        }
    }

    @Test("(m) work dir too small for the slide: clear error before downloading")
    func m() async throws {
        let huge = NSTemporaryDirectory() + "mhs-huge-\(UUID().uuidString).svs"
        let fd = open(huge, O_CREAT | O_WRONLY, 0o600)
        _ = ftruncate(fd, 1 << 42)  // 4 TiB, sparse: more than any test machine has free
        close(fd)
        defer { unlink(huge) }
        try await runWithFaults("m", scans: [ScanSpec(path: huge)]) { r, emu, output in
            #expect(r.status == 3, "\(r.all)")
            #expect(r.stdout.contains("MB free but the slide needs"))
            // The probe's answer was abandoned by the client; the server records it when it notices.
            #expect(await eventually(30) { await gets(emu).count >= 1 })
            #expect(await gets(emu).count == 1, "only the first part was asked for")
            let work = try FileManager.default.attributesOfItem(atPath: output + "/work/scan-8061860.download")[.size] as? Int
            #expect((work ?? 0) < 16 << 20, "nothing beyond the first part was written")
        }
    }

    @Test("(n) a DICOM zip with a path-traversal entry: refused")
    func n() async throws {
        let zipPath = NSTemporaryDirectory() + "mhs-traversal-\(UUID().uuidString).zip"
        defer { unlink(zipPath) }
        let archive = try Archive(url: URL(fileURLWithPath: zipPath), accessMode: .create)
        let dcm = try Data(contentsOf: URL(fileURLWithPath: slide("wsi2dcm-test-jpeg.dcm")))
        for name in ["series/level-0.dcm", "../../etc/evil.dcm"] {
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(dcm.count), provider: { pos, size in
                dcm.subdata(in: Int(pos)..<Int(pos) + size)
            })
        }
        try await runWithFaults("n", scans: [ScanSpec(path: zipPath)]) { r, emu, output in
            #expect(r.status == 4, "\(r.all)")
            #expect(r.stdout.contains("\"../../etc/evil.dcm\" points outside the extraction folder"))
            #expect(!FileManager.default.fileExists(atPath: output + "/etc/evil.dcm"))
            #expect(await resultPosts(emu).isEmpty)
        }
    }
}

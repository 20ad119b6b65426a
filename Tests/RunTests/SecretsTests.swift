import Foundation
import MHSContract
import MHSEmulator
import MHSTestSupport
import Testing
import ZIPFoundation

/// Runs the suite's scenarios with known secret values and looks for them in everything
/// produced: console output, every file written, the debug bundles' contents, and the
/// emulator's record, state and page.
@Suite("No secret reaches an output or a file")
struct SecretsTests {
    static let apiSecret = "SEKRIT-api-secret-value-0042"

    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var auth: EmulatorAuth
        var faults: [String]
        var edit: @Sendable (inout [String: String]) -> Void = { _ in }
        var classifier: String?
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "api-key success", auth: .apiKey, faults: []),
        Scenario(name: "jwt success", auth: .jwt, faults: []),
        Scenario(name: "post fails", auth: .apiKey, faults: ["results:status=500"]),
        Scenario(name: "answer lost after apply", auth: .jwt, faults: ["results:reset-after-apply:count=1"]),
        Scenario(name: "download retried", auth: .apiKey, faults: ["download:status=503:count=1", "download:reset-after=1000:count=1"]),
        Scenario(name: "bad signature", auth: .jwt, faults: [], edit: { env in
            env["SCAN_URL"] = env["SCAN_URL"]!.replacingOccurrences(of: "X-Amz-Signature=", with: "X-Amz-Signature=0")
        }),
        Scenario(name: "configuration error", auth: .jwt, faults: [], edit: { env in env["SCAN_ID"] = "not-a-number" }),
        Scenario(name: "wrong api key", auth: .apiKey, faults: [], edit: { env in env["API_KEY_SECRET"] = apiSecret + "-wrong" }),
        Scenario(name: "sigterm", auth: .apiKey, faults: [], classifier: "slow"),
    ]

    @Test("secrets stay out of every output and file", arguments: scenarios)
    func scenario(_ s: Scenario) async throws {
        var config = EmulatorConfiguration(scans: [ScanSpec(path: slide("CMU-1-Small-Region.svs"))], auth: s.auth, apiKeyID: "lab-key", apiKeySecret: Self.apiSecret)
        config.faults = try s.faults.map { try Fault(parsing: $0) }
        try await Emulator.withRunning(config) { emu in
            let output = freshOutput("secrets-" + s.name.replacingOccurrences(of: " ", with: "-"))
            var env = containerEnvironment(emu, auth: s.auth, output: output)
            if let c = s.classifier { env["MHS_CLASSIFIER"] = c }
            s.edit(&env)
            let r = s.classifier == "slow"
                ? try await mhs(["run"], environment: env, signal: SIGTERM, when: "slow classifier: waiting")
                : try await mhs(["run"], environment: env)

            var secrets = [Self.apiSecret, Data("lab-key:\(Self.apiSecret)".utf8).base64EncodedString()]
            if let jwt = env["JWT_TOKEN"] { secrets.append(jwt) }
            for key in ["SCAN_URL", "DEBUG_FILE_UPLOAD_URL"] {
                for item in URLComponents(string: env[key] ?? "")?.queryItems ?? [] where ["X-Amz-Signature", "X-Amz-Credential"].contains(item.name) {
                    if let v = item.value, v.count > 4 { secrets.append(v) }
                }
            }

            var places: [(String, String)] = [("stdout", r.stdout), ("stderr", r.stderr)]
            for file in FileManager.default.enumerator(atPath: output)?.compactMap({ $0 as? String }) ?? [] where !file.hasPrefix("work/") {
                if let data = FileManager.default.contents(atPath: output + "/" + file) { places.append((file, String(decoding: data, as: UTF8.self))) }
            }
            for upload in await emu.uploads() {
                let archive = try Archive(data: Data(upload.data), accessMode: .read, pathEncoding: nil)
                for entry in archive {
                    var bytes = Data()
                    _ = try archive.extract(entry) { bytes.append($0) }
                    places.append(("bundle/\(entry.path)", String(decoding: bytes, as: UTF8.self)))
                }
            }
            for page in ["/_emulator/calls", "/_emulator/state", "/"] {
                places.append((page, try await send(.GET, emu.baseURL + page).text))
            }
            #expect(places.count >= 5)
            let jwtShape = #/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/#
            for (place, text) in places {
                for secret in secrets { #expect(!text.contains(secret), "\(s.name): \(place) shows a secret") }
                #expect(text.firstMatch(of: jwtShape) == nil, "\(s.name): \(place) shows a token")
            }
        }
    }
}

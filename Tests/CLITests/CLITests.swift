import Foundation
import MHSTestSupport
import Testing

@Suite("mhs --version")
struct VersionTests {
    @Test("prints the release, and the commit the image recorded in MHS_COMMIT")
    func version() async throws {
        let plain = try await mhs(["--version"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(plain.status == 0)
        let line = plain.stdout.trimmingCharacters(in: .newlines)
        #expect(line.wholeMatch(of: /mhs \d+\.\d+\.\d+/) != nil, "\(plain.all)")
        // The commit the image recorded, shortened to 12 characters, after the same release.
        let built = try await mhs(["--version"], environment: ["MHS_COMMIT": "2d40780aa1b2c3d4e5f6"])
        #expect(built.stdout == line + " (commit 2d40780aa1b2)\n", "\(built.all)")
        let blank = try await mhs(["--version"], environment: ["MHS_COMMIT": "  "])
        #expect(blank.stdout == plain.stdout, "a blank commit is no commit")
        // The image's label says the same release.
        let dockerfile = try String(contentsOf: repositoryRoot.appendingPathComponent("Dockerfile"), encoding: .utf8)
        let release = plain.stdout.dropFirst(4).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(dockerfile.components(separatedBy: "org.opencontainers.image.version=\"\(release)\"").count == 3, "both images carry the label")
    }
}

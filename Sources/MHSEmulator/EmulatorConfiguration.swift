import Foundation
import MHSSlide

/// How containers authenticate to the emulator.
public enum EmulatorAuth: String, Sendable, CaseIterable {
    /// The platform's production mode: a task-scoped `JWT_TOKEN` in the environment.
    case jwt
    /// Local testing: `API_KEY_ID`/`API_KEY_SECRET`, exchanged at `POST /token`.
    case apiKey = "api-key"
}

/// One scan to serve.
public struct ScanSpec: Sendable {
    /// A slide file, a DICOM series folder, or a zip of one.
    public var path: String
    /// Regions the scan has on the platform: results are rejected unless exactly 1.
    public var regions: Int
    public init(path: String, regions: Int = 1) {
        self.path = path
        self.regions = regions
    }
}

/// Everything `mhs emulator` is started with.
public struct EmulatorConfiguration: Sendable {
    /// Each becomes the one scan of its own task.
    public var scans: [ScanSpec]
    /// Loopback address to listen on.
    public var host: String = "127.0.0.1"
    /// 0 picks a free port.
    public var port: Int = 0
    public var auth: EmulatorAuth = .jwt
    public var apiKeyID: String
    public var apiKeySecret: String
    /// Lifetime of presigned URLs, in seconds.
    public var urlTTL: Int = 3600
    /// Lifetime of bearer tokens, in seconds.
    public var tokenTTL: Int = 3600
    /// Faults in force from the start.
    public var faults: [Fault] = []
    /// Where zips and extracted series are written; a fresh temporary folder by default.
    public var workDirectory: String?
    /// When set, each slide is first opened and read in a child process (`mhs
    /// probe-slide`), so a hostile slide that crashes OpenSlide is marked unreadable instead
    /// of taking the emulator down. `mhs emulator` and `mhs demo` probe with themselves.
    public var probe: SlideProbe?
    /// HTTPS with a private CA made at start (`mhs emulator --tls`), under a host name:
    /// `HOST` is then that bare name and port (`techcyte.test:8443`), so a container that
    /// builds `https://api.<HOST>/api/v3` — any written for the real platform — reaches it.
    public var tls: TLSOptions?
    /// Where Leaflet's `leaflet.js`, `leaflet.css` and `images/` are, for the page's viewer:
    /// Debian's `libjs-leaflet` by default (`mhs` takes `MHS_LEAFLET_DIR`).
    public var leafletDirectory: String = "/usr/share/javascript/leaflet"

    public init(scans: [ScanSpec], auth: EmulatorAuth = .jwt, apiKeyID: String? = nil, apiKeySecret: String? = nil) {
        self.scans = scans
        self.auth = auth
        self.apiKeyID = apiKeyID ?? "emu-key-" + randomHex(4)
        self.apiKeySecret = apiKeySecret ?? "emu-secret-" + randomHex(16)
    }
}

/// How the emulator serves HTTPS.
public struct TLSOptions: Sendable {
    /// The platform's host name (`HOST` without the port); its `api.` name is what clients dial.
    public var hostName: String
    /// Where the CA certificate is written (PEM); `ca.pem` in the work folder by default.
    public var caFile: String?

    public init(hostName: String = "techcyte.test", caFile: String? = nil) {
        self.hostName = hostName
        self.caFile = caFile
    }
}

/// `count` random bytes as lowercase hex.
func randomHex(_ count: Int) -> String {
    var g = SystemRandomNumberGenerator()
    return (0..<count).map { _ in format2(UInt8.random(in: 0...255, using: &g)) }.joined()
}

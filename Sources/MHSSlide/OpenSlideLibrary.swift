#if canImport(Glibc)
import Glibc
#endif

/// OpenSlide, loaded at run time with `dlopen` (no header or link-time dependency).
///
/// Search order: `MHS_OPENSLIDE_LIB`; openslide-bin's `libopenslide.so.1` in a Python
/// site-packages folder; a system `libopenslide.so.1`; Debian's 3.4 `libopenslide.so.0`
/// as a last resort (it cannot open DICOM, and a warning says so). Only one copy is ever
/// loaded: two in one process return garbage.
public final class OpenSlideLibrary: @unchecked Sendable {
    // @unchecked: every stored property is immutable after init; OpenSlide's functions are
    // safe to call from any thread.

    /// Where the library was loaded from.
    public let path: String
    /// `openslide_get_version()`, e.g. `4.0.1`.
    public let version: String
    /// Set when only the legacy 3.x library was found.
    public let warning: String?

    typealias OpenFn = @convention(c) (UnsafePointer<CChar>) -> OpaquePointer?
    typealias CloseFn = @convention(c) (OpaquePointer) -> Void
    typealias ErrorFn = @convention(c) (OpaquePointer) -> UnsafePointer<CChar>?
    typealias LevelCountFn = @convention(c) (OpaquePointer) -> Int32
    typealias LevelDimensionsFn = @convention(c) (OpaquePointer, Int32, UnsafeMutablePointer<Int64>, UnsafeMutablePointer<Int64>) -> Void
    typealias LevelDownsampleFn = @convention(c) (OpaquePointer, Int32) -> Double
    typealias NamesFn = @convention(c) (OpaquePointer) -> UnsafePointer<UnsafePointer<CChar>?>?
    typealias PropertyValueFn = @convention(c) (OpaquePointer, UnsafePointer<CChar>) -> UnsafePointer<CChar>?
    typealias AssociatedDimensionsFn = @convention(c) (OpaquePointer, UnsafePointer<CChar>, UnsafeMutablePointer<Int64>, UnsafeMutablePointer<Int64>) -> Void
    typealias ReadAssociatedFn = @convention(c) (OpaquePointer, UnsafePointer<CChar>, UnsafeMutablePointer<UInt32>) -> Void
    typealias ReadRegionFn = @convention(c) (OpaquePointer, UnsafeMutablePointer<UInt32>, Int64, Int64, Int32, Int64, Int64) -> Void
    typealias VersionFn = @convention(c) () -> UnsafePointer<CChar>?
    typealias DetectVendorFn = @convention(c) (UnsafePointer<CChar>) -> UnsafePointer<CChar>?

    let open: OpenFn
    let close: CloseFn
    let getError: ErrorFn
    let levelCount: LevelCountFn
    let levelDimensions: LevelDimensionsFn
    let levelDownsample: LevelDownsampleFn
    let propertyNames: NamesFn
    let propertyValue: PropertyValueFn
    let associatedNames: NamesFn
    let associatedDimensions: AssociatedDimensionsFn
    let readAssociated: ReadAssociatedFn
    let readRegion: ReadRegionFn
    let detectVendor: DetectVendorFn

    private init(handle: UnsafeMutableRawPointer, path: String, legacy: Bool) throws(SlideError) {
        func symbol<T>(_ name: String, as type: T.Type) throws(SlideError) -> T {
            guard let p = dlsym(handle, name) else { throw SlideError.libraryUnusable(path: path, missing: name) }
            return unsafeBitCast(p, to: type)
        }
        open = try symbol("openslide_open", as: OpenFn.self)
        close = try symbol("openslide_close", as: CloseFn.self)
        getError = try symbol("openslide_get_error", as: ErrorFn.self)
        levelCount = try symbol("openslide_get_level_count", as: LevelCountFn.self)
        levelDimensions = try symbol("openslide_get_level_dimensions", as: LevelDimensionsFn.self)
        levelDownsample = try symbol("openslide_get_level_downsample", as: LevelDownsampleFn.self)
        propertyNames = try symbol("openslide_get_property_names", as: NamesFn.self)
        propertyValue = try symbol("openslide_get_property_value", as: PropertyValueFn.self)
        associatedNames = try symbol("openslide_get_associated_image_names", as: NamesFn.self)
        associatedDimensions = try symbol("openslide_get_associated_image_dimensions", as: AssociatedDimensionsFn.self)
        readAssociated = try symbol("openslide_read_associated_image", as: ReadAssociatedFn.self)
        readRegion = try symbol("openslide_read_region", as: ReadRegionFn.self)
        detectVendor = try symbol("openslide_detect_vendor", as: DetectVendorFn.self)
        let versionFn = try symbol("openslide_get_version", as: VersionFn.self)
        version = versionFn().map { String(cString: $0) } ?? "unknown"
        self.path = path
        warning = legacy
            ? "using the legacy OpenSlide \(version) at \(path): it cannot open DICOM and reports no MPP for generic TIFF; install openslide-bin (pip install openslide-bin) or set MHS_OPENSLIDE_LIB"
            : nil
    }

    private static let loaded: Result<OpenSlideLibrary, SlideError> = {
        do throws(SlideError) {
            return .success(try locateAndLoad())
        } catch {
            return .failure(error)
        }
    }()

    /// The process-wide OpenSlide, loaded on first use.
    public static func shared() throws(SlideError) -> OpenSlideLibrary {
        try loaded.get()
    }

    private static func locateAndLoad() throws(SlideError) -> OpenSlideLibrary {
        var tried: [String] = []
        if let explicit = getenv("MHS_OPENSLIDE_LIB").map({ String(cString: $0) }), !explicit.isEmpty {
            guard let h = dlopen(explicit, RTLD_NOW | RTLD_LOCAL) else {
                throw SlideError.libraryNotFound(searched: ["MHS_OPENSLIDE_LIB=\(explicit) (\(dlerrorText()))"])
            }
            return try OpenSlideLibrary(handle: h, path: explicit, legacy: false)
        }
        for candidate in openslideBinCandidates() {
            tried.append(candidate)
            if access(candidate, R_OK) == 0, let h = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) {
                return try OpenSlideLibrary(handle: h, path: candidate, legacy: false)
            }
        }
        tried.append("libopenslide.so.1 (system)")
        if let h = dlopen("libopenslide.so.1", RTLD_NOW | RTLD_LOCAL) {
            return try OpenSlideLibrary(handle: h, path: "libopenslide.so.1", legacy: false)
        }
        tried.append("libopenslide.so.0 (system, legacy)")
        if let h = dlopen("libopenslide.so.0", RTLD_NOW | RTLD_LOCAL) {
            return try OpenSlideLibrary(handle: h, path: "libopenslide.so.0", legacy: true)
        }
        throw SlideError.libraryNotFound(searched: tried)
    }

    /// openslide-bin's copies in the usual Python site-packages folders, then where the
    /// `python3` on PATH says the package is.
    static func openslideBinCandidates() -> [String] {
        var patterns = [
            "/usr/lib/python3*/site-packages", "/usr/lib/python3/dist-packages", "/usr/local/lib/python3*/site-packages",
            "/usr/local/lib/python3*/dist-packages", "/opt/*/lib/python3*/site-packages",
        ]
        if let home = getenv("HOME").map({ String(cString: $0) }) {
            patterns += ["\(home)/.local/lib/python3*/site-packages", "\(home)/.pyenv/versions/*/lib/python3*/site-packages"]
        }
        if let venv = getenv("VIRTUAL_ENV").map({ String(cString: $0) }) {
            patterns.insert("\(venv)/lib/python3*/site-packages", at: 0)
        }
        var found: [String] = []
        for pattern in patterns { found += glob(pattern + "/openslide_bin/libopenslide.so.1") }
        if found.isEmpty, let dir = run("python3 -c 'import openslide_bin, os; print(os.path.dirname(openslide_bin.__file__))' 2>/dev/null") {
            found.append(dir + "/libopenslide.so.1")
        }
        return found
    }

    private static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
    }

    private static func run(_ command: String) -> String? {
        guard let pipe = popen(command, "r") else { return nil }
        defer { pclose(pipe) }
        var output = ""
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), pipe) != nil {
            output += buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
        let trimmed = output.split(separator: "\n").first.map(String.init)
        return trimmed?.isEmpty == false ? trimmed : nil
    }

    private static func dlerrorText() -> String {
        dlerror().map { String(cString: $0) } ?? "unknown error"
    }
}

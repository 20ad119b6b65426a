import Foundation
import MHSDynamicLibrary

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

    private init(_ library: SharedLibrary) throws(SlideError) {
        let path = library.path
        func symbol<T>(_ name: String, as type: T.Type) throws(SlideError) -> T {
            guard let f = library.function(name, as: type) else { throw SlideError.libraryUnusable(path: path, missing: name) }
            return f
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
        let legacy = path == "libopenslide.so.0"
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
        var search = LibrarySearch(
            variable: "MHS_OPENSLIDE_LIB", packageFiles: ["openslide_bin/libopenslide.so.1"],
            sonames: ["libopenslide.so.1", "libopenslide.so.0"])
        guard let library = search.load(from: LibraryLocations.current) else {
            throw SlideError.libraryNotFound(searched: search.attempts)
        }
        return try OpenSlideLibrary(library)
    }
}

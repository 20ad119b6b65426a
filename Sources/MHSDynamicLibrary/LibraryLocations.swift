import Synchronization

/// Where the run-time libraries (OpenSlide, ONNX Runtime, the CUDA driver, cuBLAS) are
/// looked for, as the task's configuration says: files named by `MHS_*_LIB` variables, an
/// active virtualenv and the user's home for Python wheels, then the system's folders.
///
/// The libraries themselves never read the environment. The executable's entry point
/// builds this once from the process environment and ``bootstrap(_:)``s it for the
/// process-wide loaders (OpenSlide and ONNX Runtime are loaded once per process, as they
/// ask), the way swift-log's `LoggingSystem.bootstrap` is called once; the CUDA probe and
/// the GPU check take it as a parameter. Without a bootstrap the system's folders and the
/// `python3` on the path are searched.
public struct LibraryLocations: Sendable, Hashable {
    /// Files named explicitly, by variable: `MHS_OPENSLIDE_LIB`, `MHS_ONNXRUNTIME_LIB`,
    /// `MHS_CUDA_LIB`, `MHS_CUBLAS_LIB`.
    public var explicit: [String: String]
    /// `VIRTUAL_ENV`: a virtualenv whose site-packages are searched first.
    public var virtualEnvironment: String?
    /// `HOME`: the user's `~/.local` and pyenv site-packages.
    public var home: String?

    /// The variables naming one library file each.
    public static let variables = ["MHS_OPENSLIDE_LIB", "MHS_ONNXRUNTIME_LIB", "MHS_CUDA_LIB", "MHS_CUBLAS_LIB"]

    public init(explicit: [String: String] = [:], virtualEnvironment: String? = nil, home: String? = nil) {
        self.explicit = explicit.filter { !$0.value.isEmpty }
        self.virtualEnvironment = virtualEnvironment
        self.home = home
    }

    /// Picks the library variables, `VIRTUAL_ENV` and `HOME` out of an environment.
    public init(environment: [String: String]) {
        var explicit: [String: String] = [:]
        for name in Self.variables { if let v = environment[name], !v.isEmpty { explicit[name] = v } }
        self.init(explicit: explicit, virtualEnvironment: environment["VIRTUAL_ENV"], home: environment["HOME"])
    }

    /// The file `variable` names, if it is set.
    public func file(_ variable: String) -> String? { explicit[variable] }

    private static let bootstrapped = Mutex<LibraryLocations?>(nil)

    /// Sets the locations the process-wide loaders use. Call it once, first thing in the
    /// executable; a library already loaded stays loaded.
    public static func bootstrap(_ locations: LibraryLocations) {
        bootstrapped.withLock { $0 = locations }
    }

    /// What was bootstrapped, or the system's folders alone.
    public static var current: LibraryLocations { bootstrapped.withLock { $0 } ?? LibraryLocations() }
}

#if canImport(Glibc)
import Glibc
#endif

/// A C library opened at run time with `dlopen`, and the places searched for it.
///
/// `mhs` links none of OpenSlide, the CUDA driver, cuBLAS or ONNX Runtime: each is found
/// when first needed, so the same binary runs with or without them and says exactly where
/// it looked when one is missing.
public struct SharedLibrary: @unchecked Sendable {
    // @unchecked: the handle is never closed and dlsym is thread-safe.
    let handle: UnsafeMutableRawPointer
    /// The path or soname it was opened by.
    public let path: String

    /// Opens `path` (a path, or a soname for the loader's search), or returns nil with
    /// the loader's message in `failure`.
    public static func open(_ path: String, global: Bool = false, failure: inout String) -> SharedLibrary? {
        guard let h = dlopen(path, RTLD_NOW | (global ? RTLD_GLOBAL : RTLD_LOCAL)) else {
            failure = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            return nil
        }
        return SharedLibrary(handle: h, path: path)
    }

    /// The address of `name`, or nil.
    public func symbol(_ name: String) -> UnsafeMutableRawPointer? { dlsym(handle, name) }

    /// `name` as a C function of type `T`, or nil.
    public func function<T>(_ name: String, as type: T.Type) -> T? {
        symbol(name).map { unsafeBitCast($0, to: type) }
    }
}

/// Where a library may be: an environment variable naming it, files inside Python packages
/// (pip wheels such as `onnxruntime` or `nvidia-cublas` ship their libraries), then sonames
/// for the system loader. ``attempts`` records each place tried and why it failed.
public struct LibrarySearch: Sendable {
    /// The variable that, when set, names the one file to load (e.g. `MHS_ONNXRUNTIME_LIB`).
    public var variable: String
    /// Globs relative to a site-packages folder, e.g. `onnxruntime/capi/libonnxruntime.so*`.
    public var packageFiles: [String]
    /// Sonames for the system loader, e.g. `libonnxruntime.so.1`.
    public var sonames: [String]
    /// Globs of libraries beside a candidate file to load first, globally, because the
    /// candidate needs them and their folder is not on the loader's path (cuBLAS needs
    /// `libcublasLt.so.*` from its wheel's folder).
    public var companions: [String]
    /// Every place tried, with why it failed, in order.
    public private(set) var attempts: [String] = []

    public init(variable: String, packageFiles: [String], sonames: [String], companions: [String] = []) {
        self.variable = variable
        self.packageFiles = packageFiles
        self.sonames = sonames
        self.companions = companions
    }

    /// Loads the first candidate that opens. With the variable set, only that file is tried.
    /// - Parameter accept: a further check (e.g. an expected symbol); return a reason to reject.
    public mutating func load(
        from locations: LibraryLocations, global: Bool = false, accept: (SharedLibrary) -> String? = { _ in nil }
    ) -> SharedLibrary? {
        attempts = []
        if let explicit = locations.file(variable) {
            return attempt(explicit, label: "\(variable)=\(explicit)", global: global, accept: accept)
        }
        // The usual folders first; `python3`'s own list only when they hold nothing.
        var folders = Self.sitePackages(locations)
        func matches(in folders: [String]) -> [String] {
            folders.flatMap { folder in packageFiles.flatMap { Self.glob(folder + "/" + $0).sorted() } }
        }
        var files = matches(in: folders)
        if files.isEmpty {
            let more = Self.pythonSitePackages.filter { !folders.contains($0) }
            folders += more
            files = matches(in: more)
        }
        if files.isEmpty {
            attempts.append("no \(packageFiles.joined(separator: " or ")) in Python site-packages (\(folders.count) folder(s) searched)")
        }
        for file in files {
            if let lib = attempt(file, label: file, global: global, accept: accept) { return lib }
        }
        for soname in sonames {
            if let lib = attempt(soname, label: "\(soname) (system loader)", global: global, accept: accept) { return lib }
        }
        return nil
    }

    private mutating func attempt(
        _ path: String, label: String, global: Bool, accept: (SharedLibrary) -> String?
    ) -> SharedLibrary? {
        if let slash = path.lastIndex(of: "/") {
            let folder = String(path[..<slash])
            for pattern in companions {
                for file in Self.glob(folder + "/" + pattern) {
                    var ignored = ""
                    _ = SharedLibrary.open(file, global: true, failure: &ignored)
                }
            }
        }
        var failure = ""
        guard let lib = SharedLibrary.open(path, global: global, failure: &failure) else {
            attempts.append("\(label): \(failure)")
            return nil
        }
        if let reason = accept(lib) {
            attempts.append("\(label): \(reason)")
            return nil
        }
        return lib
    }

    /// The usual site-packages folders: an active virtualenv, the user's, /usr/local, /usr,
    /// /opt/*/ (e.g. /opt/venv). ``pythonSitePackages`` adds the `python3` on PATH's own.
    public static func sitePackages(_ locations: LibraryLocations) -> [String] {
        var patterns: [String] = []
        if let venv = locations.virtualEnvironment { patterns.append("\(venv)/lib/python3*/site-packages") }
        if let home = locations.home {
            patterns += ["\(home)/.local/lib/python3*/site-packages", "\(home)/.pyenv/versions/*/lib/python3*/site-packages"]
        }
        patterns += [
            "/usr/local/lib/python3*/site-packages", "/usr/local/lib/python3*/dist-packages", "/usr/lib/python3/dist-packages",
            "/usr/lib/python3*/site-packages", "/opt/*/lib/python3*/site-packages", "/opt/*/*/lib/python3*/site-packages",
        ]
        var found: [String] = []
        for p in patterns {
            for dir in glob(p) where !found.contains(dir) { found.append(dir) }
        }
        return found
    }

    /// The `*-packages` folders on the `sys.path` of the `python3` on PATH, asked once per
    /// process (starting Python takes tens of milliseconds).
    public static let pythonSitePackages: [String] =
        run("python3 -c 'import sys; print(\"\\n\".join(p for p in sys.path if p.endswith(\"-packages\")))' 2>/dev/null") ?? []

    /// The paths matching a shell pattern.
    public static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
    }

    private static func run(_ command: String) -> [String]? {
        guard let pipe = popen(command, "r") else { return nil }
        defer { pclose(pipe) }
        var lines: [String] = []
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), pipe) != nil {
            let line = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let trimmed = line.hasSuffix("\n") ? String(line.dropLast()) : line
            if !trimmed.isEmpty { lines.append(trimmed) }
        }
        return lines
    }
}

import Foundation
import MHSImaging
import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Opens and first reads a slide in a child process (`mhs probe-slide`), with a time limit,
/// so that a crash or a hang inside OpenSlide or a codec it uses — which no Swift code can
/// catch — ends that child, not the task: the caller gets a message naming what happened
/// and goes on to write its report.
///
/// What the child does is ``exercise(_:)``: open, the whole-slide thumbnail, and a region
/// of every level through OpenSlide and through the direct tile path.
public struct SlideProbe: Sendable {
    /// The `mhs` executable that has the `probe-slide` subcommand.
    public var executable: String
    /// How long the child may take.
    public var timeout: Duration

    public init(executable: String, timeout: Duration = .seconds(120)) {
        self.executable = executable
        self.timeout = timeout
    }

    /// The running executable's own path (for `mhs` to probe with itself).
    public static var currentExecutable: String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// How the probe ended.
    public enum Outcome: Sendable, Equatable {
        /// Opened and read without trouble.
        case readable
        /// The slide was refused with a clear error (OpenSlide's or mhs's own).
        case refused(String)
        /// The child was killed by a signal (a crash in C code, or memory exhausted);
        /// `library` is where the crashing thread was, when its backtrace says.
        case crashed(signal: Int32, stage: String, library: String?)
        /// The child ran past the time limit and was stopped.
        case hung(seconds: Double)
        /// The child could not be started.
        case failedToRun(String)
    }

    /// What was wrong with a slide, for the caller to refuse it with.
    public struct Finding: Sendable, Equatable {
        public var outcome: Outcome
        /// In words naming the format and, for a crash, the stage and the library.
        public var message: String
    }

    /// Sniffs `path`, probes it in a child process (``check(_:thumbnail:)``) and says what was
    /// wrong, or nil when it opened and read well. A file that is no slide format mhs reads
    /// is answered without starting the child.
    public func problem(with path: String, thumbnail: String? = nil) async -> Finding? {
        let format = SlideFormat.sniff(path: path)
        if case .unsupported(let what) = format {
            let message = SlideError.unsupportedFormat(path: path, detail: what).description
            return Finding(outcome: .refused(message), message: message)
        }
        let outcome = await check(path, thumbnail: thumbnail)
        return Self.describe(outcome, format: format).map { Finding(outcome: outcome, message: $0) }
    }

    /// Probes `path` in a child process. With `thumbnail`, the child also writes the slide's
    /// 1024 px thumbnail there (``readThumbnail(from:)`` loads it), so the caller need not
    /// decode it a second time.
    public func check(_ path: String, thumbnail: String? = nil) async -> Outcome {
        let executable = self.executable
        let limit = timeout
        let arguments = ["probe-slide", path] + (thumbnail.map { ["--thumbnail", $0] } ?? [])
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    let result = try await Subprocess.run(
                        .path(FilePath(executable)), arguments: Arguments(arguments), environment: .inherit,
                        output: .discarded, error: .string(limit: 1 << 20))
                    return Self.outcome(result.terminationStatus, stderr: result.standardError)
                } catch is CancellationError {
                    return nil
                } catch {
                    if Task.isCancelled { return nil }
                    return .failedToRun("cannot start \(executable) probe-slide: \(error)")
                }
            }
            group.addTask {
                do { try await Task.sleep(for: limit) } catch { return nil }
                return .hung(seconds: Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18)
            }
            var outcome: Outcome?
            for await next in group {
                if let next, outcome == nil {
                    outcome = next
                    group.cancelAll()  // stops the timer, or kills the child
                }
            }
            return outcome ?? .failedToRun("the probe ended without an outcome")
        }
    }

    /// The words for an outcome that is not `.readable`, naming the format and the stage.
    public static func describe(_ outcome: Outcome, format: SlideFormat) -> String? {
        let what = "this " + format.shortName
        switch outcome {
        case .readable: return nil
        case .refused(let message): return message
        case .crashed(let signal, let stage, let library):
            let name = signalName(signal)
            if signal == SIGKILL {
                return "the slide reader was killed (\(name)) \(stage) \(what), most likely for using too much memory; it ran in a separate process (mhs probe-slide), so mhs could report it"
            }
            let who = library.map { $0.lowercased().contains("openslide") ? "OpenSlide" : "the slide reader (in \($0))" } ?? "OpenSlide"
            return "\(who) crashed (\(name)) \(stage) \(what); it ran in a separate process (mhs probe-slide), so mhs could report it"
        case .hung(let seconds):
            return "opening and reading \(what) took longer than \(String(format: "%g", seconds)) s (MHS_PROBE_TIMEOUT) and was stopped; the file is likely corrupt"
        case .failedToRun(let why): return why
        }
    }

    /// `SIGSEGV`, `SIGABRT`, … for a signal number.
    public static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGSEGV: "SIGSEGV"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGILL: "SIGILL"
        case SIGTRAP: "SIGTRAP"
        case SIGKILL: "SIGKILL"
        case SIGTERM: "SIGTERM"
        default: "signal \(signal)"
        }
    }

    /// The child's last error line, without its prefix.
    static func message(_ stderr: String) -> String {
        let lines = stderr.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("probe: ") && !$0.isEmpty }
        guard let last = lines.last else { return "the slide could not be read" }
        return last.hasPrefix("mhs probe-slide: ") ? String(last.dropFirst(17)) : last
    }

    /// The library the crashing thread was in, from the Swift runtime's backtrace
    /// (`Thread N crashed:` then `0  0x… <symbol> in LIBRARY`).
    static func crashSite(_ stderr: String) -> String? {
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: false)
        guard let at = lines.firstIndex(where: { $0.hasPrefix("Thread ") && $0.hasSuffix("crashed:") }) else { return nil }
        guard let frame = lines[(at + 1)...].first(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }),
            let range = frame.range(of: " in ", options: .backwards)
        else { return nil }
        let library = frame[range.upperBound...].split(separator: " ").first.map(String.init)
        return library?.isEmpty == false ? library : nil
    }

    /// Where the child was when it died, from its `probe: STAGE` lines.
    static func stage(_ stderr: String) -> String {
        let marks = stderr.split(separator: "\n").filter { $0.hasPrefix("probe: ") }
        return marks.last.map { String($0.dropFirst(7)) } ?? "opening"
    }

    // MARK: The child's side

    /// What the child does: opens `path`, makes OpenSlide decode the thumbnail's level, reads a region of every level
    /// (OpenSlide and the direct path), announcing each stage on standard error first so a
    /// crash can be placed. Also used in-process by `mhs inspect --read`.
    public static func exercise(path: String, thumbnail: String? = nil, announce: (String) -> Void = { _ in }) throws(SlideError) -> Slide {
        announce("opening")
        let slide = try Slide(path: path)
        announce("reading the thumbnail of")
        if let thumbnail {
            let image = try slide.thumbnail(maxSide: 1024)
            writeThumbnail(image, to: thumbnail)
        } else {
            try slide.touchThumbnailLevel(maxSide: 1024)
        }
        announce("reading the pixels of")
        for (index, level) in slide.levels.enumerated() {
            let side = min(256, level.width, level.height)
            let lx = max(0, level.width / 2 - side / 2), ly = max(0, level.height / 2 - side / 2)
            let x = Int(Double(lx) * level.downsample), y = Int(Double(ly) * level.downsample)
            _ = try slide.readRegion(x: x, y: y, level: index, width: side, height: side)
            if let direct = slide.directTiles {
                let tile = direct.tileSize(level: index)
                let tx = Int(Double((lx / tile.width) * tile.width) * level.downsample)
                let ty = Int(Double((ly / tile.height) * tile.height) * level.downsample)
                _ = try direct.readRegion(x: tx, y: ty, level: index, width: tile.width, height: tile.height, downsample: level.downsample)
            }
        }
        return slide
    }
}

extension SlideProbe {
    private static let magic = Array("MHSRGBA1".utf8)

    /// Writes a thumbnail for the parent: `MHSRGBA1`, width and height (UInt32, little
    /// endian), then the RGBA bytes. Best effort: the parent reads the slide itself without it.
    static func writeThumbnail(_ image: RGBAImage, to path: String) {
        var header = magic
        for v in [image.width, image.height] { for k in 0..<4 { header.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let whole = header.withUnsafeBytes { writeFully(fd, $0) } && image.pixels.withUnsafeBytes { writeFully(fd, $0) }
        if !whole { ftruncate(fd, 0) }  // the parent then finds no thumbnail rather than half of one
    }

    private static func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// Loads (and removes) what the child wrote with `thumbnail:`; nil when it is missing or
    /// not a well-formed thumbnail of at most 1024 px a side.
    public static func readThumbnail(from path: String) -> RGBAImage? {
        defer { unlink(path) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 16)
        guard FileBytes.readFully(fd, into: &header, count: 16, at: 0) == 16, Array(header.prefix(8)) == magic else { return nil }
        func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(header[at + $1]) << (8 * $1) } }
        let width = u32(8), height = u32(12)
        var st = stat()
        guard (1...1024).contains(width), (1...1024).contains(height), fstat(fd, &st) == 0, Int(st.st_size) == 16 + width * height * 4 else {
            return nil
        }
        var complete = false
        let pixels = [UInt8](unsafeUninitializedCapacity: width * height * 4) { buffer, count in
            complete = FileBytes.readFully(fd, into: buffer.baseAddress!, count: buffer.count, at: 16) == buffer.count
            count = complete ? buffer.count : 0
        }
        return complete ? RGBAImage(width: width, height: height, pixels: pixels) : nil
    }
}

extension SlideFormat {
    /// "Aperio SVS", "TIFF", "DICOM", … for messages.
    var shortName: String {
        switch self {
        case .aperioSVS: "Aperio SVS"
        case .tiff(let big): big ? "BigTIFF" : "TIFF"
        case .dicom: "DICOM"
        case .zip: "DICOM series"
        case .unsupported: "file"
        }
    }
}

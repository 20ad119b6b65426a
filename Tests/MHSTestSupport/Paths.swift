import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The repository's root.
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// `../shared/testdata/slides`, where the real test slides live (never committed here).
public let slidesDirectory = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata/slides").path

/// Where tests leave files for people to look at (screenshots, run outputs).
public let testOutput = repositoryRoot.appendingPathComponent("test-output")

/// A test slide's path.
public func slide(_ name: String) -> String { slidesDirectory + "/" + name }

/// An example results body from `Examples/results`.
public func exampleBody(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: repositoryRoot.appendingPathComponent("Examples/results/\(name)")))
}

/// The `mhs` binary `swift build` made beside the test bundle (or MHS_BINARY).
public let mhsBinary: String = {
    if let path = ProcessInfo.processInfo.environment["MHS_BINARY"] { return path }
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("mhs").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return repositoryRoot.appendingPathComponent(".build/debug/mhs").path
}()

/// What a finished `mhs` process said.
public struct Outcome: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// Wall time from the process's start to its exit.
    public var seconds: Double = 0
    public var all: String { stdout + stderr }

    public init(status: Int32, stdout: String, stderr: String, seconds: Double = 0) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
    }
}

/// Runs the real `mhs` binary with `arguments`, an environment, and optional input.
///
/// Output is drained by readability callbacks and the exit is awaited through the
/// termination handler, so no thread blocks: many of these may run at once beside
/// in-process servers.
/// With `signal` and `trigger`, sends that signal once standard output contains `trigger`.
public func mhs(
    _ arguments: [String], environment: [String: String]? = nil, input: String? = nil, signal: Int32? = nil,
    when trigger: String? = nil
) async throws -> Outcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: mhsBinary)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe(), inPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inPipe
    let stdout = Collector(), stderr = Collector()
    if let signal, let trigger {
        stdout.onText = { text in
            if text.contains(trigger) {
                kill(process.processIdentifier, signal)
                return true
            }
            return false
        }
    }
    stdout.drain(out.fileHandleForReading)
    stderr.drain(err.fileHandleForReading)
    let started = ContinuousClock.now
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do {
            try process.run()
        } catch {
            continuation.resume(throwing: error)
            return
        }
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try? inPipe.fileHandleForWriting.close()
    }
    let seconds = (ContinuousClock.now - started) / .seconds(1)
    return Outcome(
        status: status, stdout: stdout.finish(out.fileHandleForReading), stderr: stderr.finish(err.fileHandleForReading), seconds: seconds)
}

/// Gathers what a pipe delivers through its readability handler.
final class Collector: @unchecked Sendable {
    // @unchecked: `data` is only touched under `lock`.
    private let lock = NSLock()
    private var data = Data()
    /// Called with all text so far after each chunk until it returns true.
    var onText: ((String) -> Bool)?

    func drain(_ handle: FileHandle) {
        handle.readabilityHandler = { [self] h in
            let chunk = h.availableData
            if chunk.isEmpty {
                h.readabilityHandler = nil
            } else {
                let text: String? = lock.withLock {
                    data.append(chunk)
                    return onText == nil ? nil : String(decoding: data, as: UTF8.self)
                }
                if let text, let onText, onText(text) { lock.withLock { self.onText = nil } }
            }
        }
    }

    /// Stops the handler, takes what is left in the pipe, and returns the text.
    func finish(_ handle: FileHandle) -> String {
        handle.readabilityHandler = nil
        let rest = handle.readDataToEndOfFile()
        return lock.withLock {
            data.append(rest)
            return String(decoding: data, as: UTF8.self)
        }
    }
}

/// Reads a pipe to its end on a GCD thread.
public func readToEnd(_ handle: FileHandle) async -> Data {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: handle.readDataToEndOfFile()) }
    }
}

/// Runs a program to its end without blocking Swift's cooperative pool; returns its status.
public func runProgram(_ path: String, _ arguments: [String]) async throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    return try await withCheckedThrowingContinuation { continuation in
        p.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try p.run() } catch { continuation.resume(throwing: error) }
    }
}

/// Waits (up to `seconds`) until `condition` holds; servers record calls just after answering.
public func eventually(_ seconds: Double = 3, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}

/// Runs CPU-heavy synchronous work (decoding a whole slide, comparing millions of pixels) on a
/// Dispatch thread instead of Swift's cooperative pool: on 2 cores two such tests would
/// otherwise hold the whole pool and starve the in-process emulators' timers of other tests.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

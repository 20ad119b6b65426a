import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import MHSContract
import MHSSecrets
import MHSSlide
import NIOCore
import ServiceLifecycle

/// What every route needs: the configuration, the state, and the signing keys.
final class EmulatorCore: Sendable {
    let configuration: EmulatorConfiguration
    let tasks: [EmulatedTask]
    let slides: [String: Slide]
    let platform: Platform
    let presigner = Presigner()
    let tokens = TokenIssuer()
    let redactor: Redactor
    let workDirectory: String
    /// The CA and server certificate, and where the CA was written, when serving HTTPS.
    let authority: TLSAuthority?
    let caFile: String?

    init(configuration: EmulatorConfiguration) async throws {
        guard !configuration.scans.isEmpty else { throw EmulatorError.noSlides }
        self.configuration = configuration
        let work = configuration.workDirectory ?? NSTemporaryDirectory() + "mhs-emulator-" + randomHex(6)
        workDirectory = work
        let prepared = try await ScanCatalog.prepare(configuration.scans, workDirectory: work, probe: configuration.probe)
        tasks = prepared.tasks
        slides = prepared.slides
        platform = Platform(tasks: prepared.tasks, faults: configuration.faults)
        redactor = Redactor(secrets: [configuration.apiKeySecret])
        if let tls = configuration.tls {
            let authority = try TLSAuthority(hostName: tls.hostName)
            let file = tls.caFile ?? work + "/ca.pem"
            do {
                try authority.writeCA(to: file)
            } catch {
                throw EmulatorError.cannotListen("cannot write the CA certificate to \(file): \(error.localizedDescription)")
            }
            (self.authority, caFile) = (authority, file)
        } else {
            (authority, caFile) = (nil, nil)
        }
    }

    func task(number: Int) -> EmulatedTask? { tasks.first { $0.number == number } }

    func scan(objectKey: String) -> EmulatedScan? {
        tasks.lazy.flatMap(\.scans).first { $0.objectKey == objectKey }
    }

    func scan(id: String) -> EmulatedScan? { tasks.lazy.flatMap(\.scans).first { $0.id == id } }

    /// Debug upload keys are the task's first scan's object key reversed: stable, unguessable.
    func debugKey(_ task: EmulatedTask) -> String { String(task.scans[0].objectKey.reversed()) }

    func task(debugKey: String) -> EmulatedTask? { tasks.first { self.debugKey($0) == debugKey } }
}

/// The local Techcyte platform: presigned slide URLs, the `/api/v3` routes, fault
/// injection, a record of every call, and a web page of what was posted.
///
/// Start it in-process with ``withRunning(_:logger:_:)`` (tests, `mhs demo`) or run it
/// until a signal with ``runUntilSignalled(_:logger:onReady:)`` (`mhs emulator`).
public enum Emulator {
    /// Starts an emulator on a free loopback port, runs `body` with it, then stops it.
    public static func withRunning<T: Sendable>(
        _ configuration: EmulatorConfiguration, logger: Logger? = nil,
        _ body: @Sendable (RunningEmulator) async throws -> T
    ) async throws -> T {
        let core = try await EmulatorCore(configuration: configuration)
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Int.self)
        let log = logger ?? quietLogger()
        let app = try makeApplication(core, logger: log) { port in readyContinuation.yield(port) }
        let services = ServiceGroup(configuration: .init(services: [app], logger: log))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await services.run()
                return nil
            }
            var iterator = ready.makeAsyncIterator()
            guard let port = await iterator.next() else { throw EmulatorError.cannotListen("the server stopped before it was ready") }
            let running = RunningEmulator(core: core, port: port)
            let result: T
            do {
                result = try await body(running)
            } catch {
                group.cancelAll()
                while let next = try? await group.next() { _ = next }
                throw error
            }
            // Stop gracefully: idle connections (a browser's keep-alive ones) closed, requests
            // in flight answered; after a second whatever is left is cancelled. Cancelling
            // open connections outright can trap in NIO (an async writer deinited unfinished).
            await services.triggerGracefulShutdown()
            group.addTask {
                try? await Task.sleep(for: .seconds(1))
                return nil
            }
            _ = try? await group.next()
            group.cancelAll()
            while let next = try? await group.next() { _ = next }
            return result
        }
    }

    /// Runs until SIGINT or SIGTERM; `onReady` gets the running emulator once it listens.
    public static func runUntilSignalled(
        _ configuration: EmulatorConfiguration, logger: Logger? = nil,
        onReady: @escaping @Sendable (RunningEmulator) async -> Void
    ) async throws -> RunningEmulator.Summary {
        let core = try await EmulatorCore(configuration: configuration)
        let app = try makeApplication(core, logger: logger ?? quietLogger()) { port in
            await onReady(RunningEmulator(core: core, port: port))
        }
        try await app.runService()
        return await RunningEmulator(core: core, port: 0).summary()
    }

    static func quietLogger() -> Logger {
        var logger = Logger(label: "mhs.emulator")
        logger.logLevel = .critical  // shutdown noise otherwise; problems show in HTTP answers
        return logger
    }

    static func makeApplication(
        _ core: EmulatorCore, logger: Logger, onPort: @escaping @Sendable (Int) async -> Void
    ) throws -> some ApplicationProtocol {
        let router = Router(context: EmulatorContext.self)
        router.add(middleware: CallRecorder(platform: core.platform, redactor: core.redactor))
        S3Routes(emulator: core).register(on: router)
        APIRoutes(emulator: core).register(on: router)
        AdminRoutes(emulator: core).register(on: router)
        PageRoutes(emulator: core).register(on: router)
        let server: HTTPServerBuilder = try core.authority.map { try .tls(.http1(), tlsConfiguration: $0.serverConfiguration()) } ?? .http1()
        return Application(
            router: router, server: server,
            configuration: .init(address: .hostname(core.configuration.host, port: core.configuration.port), serverName: "mhs-emulator"),
            onServerRunning: { channel in await onPort(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}

/// A started emulator: where it listens and the environment a container needs.
public struct RunningEmulator: Sendable {
    let core: EmulatorCore
    /// The port it listens on.
    public let port: Int

    init(core: EmulatorCore, port: Int) {
        self.core = core
        self.port = port
    }

    /// `http://127.0.0.1:PORT`, or with TLS `https://api.<host>:PORT` (every route, the
    /// presigned slide URLs too, under the one name a container must reach).
    public var baseURL: String {
        if let tls = core.configuration.tls { return "https://api.\(tls.hostName):\(port)" }
        return "http://\(core.configuration.host):\(port)"
    }
    /// The API base a container's `HOST` leads to.
    public var apiBaseURL: String { baseURL + "/api/v3" }
    /// What `HOST` is: the API base URL over plain HTTP (mhs reads either form), or with TLS
    /// the bare `<host>:PORT` the real platform's containers expect.
    public var hostVariable: String {
        if let tls = core.configuration.tls { return "\(tls.hostName):\(port)" }
        return apiBaseURL
    }
    /// With TLS: the host names clients must resolve to this machine (`api.<host>`, `<host>`).
    public var tlsHostNames: [String] { core.configuration.tls.map { ["api.\($0.hostName)", $0.hostName] } ?? [] }
    /// With TLS: the CA certificate file (PEM) clients must trust.
    public var caFile: String? { core.caFile }
    /// The tasks it serves, one scan each.
    public var tasks: [EmulatedTask] { core.tasks }
    /// The API key the token endpoint accepts.
    public var apiKeyID: String { core.configuration.apiKeyID }
    public var apiKeySecret: String { core.configuration.apiKeySecret }

    /// A fresh presigned URL for a scan's slide (or its series zip).
    public func slideURL(scanId: String, zip: Bool = false, ttl: Int? = nil) -> String? {
        guard let scan = core.scan(id: scanId), !zip || scan.zipFile != nil else { return nil }
        let path = (zip ? "/bucket/series_zip/" : "/bucket/files_uuid/") + scan.objectKey
        return baseURL + path + "?" + core.presigner.query(method: "GET", path: path, ttl: ttl ?? core.configuration.urlTTL)
    }

    /// A fresh presigned PUT URL for a task's debug bundle.
    public func debugUploadURL(task: EmulatedTask, ttl: Int? = nil) -> String {
        let path = "/bucket/debug_uploads/" + core.debugKey(task)
        return baseURL + path + "?" + core.presigner.query(method: "PUT", path: path, ttl: ttl ?? core.configuration.urlTTL)
    }

    /// A bearer token for `task`, as the platform puts in `JWT_TOKEN`.
    public func jwt(for task: EmulatedTask, ttl: Int? = nil) -> String {
        core.tokens.issue(subject: "task:\(task.number)", tasks: [task.number], ttl: TimeInterval(ttl ?? core.configuration.tokenTTL))
    }

    /// The container environment for `task` (the first task by default), in the order the
    /// platform documents it.
    public func environment(for task: EmulatedTask? = nil, auth: EmulatorAuth? = nil) -> [(name: String, value: String)] {
        let task = task ?? core.tasks[0]
        let scan = task.scans[0]
        var env: [(String, String)] = [
            ("HOST", hostVariable), ("TASK_ID", task.taskID), ("SCAN_ID", scan.id), ("SCAN_URL", slideURL(scanId: scan.id)!),
        ]
        if scan.zipFile != nil { env.append(("SCAN_URL_ZIP", slideURL(scanId: scan.id, zip: true)!)) }
        switch auth ?? core.configuration.auth {
        case .jwt: env.append(("JWT_TOKEN", jwt(for: task)))
        case .apiKey: env += [("API_KEY_ID", apiKeyID), ("API_KEY_SECRET", apiKeySecret)]
        }
        env.append(("DEBUG_FILE_UPLOAD_URL", debugUploadURL(task: task)))
        return env.map { (name: $0.0, value: $0.1) }
    }

    /// Adds a fault while running.
    public func inject(_ fault: Fault) async { await core.platform.addFault(fault) }

    /// Every request so far.
    public func calls() async -> [CallRecord] { await core.platform.calls }

    /// Evaluations so far.
    public func evaluations() async -> [Evaluation] { await core.platform.evaluations }

    /// What was posted so far.
    public func posts() async -> [PostedResults] { await core.platform.posts }

    /// Debug bundles uploaded so far.
    public func uploads() async -> [DebugUpload] { await core.platform.uploads }

    /// Totals printed when the emulator stops.
    public struct Summary: Sendable, CustomStringConvertible {
        public var calls: Int
        public var dropped: Int
        public var evaluations: Int
        public var duplicates: Int
        public var uploads: Int
        public var description: String {
            "\(calls) call(s) (\(dropped) dropped), \(evaluations) evaluation(s) (\(duplicates) duplicate), \(uploads) debug upload(s)"
        }
    }

    public func summary() async -> Summary {
        let calls = await core.platform.calls
        let evaluations = await core.platform.evaluations
        return Summary(
            calls: calls.count, dropped: calls.filter { $0.outcome == "dropped" }.count, evaluations: evaluations.count,
            duplicates: evaluations.filter(\.duplicate).count, uploads: await core.platform.uploads.count)
    }
}

import Foundation
import MHSContract

/// Headless Chromium (Debian's `chromium`, or MHS_CHROMIUM).
public func chromiumPath() throws -> String {
    let candidates = [ProcessInfo.processInfo.environment["MHS_CHROMIUM"], "/usr/bin/chromium", "/usr/bin/chromium-browser"].compactMap { $0 }
    guard let chromium = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw BrowserError(message: "headless Chromium not found (apt-get install chromium, or set MHS_CHROMIUM)")
    }
    return chromium
}

public struct BrowserError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Opens `url` in headless Chromium driven over the DevTools protocol (`--remote-debugging-pipe`:
/// JSON messages separated by NUL on file descriptors 3 and 4, here two named pipes) and
/// evaluates `expression` in it — a promise is awaited — returning its value as JSON text.
/// Unlike `--virtual-time-budget`, the page runs on the real clock, so timings it measures are
/// real; the expression is retried while the page is still navigating.
public func evaluateInBrowser(_ url: String, expression: String, width: Int = 1000, height: Int = 800, timeout: Double = 180) async throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mhs-cdp-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let toBrowser = dir + "/in", fromBrowser = dir + "/out"
    guard mkfifo(toBrowser, 0o600) == 0, mkfifo(fromBrowser, 0o600) == 0 else { throw BrowserError(message: "mkfifo failed") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    let flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1", "--window-size=\(width),\(height)",
        "--remote-debugging-pipe", "--user-data-dir=\(dir)/profile", "about:blank",
    ]
    p.arguments = ["-c", "exec \"$0\" \"$@\" 3<\(toBrowser) 4>\(fromBrowser)", try chromiumPath()] + flags
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    defer { if p.isRunning { p.terminate() } }
    return try await offPool {
        // Opening a named pipe blocks until its other end is opened: the shell opens `in` to
        // read first, then `out` to write.
        guard let writer = FileHandle(forWritingAtPath: toBrowser), let reader = FileHandle(forReadingAtPath: fromBrowser) else {
            throw BrowserError(message: "cannot open the DevTools pipes")
        }
        var buffer: [UInt8] = []
        var nextId = 0
        let deadline = Date().addingTimeInterval(timeout)
        func call(_ method: String, _ params: JSONObject, session: String? = nil) throws -> JSONValue {
            nextId += 1
            var message: JSONObject = ["id": .int(Int64(nextId)), "method": .string(method), "params": .object(params)]
            if let session { message["sessionId"] = .string(session) }
            try writer.write(contentsOf: MHSJSON.encode(JSONValue.object(message)) + [0])
            while Date() < deadline {
                while let end = buffer.firstIndex(of: 0) {
                    let reply = try JSONParser.parse(buffer[..<end])
                    buffer.removeSubrange(...end)
                    if reply["id"]?.doubleValue == Double(nextId) {
                        if let error = reply["error"] { throw BrowserError(message: "\(method): \(MHSJSON.encodeStringOrDescription(error))") }
                        return reply["result"] ?? .null
                    }
                }
                let chunk = reader.availableData
                if chunk.isEmpty { throw BrowserError(message: "Chromium closed the DevTools pipe") }
                buffer += chunk
            }
            throw BrowserError(message: "no answer to \(method) within \(timeout) s")
        }
        let target = try call("Target.createTarget", ["url": .string(url)])
        guard let targetId = target["targetId"]?.stringValue else { throw BrowserError(message: "no target") }
        let attached = try call("Target.attachToTarget", ["targetId": .string(targetId), "flatten": true])
        guard let session = attached["sessionId"]?.stringValue else { throw BrowserError(message: "no session") }
        while true {
            do {
                let result = try call(
                    "Runtime.evaluate", ["expression": .string(expression), "awaitPromise": true, "returnByValue": true], session: session)
                if result["exceptionDetails"] != nil, Date() < deadline {
                    Thread.sleep(forTimeInterval: 0.1)  // the page had not loaded yet
                    continue
                }
                guard let value = result["result"]?["value"] else { throw BrowserError(message: "no value: \(MHSJSON.encodeStringOrDescription(result))") }
                _ = try? call("Browser.close", [:])
                // Wait for Chromium to go (its connections closed) before the caller stops its server.
                let gone = Date().addingTimeInterval(10)
                while p.isRunning, Date() < gone { Thread.sleep(forTimeInterval: 0.05) }
                return value.stringValue ?? MHSJSON.encodeStringOrDescription(value)
            } catch let error as BrowserError where error.message.contains("context") && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.1)  // navigation replaced the document
            }
        }
    }
}

extension MHSJSON {
    fileprivate static func encodeStringOrDescription(_ value: JSONValue) -> String { (try? encodeString(value)) ?? "\(value)" }
}

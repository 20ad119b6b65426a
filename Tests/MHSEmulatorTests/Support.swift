import AsyncHTTPClient
import Foundation
import MHSContract
import MHSEmulator
import NIOCore
import NIOHTTP1

let slidesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/testdata/slides").path
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
/// Where tests leave files for people to look at (screenshots).
let testOutput = repositoryRoot.appendingPathComponent("test-output")

func slide(_ name: String) -> String { slidesDirectory + "/" + name }

/// The results of one HTTP exchange, or the error that ended it.
struct Exchange {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue? { try? JSONParser.parse(body) }
}

/// Sends one request with AsyncHTTPClient and collects the answer.
func send(
    _ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil, timeout: Int64 = 30
) async throws -> Exchange {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (k, v) in headers { request.headers.add(name: k, value: v) }
    if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout))
    let bytes = try await response.body.collect(upTo: 1 << 30)
    return Exchange(status: Int(response.status.code), headers: response.headers, body: Array(buffer: bytes))
}

/// Sends a request and returns how many body bytes arrived before it ended, and the error if it failed.
func download(_ url: String, headers: [(String, String)] = []) async -> (status: Int?, bytes: Int, error: (any Error)?) {
    var request = HTTPClientRequest(url: url)
    for (k, v) in headers { request.headers.add(name: k, value: v) }
    var received = 0
    var status: Int?
    do {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        status = Int(response.status.code)
        for try await chunk in response.body { received += chunk.readableBytes }
        return (status, received, nil)
    } catch {
        return (status, received, error)
    }
}

func bearer(_ token: String) -> [(String, String)] { [("Authorization", "Bearer \(token)")] }

func exampleBody(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: repositoryRoot.appendingPathComponent("Examples/results/\(name)")))
}

extension RunningEmulator {
    /// The first task's API URL for `route` (`results`, `case`, `case_evaluations`).
    func api(_ route: String, task: EmulatedTask? = nil, plain: Bool = false) -> String {
        let t = task ?? tasks[0]
        return apiBaseURL + "/external/\(route)/" + (plain ? String(t.number) : t.taskID)
    }
}

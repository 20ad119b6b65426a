import AsyncHTTPClient
import Foundation
import MHSContract
import MHSEmulator
import NIOCore
import NIOHTTP1

/// The results of one HTTP exchange.
public struct Exchange: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
    public var json: JSONValue? { try? JSONParser.parse(body) }
}

/// Sends one request with AsyncHTTPClient and collects the answer.
public func send(
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

/// Streams a GET and returns how many body bytes arrived before it ended, and the error if it failed.
public func download(_ url: String, headers: [(String, String)] = []) async -> (status: Int?, bytes: Int, error: (any Error)?) {
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

/// `Authorization: Bearer <token>`.
public func bearer(_ token: String) -> [(String, String)] { [("Authorization", "Bearer \(token)")] }

extension RunningEmulator {
    /// The API URL of `route` (`results`, `case`, `case_evaluations`) for a task (the first by default).
    public func api(_ route: String, task: EmulatedTask? = nil, plain: Bool = false) -> String {
        let t = task ?? tasks[0]
        return apiBaseURL + "/external/\(route)/" + (plain ? String(t.number) : t.taskID)
    }
}

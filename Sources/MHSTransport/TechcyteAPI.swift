import AsyncHTTPClient
import Foundation
import MHSSecrets
import NIOCore
import NIOHTTP1

/// How a container proves who it is.
public enum Credentials: Sendable {
    /// Production: the task-scoped token in `JWT_TOKEN`.
    case jwt(String)
    /// Local testing: an API key exchanged at `POST /token`.
    case apiKey(id: String, secret: String)
}

/// Why a call to the Techcyte API failed.
public enum APIError: Error, Sendable, CustomStringConvertible {
    /// 401/403: the credentials were refused.
    case unauthorized(status: Int, message: String)
    /// 400: the platform rejected the request (for results: nothing was stored).
    case rejected(message: String)
    /// Any other status.
    case status(Int, message: String)
    /// No answer: refused connection, reset, timeout.
    case connection(String)

    public var description: String {
        switch self {
        case .unauthorized(let status, let message): "credentials refused (\(status)): \(message)"
        case .rejected(let message): "the platform rejected the request (400): \(message)"
        case .status(let code, let message): "HTTP \(code): \(message)"
        case .connection(let why): "no answer from the platform: \(why)"
        }
    }
}

/// The Techcyte REST API a container talks to (`https://api.<HOST>/api/v3`).
public struct TechcyteAPI: Sendable {
    /// e.g. `https://api.app.techcyte.com/api/v3`.
    public let baseURL: String
    let client: HTTPClient
    let redactor: Redactor

    public init(baseURL: String, client: HTTPClient = .shared, redactor: Redactor = Redactor()) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.client = client
        self.redactor = redactor
    }

    private func call(_ request: HTTPClientRequest, timeout: TimeAmount = .seconds(120)) async throws(APIError) -> (Int, String) {
        do {
            let response = try await client.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 4 << 20)
            return (Int(response.status.code), String(buffer: body))
        } catch {
            throw .connection(TLSHint.explain(redactor.redact("\(error)")))
        }
    }

    /// An error for an unexpected answer; the body is redacted (it may echo credentials).
    private func failure(_ status: Int, _ rawBody: String) -> APIError {
        let body = redactor.redact(String(rawBody.prefix(2000)))
        return switch status {
        case 401, 403: .unauthorized(status: status, message: body)
        case 400: .rejected(message: body)
        default: .status(status, message: body)
        }
    }

    /// Exchanges an API key for a bearer token.
    public func token(id: String, secret: String) async throws(APIError) -> String {
        var request = HTTPClientRequest(url: baseURL + "/token")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString())
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: "grant_type=client_credentials"))
        let (status, body) = try await call(request, timeout: .seconds(60))
        guard status == 200 else { throw failure(status, body) }
        guard let data = body.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let token = object["access_token"] as? String
        else { throw .status(status, message: "the token answer has no access_token") }
        return token
    }

    /// The bearer token for `credentials`: as given, or exchanged.
    public func bearer(for credentials: Credentials) async throws(APIError) -> String {
        switch credentials {
        case .jwt(let token): token
        case .apiKey(let id, let secret): try await token(id: id, secret: secret)
        }
    }

    /// Sends a results POST once and reports what happened, without judging it: the
    /// ``ResultPoster`` decides what a failure means.
    public func sendResults(taskID: String, body: [UInt8], token: String) async -> Result<Int, TransferFailure> {
        var request = HTTPClientRequest(url: baseURL + "/external/results/" + taskID)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer " + token)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(300))
            let answer = try await response.body.collect(upTo: 4 << 20)
            let status = Int(response.status.code)
            if (200..<300).contains(status) { return .success(status) }
            return .failure(.status(status, retryAfter: RetryPolicy.retryAfter(response.headers.first(name: "Retry-After")),
                                    body: redactor.redact(String(String(buffer: answer).prefix(2000)))))
        } catch {
            return .failure(FailureClassifier.classify(error, redact: redactor.redact))
        }
    }

    /// How many evaluations of task `taskNumber` the case already has.
    public func evaluationCount(taskID: String, taskNumber: Int, token: String) async -> Result<Int, TransferFailure> {
        var request = HTTPClientRequest(url: baseURL + "/external/case_evaluations/" + taskID)
        request.headers.add(name: "Authorization", value: "Bearer " + token)
        do {
            let response = try await client.execute(request, timeout: .seconds(60))
            let answer = try await response.body.collect(upTo: 64 << 20)
            guard response.status == .ok else {
                return .failure(.status(Int(response.status.code), retryAfter: nil, body: redactor.redact(String(String(buffer: answer).prefix(500)))))
            }
            guard let list = try JSONSerialization.jsonObject(with: Data(answer.readableBytesView)) as? [[String: Any]] else {
                return .failure(.status(200, retryAfter: nil, body: "case_evaluations did not answer with a list"))
            }
            return .success(list.filter { ($0["task_id"] as? NSNumber)?.intValue == taskNumber }.count)
        } catch {
            return .failure(FailureClassifier.classify(error, redact: redactor.redact))
        }
    }

    /// PUTs a debug bundle to its presigned URL.
    public func uploadDebugBundle(to url: String, bytes: [UInt8]) async throws(APIError) {
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/zip")
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let (status, answer) = try await call(request, timeout: .seconds(300))
        guard (200..<300).contains(status) else { throw failure(status, answer) }
    }
}

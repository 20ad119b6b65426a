import Foundation
import Hummingbird
import MHSContract
import NIOCore

/// The Techcyte API under `/api/v3`: token exchange, results, case triage, evaluations.
struct APIRoutes {
    let emulator: EmulatorCore

    func register(on router: Router<EmulatorContext>) {
        let api = router.group("api/v3")
        api.post("token") { request, context in try await token(request, context) }
        api.post("external/results/:task") { request, context in try await results(request, context) }
        api.patch("external/case/:task") { request, context in try await triage(request, context) }
        api.get("external/case_evaluations/:task") { request, context in try await evaluations(request, context) }
    }

    // MARK: Helpers

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        let bytes = (try? MHSJSON.encode(value)) ?? Array("null".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(status, ["error": .string(message)])
    }

    /// The outcome of checking a request's bearer token against the task in its path.
    enum Authorization {
        case task(EmulatedTask)
        case refused(Response)
    }

    /// The task named in the path, after checking the bearer token allows it.
    func authorizedTask(_ request: Request, _ context: EmulatorContext) -> Authorization {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            return .refused(Self.error(.unauthorized, "missing bearer token (Authorization: Bearer <token>)"))
        }
        let claims: TokenIssuer.Claims
        do {
            claims = try emulator.tokens.verify(String(header.dropFirst(7)))
        } catch {
            return .refused(Self.error(.unauthorized, error.description))
        }
        let raw = context.parameters.get("task") ?? ""
        guard let number = TaskID.number(raw), let task = emulator.task(number: number) else {
            return .refused(Self.error(.notFound, "no task \(raw)"))
        }
        guard claims.tasks.contains(number) else {
            return .refused(Self.error(.forbidden, "the token is not valid for task \(number)"))
        }
        return .task(task)
    }

    /// Whether a request may go on to its handler.
    enum Admission {
        case answered(Response)
        case admitted(EmulatedTask, [Fault.Kind])
    }

    /// Checks the bearer token against the task, takes the route's faults (noting them for
    /// the record) and, unless told not to, answers status and delay faults.
    func admit(_ request: Request, _ context: EmulatorContext, _ route: Fault.Route, answerStatusFaults: Bool = true) async throws
        -> Admission
    {
        let task: EmulatedTask
        switch authorizedTask(request, context) {
        case .refused(let r): return .answered(r)
        case .task(let t): task = t
        }
        let faults = await emulator.platform.takeFaults(route)
        for f in faults { context.note.fault(f) }
        if answerStatusFaults, let r = try await statusFault(faults) { return .answered(r) }
        return .admitted(task, faults)
    }

    /// Applies status and delay faults; returns a response when a status fault answers.
    func statusFault(_ faults: [Fault.Kind]) async throws -> Response? {
        for case .delay(let ms) in faults { try await Task.sleep(for: .milliseconds(ms)) }
        for case .status(let code) in faults {
            var r = Self.error(.init(code: code), "injected fault: status \(code)")
            if code == 429 || code == 503 { r.headers[.retryAfter] = "1" }
            return r
        }
        return nil
    }

    // MARK: POST /token

    private func token(_ request: Request, _ context: EmulatorContext) async throws -> Response {
        let faults = await emulator.platform.takeFaults(.token)
        for f in faults { context.note.fault(f) }
        if let r = try await statusFault(faults) { return r }
        let body = try await request.body.collect(upTo: 64 << 10)
        context.note.received(body.readableBytes)
        let form = String(buffer: body)
        guard let header = request.headers[.authorization], header.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6))).flatMap({ String(data: $0, encoding: .utf8) }),
            let colon = decoded.firstIndex(of: ":")
        else {
            return Self.json(.unauthorized, ["error": "invalid_client", "error_description": "Basic credentials required"])
        }
        let id = String(decoded[..<colon])
        let secret = String(decoded[decoded.index(after: colon)...])
        guard id == emulator.configuration.apiKeyID, secret == emulator.configuration.apiKeySecret else {
            return Self.json(.unauthorized, ["error": "invalid_client", "error_description": "unknown API key or wrong secret"])
        }
        let fields = Dictionary(
            form.split(separator: "&").map { pair -> (String, String) in
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                return (kv[0], kv.count > 1 ? kv[1] : "")
            }, uniquingKeysWith: { a, _ in a })
        guard fields["grant_type"] == "client_credentials" else {
            return Self.json(.badRequest, ["error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"])
        }
        let ttl = emulator.configuration.tokenTTL
        let token = emulator.tokens.issue(
            subject: "api-key:\(id)", tasks: Set(emulator.tasks.map(\.number)), ttl: TimeInterval(ttl))
        return Self.json(.ok, ["access_token": .string(token), "token_type": "Bearer", "expires_in": .int(Int64(ttl))])
    }

    // MARK: POST /external/results/{task_id}

    private func results(_ request: Request, _ context: EmulatorContext) async throws -> Response {
        let task: EmulatedTask
        let faults: [Fault.Kind]
        // The body is read before a status fault answers, so the record shows its size.
        switch try await admit(request, context, .results, answerStatusFaults: false) {
        case .answered(let r): return r
        case .admitted(let t, let f): (task, faults) = (t, f)
        }
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        context.note.received(body.readableBytes)
        if let r = try await statusFault(faults) { return r }
        if faults.contains(.resetBeforeApply) {
            await context.dropConnection()
            throw ConnectionDropped()
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(body.readableBytesView)
        } catch {
            return Self.json(.badRequest, [
                ["severity": "error", "rule": "json.syntax", "message": .string("the body is not JSON: \(error)"), "path": "$"]
            ])
        }
        let validationContext = ValidationContext(
            scanIds: Set(task.scans.map(\.id)),
            scanRegions: Dictionary(uniqueKeysWithValues: task.scans.map { ($0.id, $0.regions) }),
            slideSizes: Dictionary(uniqueKeysWithValues: task.scans.compactMap { s in s.size.map { (s.id, $0) } }))
        let problems = Validator.validate(json: json, context: validationContext).errors
        if !problems.isEmpty {
            return Self.json(.badRequest, .array(problems.map(Self.problemJSON)))
        }
        for case .applyAfter(let ms) in faults {
            // The gateway gives up now; the backend commits a moment later.
            let platform = emulator.platform
            Task {
                try? await Task.sleep(for: .milliseconds(ms))
                _ = await platform.apply(results: json, task: task)
            }
            return Self.error(.gatewayTimeout, "injected gateway fault: 504 while the backend is still storing (stored \(ms) ms later)")
        }
        _ = await emulator.platform.apply(results: json, task: task)
        for case .statusAfterApply(let code) in faults {
            return Self.error(.init(code: code), "injected gateway fault: the backend stored the results, the gateway answered \(code)")
        }
        if faults.contains(where: { f in
            if case .resetAfter = f { return true }
            return f == .resetAfterApply || f == .shortBody
        }) {
            await context.dropConnection()
            throw ConnectionDropped()
        }
        return Self.json(.created, .null)
    }

    static func problemJSON(_ p: Problem) -> JSONValue {
        ["severity": .string(p.severity.rawValue), "rule": .string(p.rule), "message": .string(p.message), "path": .string(p.path)]
    }

    // MARK: PATCH /external/case/{task_id}

    private func triage(_ request: Request, _ context: EmulatorContext) async throws -> Response {
        let task: EmulatedTask
        switch try await admit(request, context, .case) {
        case .answered(let r): return r
        case .admitted(let t, _): task = t
        }
        let body = try await request.body.collect(upTo: 1 << 20)
        context.note.received(body.readableBytes)
        guard let json = try? JSONParser.parse(body.readableBytesView), case .object(let update) = json else {
            return Self.error(.badRequest, "the body must be a JSON object with triage_category and/or triage_score")
        }
        if let c = update["triage_category"], c != .null, c.stringValue == nil {
            return Self.error(.badRequest, "triage_category must be a string, found \(c.typeName)")
        }
        if let s = update["triage_score"], s != .null, s.doubleValue == nil {
            return Self.error(.badRequest, "triage_score must be a number, found \(s.typeName)")
        }
        var kept = JSONObject()
        for key in ["triage_category", "triage_score"] { if let v = update[key] { kept[key] = v } }
        await emulator.platform.setTriage(caseId: task.caseId, kept)
        return Response(status: .noContent)
    }

    // MARK: GET /external/case_evaluations/{task_id}

    private func evaluations(_ request: Request, _ context: EmulatorContext) async throws -> Response {
        let task: EmulatedTask
        switch try await admit(request, context, .evaluations) {
        case .answered(let r): return r
        case .admitted(let t, _): task = t
        }
        let list = await emulator.platform.evaluations(caseId: task.caseId)
        return Self.json(.ok, .array(list.map(Self.evaluationJSON)))
    }

    static func evaluationJSON(_ e: Evaluation) -> JSONValue {
        [
            "id": .int(Int64(e.id)), "sample_id": .int(Int64(e.scanId) ?? 0), "case_id": .int(Int64(e.caseId)),
            "task_id": .int(Int64(e.taskNumber)), "details": .object(e.details),
        ]
    }
}

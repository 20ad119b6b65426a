/// A fault the emulator injects on one route, as given by `--fault ROUTE:KIND[:count=N]`
/// or the admin endpoint. Without a count it lasts for ever.
public struct Fault: Sendable, Hashable, CustomStringConvertible {
    /// Where the fault applies.
    public enum Route: String, Sendable, CaseIterable {
        /// The slide at SCAN_URL.
        case download
        /// The DICOM series zip at SCAN_URL_ZIP.
        case zip
        /// `POST /api/v3/token`.
        case token
        /// `POST /api/v3/external/results/{task_id}`.
        case results
        /// `PATCH /api/v3/external/case/{task_id}`.
        case `case`
        /// `GET /api/v3/external/case_evaluations/{task_id}`.
        case evaluations
        /// `PUT` on DEBUG_FILE_UPLOAD_URL.
        case debug
    }

    /// What happens.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        /// Answer with this HTTP status (429 and 503 carry `Retry-After: 1`).
        case status(Int)
        /// Drop the connection after this many body bytes.
        case resetAfter(Int)
        /// Cap the response at this many bytes per second.
        case rate(Int)
        /// Wait this many milliseconds before answering.
        case delay(Int)
        /// Announce the full Content-Length, send less, then close.
        case shortBody
        /// Slides only: ignore `Range` and answer 200 with the whole file, like servers
        /// without range support.
        case noRange
        /// Results only: drop the connection before the results are stored.
        case resetBeforeApply
        /// Results only: store the results, then drop the connection without an answer.
        case resetAfterApply
        /// Results only, a gateway whose backend stored the results and then lost the
        /// connection (or timed out): store, then answer this status (502, 504).
        case statusAfterApply(Int)
        /// Results only, a gateway timing out while the backend is still storing: answer 504
        /// at once and store the results this many milliseconds later.
        case applyAfter(Int)

        public var description: String {
            switch self {
            case .status(let c): "status=\(c)"
            case .resetAfter(let b): "reset-after=\(b)"
            case .rate(let r): "rate=\(r)"
            case .delay(let ms): "delay=\(ms)"
            case .shortBody: "short-body"
            case .noRange: "no-range"
            case .resetBeforeApply: "reset-before-apply"
            case .resetAfterApply: "reset-after-apply"
            case .statusAfterApply(let c): "status-after-apply=\(c)"
            case .applyAfter(let ms): "apply-after=\(ms)"
            }
        }
    }

    public var route: Route
    public var kind: Kind
    /// How many requests it still applies to; nil for ever.
    public var count: Int?

    public init(route: Route, kind: Kind, count: Int? = nil) {
        self.route = route
        self.kind = kind
        self.count = count
    }

    /// Parses `ROUTE:KIND[:count=N]`, e.g. `download:reset-after=1048576:count=3`.
    public init(parsing spec: String) throws(FaultSpecError) {
        let parts = spec.split(separator: ":").map(String.init)
        guard parts.count == 2 || parts.count == 3 else { throw FaultSpecError(spec, "expected ROUTE:KIND[:count=N]") }
        guard let route = Route(rawValue: parts[0]) else {
            throw FaultSpecError(spec, "unknown route '\(parts[0])' (routes: \(Route.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.route = route
        let kindParts = parts[1].split(separator: "=", maxSplits: 1).map(String.init)
        func number() throws(FaultSpecError) -> Int {
            guard kindParts.count == 2, let n = Int(kindParts[1]), n >= 0 else {
                throw FaultSpecError(spec, "\(kindParts[0]) needs a non-negative number, e.g. \(kindParts[0])=100")
            }
            return n
        }
        switch kindParts[0] {
        case "status":
            let code = try number()
            guard (100...599).contains(code) else { throw FaultSpecError(spec, "status must be an HTTP status code") }
            kind = .status(code)
        case "reset-after": kind = .resetAfter(try number())
        case "rate":
            let r = try number()
            guard r > 0 else { throw FaultSpecError(spec, "rate must be at least 1 byte per second") }
            kind = .rate(r)
        case "delay": kind = .delay(try number())
        case "short-body": kind = .shortBody
        case "no-range":
            guard route == .download || route == .zip else { throw FaultSpecError(spec, "no-range applies to the download and zip routes only") }
            kind = .noRange
        case "status-after-apply":
            guard route == .results else { throw FaultSpecError(spec, "status-after-apply applies to the results route only") }
            let code = try number()
            guard (100...599).contains(code) else { throw FaultSpecError(spec, "status-after-apply must be an HTTP status code") }
            kind = .statusAfterApply(code)
        case "apply-after":
            guard route == .results else { throw FaultSpecError(spec, "apply-after applies to the results route only") }
            kind = .applyAfter(try number())
        case "reset-before-apply", "reset-after-apply":
            guard route == .results else { throw FaultSpecError(spec, "\(kindParts[0]) applies to the results route only") }
            kind = kindParts[0] == "reset-before-apply" ? .resetBeforeApply : .resetAfterApply
        default:
            throw FaultSpecError(
                spec, "unknown fault '\(kindParts[0])' (status=CODE, reset-after=BYTES, rate=BYTES, delay=MS, short-body, no-range, reset-before-apply, reset-after-apply, status-after-apply=CODE, apply-after=MS)")
        }
        if parts.count == 3 {
            guard parts[2].hasPrefix("count="), let n = Int(parts[2].dropFirst(6)), n > 0 else {
                throw FaultSpecError(spec, "the third part must be count=N with N >= 1")
            }
            count = n
        } else {
            count = nil
        }
    }

    public var description: String { "\(route.rawValue):\(kind)" + (count.map { ":count=\($0)" } ?? "") }
}

/// A `--fault` specification that could not be read.
public struct FaultSpecError: Error, Sendable, CustomStringConvertible {
    public var spec: String
    public var reason: String
    init(_ spec: String, _ reason: String) {
        self.spec = spec
        self.reason = reason
    }
    public var description: String { "invalid fault '\(spec)': \(reason)" }
}

/// The faults in force, consumed request by request.
struct FaultPlan: Sendable {
    private(set) var faults: [Fault] = []

    mutating func add(_ fault: Fault) { faults.append(fault) }
    mutating func clear() { faults.removeAll() }

    /// Takes the faults that apply to the next request on `route`, counting each down.
    mutating func take(_ route: Fault.Route) -> [Fault.Kind] {
        var taken: [Fault.Kind] = []
        var seenKinds: Set<String> = []
        for i in faults.indices where faults[i].route == route {
            let name = String(faults[i].kind.description.prefix { $0 != "=" })
            guard !seenKinds.contains(name) else { continue }  // one fault of each kind per request
            seenKinds.insert(name)
            taken.append(faults[i].kind)
            if let c = faults[i].count { faults[i].count = c - 1 }
        }
        faults.removeAll { $0.count == 0 }
        return taken
    }
}

import Foundation
import MHSContract

/// What the emulator's page shows, as plain values the templates read (`Templates/*.mustache`):
/// tasks, each scan with its viewer, legend, evaluations side by side and their comparison,
/// debug uploads and the call record. Strings here are text; the templates escape them.
struct PageModel {
    var auth: String
    var callCount: Int
    var leaflet: Bool
    var tasks: [TaskView]
    var calls: [CallView]
}

/// The full-window page of one scan.
struct FocusModel {
    var leaflet: Bool
    var scan: ScanView
}

struct TaskView {
    var number: Int
    var taskID: String
    var caseId: Int
    var completed: Bool
    var postCount: Int
    var duplicatePosts: Bool
    var triage: String?
    var caseResults: [PostJSON]
    var unreadablePosts: [PostJSON]
    var scans: [ScanView]
    var uploads: [UploadView]
}

struct PostJSON {
    var post: Int
    var json: String
}

struct UploadView {
    var bytes: Int
    var error: String?
    var entries: [String]
}

struct CallView {
    var at: String
    var method: String
    var path: String
    var status: Int
    var bytesIn: Int
    var bytesOut: Int
    var fault: String
    var dropped: Bool
}

struct ScanView {
    var id: String
    var fileName: String
    var series: Bool
    var readable: Bool
    var detail: String
    var mppText: String?
    var overlayURL: String
    var legend: [LegendGroup]
    var evaluations: [EvaluationView]
    var comparison: TableView?
}

/// One evaluation's toggles.
struct LegendGroup {
    var label: String
    var duplicate: Bool
    var caption: String
    var layers: [LegendLayer]
}

struct LegendLayer {
    var scanId: String
    var id: String
    var name: String
    var color: String
    var dashed: Bool
    var count: Int
    var area: String?
}

struct EvaluationView {
    var label: String
    var evaluationId: Int?
    var postedAt: String
    var duplicate: Bool
    var workflow: WorkflowView?
    var qcPassed: Bool
    var qcFailed: String?
    var results: TableView?
    var report: ReportView?
}

struct WorkflowView {
    var modelName: String
    var provider: String
    var ruo: Bool
    var keyValue: String?
}

struct ReportView {
    var typeName: String
    var notes: [String]
    var tables: [TableView]
}

struct TableView {
    var caption: String?
    var header: [String]
    var rows: [RowView]
}

struct RowView {
    var cells: [String]
}

// MARK: Building

extension PageModel {
    init(
        emulator: EmulatorCore, typedPosts: ([PostedResults]) async -> [ResultsBody?], overlays: (EmulatedScan) async -> ScanOverlay, leaflet: Bool
    ) async {
        let platform = emulator.platform
        let posts = await platform.posts
        let uploads = await platform.uploads
        let calls = await platform.calls
        let completed = await platform.completed
        let triage = await platform.triage
        let bodies = await typedPosts(posts)
        var tasks: [TaskView] = []
        for task in emulator.tasks {
            let mine = posts.indices.filter { posts[$0].taskNumber == task.number }
            let taskPosts = mine.map { posts[$0] }
            var caseResults: [PostJSON] = []
            var unreadable: [PostJSON] = []
            for (i, k) in mine.enumerated() {
                guard let body = bodies[k] else {
                    unreadable.append(PostJSON(post: i + 1, json: Format.json(posts[k].body)))
                    continue
                }
                if let c = body.caseResults { caseResults.append(PostJSON(post: i + 1, json: Format.json(.object(c)))) }
            }
            var scans: [ScanView] = []
            for scan in task.scans { scans.append(ScanView(scan: scan, overlay: await overlays(scan), slideMPP: emulator.slides[scan.id]?.mpp)) }
            tasks.append(
                TaskView(
                    number: task.number, taskID: task.taskID, caseId: task.caseId, completed: completed.contains(task.number),
                    postCount: taskPosts.count, duplicatePosts: taskPosts.count > 1, triage: triage[task.caseId].map { Format.json(.object($0)) },
                    caseResults: caseResults, unreadablePosts: unreadable, scans: scans,
                    uploads: uploads.filter { $0.taskNumber == task.number }.map { UploadView(bytes: $0.bytes, error: $0.error, entries: $0.entries) }))
        }
        self.init(
            auth: emulator.configuration.auth.rawValue, callCount: calls.count, leaflet: leaflet, tasks: tasks,
            calls: calls.suffix(200).map {
                CallView(
                    at: AdminRoutes.iso($0.at), method: "\($0.method)", path: $0.path, status: $0.status, bytesIn: $0.bytesIn, bytesOut: $0.bytesOut,
                    fault: $0.fault ?? "", dropped: $0.outcome == "dropped")
            })
    }
}

extension ScanView {
    init(scan: EmulatedScan, overlay: ScanOverlay, slideMPP: (x: Double, y: Double)?) {
        let mm2PerPixel = slideMPP.map { $0.x * $0.y / 1e6 }
        func area(_ px: Double) -> String? {
            guard px > 0 else { return nil }
            return mm2PerPixel.map { Format.number(px * $0) + " mm²" } ?? Format.number(px) + " px²"
        }
        id = scan.id
        fileName = URL(fileURLWithPath: scan.source).lastPathComponent
        series = scan.zipFile != nil
        readable = scan.readable && scan.size != nil
        detail = scan.detail
        mppText = slideMPP.map { "\(Format.number($0.x)) × \(Format.number($0.y)) µm/px" }
        overlayURL = "/_emulator/scans/\(scan.id)/overlay.json"
        legend = overlay.evaluations.map { e in
            LegendGroup(
                label: e.label, duplicate: e.post.duplicate,
                caption: [e.result.workflow?.modelName, e.evaluationId.map { "evaluation \($0)" }].compactMap { $0 }.joined(separator: " · "),
                layers: e.layers.map {
                    LegendLayer(scanId: scan.id, id: $0.id, name: $0.name, color: $0.color, dashed: $0.dashed, count: $0.count, area: area($0.area))
                })
        }
        evaluations = overlay.evaluations.map { EvaluationView($0) }
        comparison = overlay.evaluations.count >= 2 ? Comparison.table(overlay.evaluations, mm2PerPixel: mm2PerPixel) : nil
    }
}

extension EvaluationView {
    init(_ e: ScanOverlay.Evaluation) {
        label = e.label
        evaluationId = e.evaluationId
        postedAt = AdminRoutes.iso(e.post.postedAt)
        duplicate = e.post.duplicate
        let r = e.result
        workflow = r.workflow.map {
            WorkflowView(modelName: $0.modelName, provider: $0.provider, ruo: $0.ruo, keyValue: $0.key.map { k in "\(k): \(r.workflow?.value ?? "")" })
        }
        let reasons = r.qcFailReasons.reasons
        qcPassed = reasons?.isEmpty == true
        qcFailed = reasons.flatMap { $0.isEmpty ? nil : $0.joined(separator: ", ") }
        results = r.results.flatMap { results in
            results.isEmpty ? nil : TableView(caption: "results", header: ["key", "value"], rows: results.map { RowView(cells: [$0.key, Format.text($0.value)]) })
        }
        report = r.workflow?.report.map(ReportView.init)
    }
}

extension ReportView {
    init(_ report: Report) {
        typeName = report.typeName
        notes = []
        tables = []
        func scores(_ s: OrderedMap<Double>) -> TableView {
            TableView(caption: "scores", header: ["class", "score"], rows: s.map { RowView(cells: [$0.key, Format.number($0.value)]) })
        }
        func pointCounts(_ points: [DifferentialPoint]) -> TableView {
            var counts: [String: Int] = [:]
            for p in points { counts[p.type, default: 0] += 1 }
            return TableView(
                caption: "\(points.count) point(s)", header: ["type", "points"], rows: counts.sorted { $0.key < $1.key }.map { RowView(cells: [$0.key, "\($0.value)"]) })
        }
        func segments(_ caption: String, _ list: [Segment]) -> TableView {
            TableView(caption: caption, header: ["segment", "result", "annotations"], rows: list.map { RowView(cells: [$0.name, $0.result, "\($0.featureCollection.features.count)"]) })
        }
        switch report {
        case .basic(let r):
            tables.append(TableView(caption: "results", header: ["name", "result"], rows: r.results.map { RowView(cells: [$0.name, $0.result]) }))
            tables.append(segments("segments", r.segments))
        case .wholeSlideDifferential(let r):
            tables += [pointCounts(r.points), scores(r.scores)]
            notes.append("positivity threshold \(Format.number(r.positivityThreshold))")
        case .semiQuantitativeDifferential(let r):
            tables += [pointCounts(r.points), scores(r.scores)]
        case .areaDifferential(let r):
            tables.append(
                TableView(
                    caption: "regions", header: ["region", "weight", "score", "points"],
                    rows: r.regions.enumerated().map { i, g in RowView(cells: ["\(i + 1)", Format.number(g.weight), Format.number(g.score), "\(g.points.count)"]) }))
            tables.append(scores(r.scores))
            notes.append("positivity threshold \(Format.number(r.positivityThreshold))")
        case .regionCounting(let r), .aiMitosisCounting(let r):
            notes.append("\(r.objects.count) object(s) counted in \(r.regions.count) region(s)")
        case .tumorCellularity(let r):
            tables.append(
                TableView(
                    caption: "thresholds", header: ["threshold", "tumor cellularity", "counts", "area"],
                    rows: r.thresholdMap.map { label, e in
                        RowView(cells: [label, Format.number(e.tumorCellularity), e.counts.map { "\($0.label) \($0.count)" }.joined(separator: ", "), Format.number(e.area)])
                    }))
            for (group, list) in r.otherSegments ?? [:] { tables.append(segments(group, list)) }
        }
    }
}

/// Evaluations of one scan side by side: per layer the count and area, the report's scores and
/// numeric results, with the difference of the last from the first.
enum Comparison {
    static func table(_ evaluations: [ScanOverlay.Evaluation], mm2PerPixel: Double?) -> TableView {
        guard let first = evaluations.first, let last = evaluations.last else { return TableView(header: [], rows: []) }
        var header = [""] + evaluations.map { e in e.label + (e.evaluationId.map { " (evaluation \($0))" } ?? "") }
        header.append("Δ \(last.label) − \(first.label)")
        var rows: [RowView] = []
        func row(_ name: String, _ values: [Double?]) {
            var cells = [name] + values.map { $0.map(Format.number) ?? "—" }
            if let a = values.first ?? nil, let b = values.last ?? nil { cells.append(Format.signed(b - a)) } else { cells.append("—") }
            rows.append(RowView(cells: cells))
        }
        func textRow(_ name: String, _ values: [String?]) {
            rows.append(RowView(cells: [name] + values.map { $0 ?? "—" } + [values.first == values.last ? "same" : "differs"]))
        }
        textRow("model", evaluations.map { $0.result.workflow?.modelName })
        textRow("report", evaluations.map { $0.result.workflow?.report?.typeName })
        var names: [String] = []
        for e in evaluations { for l in e.layers where !names.contains(l.name) { names.append(l.name) } }
        for name in names {
            let layers = evaluations.map { e in e.layers.first { $0.name == name } }
            row(name + " — count", layers.map { Double($0?.count ?? 0) })
            if layers.contains(where: { ($0?.area ?? 0) > 0 }) {
                let unit = mm2PerPixel == nil ? "px²" : "mm²"
                row(name + " — area \(unit)", layers.map { ($0?.area ?? 0) * (mm2PerPixel ?? 1) })
            }
        }
        var classes: [String] = []
        for e in evaluations { for k in scores(e.result).keys where !classes.contains(k) { classes.append(k) } }
        for k in classes { row("score " + k, evaluations.map { scores($0.result)[k] }) }
        var keys: [String] = []
        for e in evaluations { for (k, v) in e.result.results ?? [:] where v.doubleValue != nil && !keys.contains(k) { keys.append(k) } }
        for k in keys { row("results " + k, evaluations.map { $0.result.results?[k]?.doubleValue }) }
        return TableView(caption: nil, header: header, rows: rows)
    }

    private static func scores(_ r: ScanResult) -> [String: Double] {
        switch r.workflow?.report {
        case .wholeSlideDifferential(let w)?: Dictionary(w.scores.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        case .semiQuantitativeDifferential(let w)?: Dictionary(w.scores.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        case .areaDifferential(let w)?: Dictionary(w.scores.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        default: [:]
        }
    }
}

/// Text for numbers and JSON on the page.
enum Format {
    /// Integers as integers, others with up to four decimals.
    static func number(_ d: Double) -> String {
        guard d.isFinite else { return "\(d)" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        var s = String(format: "%.4f", d)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    static func signed(_ d: Double) -> String { d > 0 ? "+" + number(d) : number(d) }

    static func text(_ v: JSONValue) -> String { v.stringValue ?? json(v) }

    static func json(_ v: JSONValue) -> String {
        let text = (try? MHSJSON.encodeString(v)) ?? "?"
        return text.count > 2000 ? String(text.prefix(2000)) + "…" : text
    }
}

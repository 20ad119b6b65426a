import Foundation
import Hummingbird
import MHSContract
import MHSImaging
import NIOCore
import Synchronization

/// The web page at `/` and the scan thumbnails it draws annotations over.
struct PageRoutes {
    let emulator: EmulatorCore
    let thumbnails = ThumbnailCache()

    func register(on router: Router<EmulatorContext>) {
        router.get("/") { request, _ in
            let renderer = PageRenderer(emulator: emulator)
            let html: String
            if let scan = request.uri.queryParameters.get("scan") {
                html = await renderer.renderFocus(scanId: scan)
            } else {
                html = await renderer.render()
            }
            return Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        router.get("/_emulator/scans/:scan/thumbnail.png") { _, context in
            let id = context.parameters.get("scan") ?? ""
            guard let png = thumbnails.png(for: id, emulator: emulator) else {
                return Response(status: .notFound, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "no readable slide for scan \(id)\n")))
            }
            return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "max-age=3600"], body: .init(byteBuffer: ByteBuffer(bytes: png)))
        }
    }
}

/// Thumbnails are read once per scan and kept.
final class ThumbnailCache: Sendable {
    private let cache = Mutex<[String: [UInt8]]>([:])

    func png(for scanId: String, emulator: EmulatorCore) -> [UInt8]? {
        if let hit = cache.withLock({ $0[scanId] }) { return hit }
        guard let slide = emulator.slides[scanId], let image = try? slide.thumbnail(maxSide: 1024), let png = try? PNG.encode(image)
        else { return nil }
        cache.withLock { $0[scanId] = png }
        return png
    }
}

/// Renders the page: tasks, scans with annotations over their thumbnails (one toggle per
/// layer), evaluations, every workflow report readably, uploads and the call record.
struct PageRenderer {
    let emulator: EmulatorCore

    /// Layer colours; the first is pure red so a posted annotation is easy to find.
    static let palette = ["#ff0000", "#0060ff", "#00a040", "#ff9000", "#a000c0", "#00b0b0", "#c0a000", "#ff40a0"]

    func render() async -> String {
        let platform = emulator.platform
        let posts = await platform.posts
        let evaluations = await platform.evaluations
        let uploads = await platform.uploads
        let calls = await platform.calls
        let completed = await platform.completed
        let triage = await platform.triage
        var html = """
            <!doctype html><html><head><meta charset="utf-8"><title>mhs emulator</title><style>
            body{font:14px system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
            h1{font-size:20px;margin:0 0 4px} h2{font-size:17px;margin:18px 0 6px} h3{font-size:15px;margin:12px 0 4px}
            .task{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px;margin:12px 0}
            .scan{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}
            figure{margin:0;position:relative;width:640px;line-height:0;border:1px solid #ccc;background:#eee}
            figure img{width:100%;display:block} figure svg{position:absolute;left:0;top:0;width:100%;height:100%;overflow:hidden}
            .layers label{display:block;line-height:1.6} .swatch{display:inline-block;width:12px;height:12px;margin:0 4px;vertical-align:middle}
            table{border-collapse:collapse;margin:4px 0} td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;font-size:13px}
            .bad{color:#b00020;font-weight:600} .ok{color:#00703c;font-weight:600} .dup{color:#b00020}
            code{font-size:12px} .muted{color:#777}
            </style></head><body>
            <h1>mhs emulator — Techcyte on loopback</h1>
            <div class="muted">auth \(esc(emulator.configuration.auth.rawValue)) · \(calls.count) call(s) recorded · <a href="/_emulator/calls">calls</a> · <a href="/_emulator/state">state</a></div>

            """
        for task in emulator.tasks {
            let taskPosts = posts.filter { $0.taskNumber == task.number }
            html += "<div class=\"task\"><h2>Task \(task.number) <span class=\"muted\">TASK_ID <code>\(esc(task.taskID))</code> · case \(task.caseId)</span></h2>"
            html += completed.contains(task.number)
                ? "<div class=\"ok\">completed · \(taskPosts.count) post(s)\(taskPosts.count > 1 ? " <span class=\"dup\">— duplicate posts appended extra evaluations</span>" : "")</div>"
                : "<div class=\"muted\">waiting for results</div>"
            if let t = triage[task.caseId] { html += "<div>triage: <code>\(esc(jsonText(.object(t))))</code></div>" }
            for scan in task.scans {
                html += renderScan(scan, posts: taskPosts)
            }
            let taskEvaluations = evaluations.filter { $0.taskNumber == task.number }
            if !taskEvaluations.isEmpty {
                html += "<h3>Evaluations</h3><table><tr><th>id</th><th>scan</th><th>details</th><th></th></tr>"
                for e in taskEvaluations {
                    html += "<tr><td>\(e.id)</td><td>\(esc(e.scanId))</td><td><code>\(esc(jsonText(.object(e.details))))</code></td><td>\(e.duplicate ? "<span class=\"dup\">duplicate</span>" : "")</td></tr>"
                }
                html += "</table>"
            }
            for (i, post) in taskPosts.enumerated() {
                html += "<h3>Post \(i + 1)\(post.duplicate ? " <span class=\"dup\">(duplicate)</span>" : "")</h3>"
                guard let body = Self.typed(post) else {
                    html += "<code>\(esc(jsonText(post.body)))</code>"
                    continue
                }
                if let caseResults = body.caseResults {
                    html += "<div>caseResults: <code>\(esc(jsonText(.object(caseResults))))</code></div>"
                }
                for scanResult in body.scanResults { html += renderScanResult(scanResult) }
            }
            let taskUploads = uploads.filter { $0.taskNumber == task.number }
            for u in taskUploads {
                html += "<h3>Debug upload</h3><div>\(u.bytes) bytes\(u.error.map { " — <span class=\"bad\">\(esc($0))</span>" } ?? ""): \(u.entries.map { "<code>\(esc($0))</code>" }.joined(separator: ", "))</div>"
            }
            html += "</div>"
        }
        html += "<h2>Calls</h2><table><tr><th>time</th><th>method</th><th>path</th><th>status</th><th>in</th><th>out</th><th>fault</th><th>outcome</th></tr>"
        for c in calls.suffix(200) {
            html += "<tr><td>\(esc(AdminRoutes.iso(c.at)))</td><td>\(c.method)</td><td><code>\(esc(c.path))</code></td><td>\(c.status)</td><td>\(c.bytesIn)</td><td>\(c.bytesOut)</td><td>\(esc(c.fault ?? ""))</td><td>\(c.outcome == "dropped" ? "<span class=\"bad\">dropped</span>" : "completed")</td></tr>"
        }
        html += "</table>" + Self.script + "</body></html>"
        return html
    }

    /// One scan's picture alone, its top-left corner at the page's, 640 pixels wide: a
    /// stable view to link to and to screenshot.
    func renderFocus(scanId: String) async -> String {
        let posts = await emulator.platform.posts
        guard let task = emulator.tasks.first(where: { $0.scans.contains { $0.id == scanId } }),
            let scan = task.scans.first(where: { $0.id == scanId })
        else { return "<!doctype html><p>no scan \(esc(scanId))</p>" }
        let figure = renderScan(scan, posts: posts.filter { $0.taskNumber == task.number })
        return """
            <!doctype html><html><head><meta charset="utf-8"><title>scan \(esc(scanId))</title><style>
            body{margin:0;font:14px system-ui,sans-serif} h3,.muted,.bad{display:none}
            .scan{display:flex;gap:16px;align-items:flex-start}
            figure{margin:0;position:relative;width:640px;line-height:0;flex:none}
            figure img{width:100%;display:block} figure svg{position:absolute;left:0;top:0;width:100%;height:100%;overflow:hidden}
            .layers label{display:block;line-height:1.6} .swatch{display:inline-block;width:12px;height:12px;margin:0 4px}
            </style></head><body>\(figure)\(Self.script)</body></html>
            """
    }

    // MARK: Scans and overlays

    private struct Layer {
        var name: String
        var color: String
        var svg: String
        var count: Int
    }

    private func renderScan(_ scan: EmulatedScan, posts: [PostedResults]) -> String {
        var html = "<h3>Scan \(esc(scan.id)) <span class=\"muted\">\(esc(URL(fileURLWithPath: scan.source).lastPathComponent))\(scan.zipFile != nil ? " · DICOM series" : "") · <a href=\"/?scan=\(esc(scan.id))\">alone</a></span></h3>"
        guard scan.readable, let size = scan.size else {
            return html + "<div class=\"bad\">unreadable as a slide — served byte for byte anyway: \(esc(scan.detail))</div>"
        }
        html += "<div class=\"muted\">\(esc(scan.detail))</div>"
        var layers: [Layer] = []
        func layer(_ name: String) -> Int {
            if let i = layers.firstIndex(where: { $0.name == name }) { return i }
            layers.append(Layer(name: name, color: Self.palette[layers.count % Self.palette.count], svg: "", count: 0))
            return layers.count - 1
        }
        let dot = max(size.width, size.height) / 250
        for post in posts {
            // Stored posts passed validation: read them as the typed model, the one spelling
            // of the contract's keys.
            guard let body = Self.typed(post) else { continue }
            for scanResult in body.scanResults where scanResult.scanId == scan.id {
                for feature in scanResult.geojson?.features ?? [] {
                    let i = layer(feature.annotationType ?? "(no \(Feature.annotationTypeKey))")
                    layers[i].svg += Self.svg(feature, color: layers[i].color, dot: dot)
                    layers[i].count += 1
                }
                guard let report = scanResult.workflow?.report else { continue }
                func draw(_ name: String, _ features: [Feature], dashed: Bool = false) {
                    let i = layer(name)
                    for feature in features { layers[i].svg += Self.svg(feature, color: layers[i].color, dot: dot, dashed: dashed) }
                    layers[i].count += features.count
                }
                func draw(_ points: [DifferentialPoint]) {
                    for p in points.prefix(200_000) {
                        let i = layer("points: " + p.type)
                        layers[i].svg += "<circle cx=\"\(p.x)\" cy=\"\(p.y)\" r=\"\(dot)\" fill=\"\(layers[i].color)\"/>"
                        layers[i].count += 1
                    }
                }
                switch report {
                case .basic(let r):
                    for segment in r.segments { draw("segment: " + segment.name, segment.featureCollection.features) }
                case .wholeSlideDifferential(let r): draw(r.points)
                case .semiQuantitativeDifferential(let r): draw(r.points)
                case .areaDifferential(let r):
                    draw("regions", r.regions.map(\.region), dashed: true)
                    draw(r.regions.flatMap(\.points))
                case .regionCounting(let r), .aiMitosisCounting(let r):
                    draw("regions", r.regions, dashed: true)
                    for o in r.objects {
                        let i = layer("objects")
                        layers[i].svg += "<rect x=\"\(o.x)\" y=\"\(o.y)\" width=\"\(o.width)\" height=\"\(o.height)\" fill=\"none\" stroke=\"\(layers[i].color)\" stroke-width=\"3\" vector-effect=\"non-scaling-stroke\"/>"
                        layers[i].count += 1
                    }
                case .tumorCellularity(let r):
                    draw("threshold regions", r.thresholdMap.values.map(\.region), dashed: true)
                    for (group, segments) in r.otherSegments ?? [:] {
                        for segment in segments { draw("segment: \(group) \(segment.name)", segment.featureCollection.features) }
                    }
                }
            }
        }
        html += "<div class=\"scan\"><figure id=\"scan-\(esc(scan.id))\" style=\"aspect-ratio:\(size.width)/\(size.height)\">"
        html += "<img src=\"/_emulator/scans/\(esc(scan.id))/thumbnail.png\" alt=\"scan \(esc(scan.id))\">"
        html += "<svg viewBox=\"0 0 \(size.width) \(size.height)\" preserveAspectRatio=\"none\">"
        for l in layers { html += "<g data-layer=\"\(esc(l.name))\">\(l.svg)</g>" }
        html += "</svg></figure><div class=\"layers\">"
        if layers.isEmpty { html += "<span class=\"muted\">no annotations posted yet</span>" }
        for l in layers {
            html += "<label><input type=\"checkbox\" checked data-scan=\"scan-\(esc(scan.id))\" data-layer=\"\(esc(l.name))\"><span class=\"swatch\" style=\"background:\(l.color)\"></span>\(esc(l.name)) (\(l.count))</label>"
        }
        return html + "</div></div>"
    }

    /// A stored post as the typed model (nil if it does not decode, which validation rules out).
    static func typed(_ post: PostedResults) -> ResultsBody? {
        try? MHSJSON.decode(ResultsBody.self, from: post.body)
    }

    /// One GeoJSON feature as SVG in level-0 coordinates.
    static func svg(_ feature: Feature, color: String, dot: Double, dashed: Bool = false) -> String {
        let colors = feature.properties?[Feature.contourColorsKey]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard let geometry = feature.geometry else { return "" }
        return svg(geometry: geometry, color: color, dot: dot, dashed: dashed, contourColors: colors)
    }

    private static func svg(geometry g: Geometry, color: String, dot: Double, dashed: Bool, contourColors: [String]) -> String {
        func path(_ rings: [[Position]], closed: Bool) -> String {
            rings.map { ring in
                guard let first = ring.first else { return "" }
                return "M\(first.x) \(first.y)" + ring.dropFirst().map { "L\($0.x) \($0.y)" }.joined() + (closed ? "Z" : "")
            }.joined()
        }
        func circle(_ p: Position) -> String { "<circle cx=\"\(p.x)\" cy=\"\(p.y)\" r=\"\(dot)\" fill=\"\(color)\"/>" }
        let stroke = "stroke=\"\(color)\" stroke-width=\"3\" vector-effect=\"non-scaling-stroke\"" + (dashed ? " stroke-dasharray=\"6 4\"" : "")
        func area(_ rings: [[Position]]) -> String {
            "<path d=\"\(path(rings, closed: true))\" fill=\"\(color)\" fill-opacity=\"0.3\" fill-rule=\"evenodd\" \(stroke)/>"
        }
        switch g {
        case .point(let p): return circle(p)
        case .multiPoint(let ps): return ps.map(circle).joined()
        case .lineString(let ps): return "<path d=\"\(path([ps], closed: false))\" fill=\"none\" \(stroke)/>"
        case .multiLineString(let lines): return "<path d=\"\(path(lines, closed: false))\" fill=\"none\" \(stroke)/>"
        case .polygon(let rings): return area(rings)
        case .multiPolygon(let polygons): return polygons.map(area).joined()
        case .geometryCollection(let members):
            return members.enumerated().map { i, member in
                let c = i < contourColors.count ? contourColors[i] : color
                if case .polygon(let rings) = member {
                    // Heatmap contours: filled with their own colour.
                    return "<path d=\"\(path(rings, closed: true))\" fill=\"\(c)\" fill-opacity=\"0.45\" stroke=\"none\"/>"
                }
                return svg(geometry: member, color: c, dot: dot, dashed: dashed, contourColors: [])
            }.joined()
        }
    }

    // MARK: Reports

    private func renderScanResult(_ scan: ScanResult) -> String {
        var html = "<div><b>scan \(esc(scan.scanId))</b>"
        if let results = scan.results, !results.isEmpty {
            html += "<table>" + results.map { "<tr><th>\(esc($0.key))</th><td>\(esc($0.value.stringValue ?? jsonText($0.value)))</td></tr>" }.joined() + "</table>"
        }
        if let reasons = scan.qcFailReasons.reasons {
            html += reasons.isEmpty ? "<div class=\"ok\">QC passed</div>" : "<div class=\"bad\">QC failed: \(esc(reasons.joined(separator: ", ")))</div>"
        }
        if let w = scan.workflow {
            html += "<div>workflow <b>\(esc(w.modelName))</b> by \(esc(w.provider))"
            html += w.ruo ? " · research use only" : ""
            if let k = w.key { html += " · \(esc(k)): <b>\(esc(w.value ?? ""))</b>" }
            html += "</div>"
            if let report = w.report { html += renderReport(report) }
        }
        return html + "</div>"
    }

    private func renderReport(_ report: Report) -> String {
        var html = "<div>report <b>\(esc(report.typeName))</b></div>"
        func number(_ d: Double) -> String { jsonText(.double(d)) }
        func scores(_ s: OrderedMap<Double>) -> String {
            "<table><tr><th>class</th><th>score</th></tr>" + s.map { "<tr><td>\(esc($0.key))</td><td>\(esc(number($0.value)))</td></tr>" }.joined() + "</table>"
        }
        func pointCounts(_ points: [DifferentialPoint]) -> String {
            var counts: [String: Int] = [:]
            for p in points { counts[p.type, default: 0] += 1 }
            return "<div>\(points.count) point(s): " + counts.sorted { $0.key < $1.key }.map { "\(esc($0.key)) \($0.value)" }.joined(separator: ", ") + "</div>"
        }
        func segments(_ list: [Segment]) -> String {
            "<table><tr><th>segment</th><th>result</th><th>annotations</th></tr>" + list.map { s in
                "<tr><td>\(esc(s.name))</td><td>\(esc(s.result))</td><td>\(s.featureCollection.features.count)</td></tr>"
            }.joined() + "</table>"
        }
        switch report {
        case .basic(let r):
            html += "<table>" + r.results.map { "<tr><th>\(esc($0.name))</th><td>\(esc($0.result))</td></tr>" }.joined() + "</table>"
            html += segments(r.segments)
        case .wholeSlideDifferential(let r):
            html += pointCounts(r.points) + scores(r.scores)
            html += "<div>positivity threshold \(esc(number(r.positivityThreshold)))</div>"
        case .semiQuantitativeDifferential(let r):
            html += pointCounts(r.points) + scores(r.scores)
        case .areaDifferential(let r):
            html += "<table><tr><th>region</th><th>weight</th><th>score</th><th>points</th></tr>" + r.regions.enumerated().map { i, g in
                "<tr><td>\(i + 1)</td><td>\(esc(number(g.weight)))</td><td>\(esc(number(g.score)))</td><td>\(g.points.count)</td></tr>"
            }.joined() + "</table>" + scores(r.scores)
            html += "<div>positivity threshold \(esc(number(r.positivityThreshold)))</div>"
        case .regionCounting(let r), .aiMitosisCounting(let r):
            html += "<div>\(r.objects.count) object(s) counted in \(r.regions.count) region(s)</div>"
        case .tumorCellularity(let r):
            html += "<table><tr><th>threshold</th><th>tumor cellularity</th><th>counts</th><th>area</th></tr>" + r.thresholdMap.map { label, e in
                let counts = e.counts.map { "\($0.label) \($0.count)" }.joined(separator: ", ")
                return "<tr><td>\(esc(label))</td><td>\(esc(number(e.tumorCellularity)))</td><td>\(esc(counts))</td><td>\(esc(number(e.area)))</td></tr>"
            }.joined() + "</table>"
            for (group, list) in r.otherSegments ?? [:] {
                html += "<div>\(esc(group))</div>" + segments(list)
            }
        }
        return html
    }

    private func jsonText(_ v: JSONValue) -> String {
        let text = (try? MHSJSON.encodeString(v)) ?? "?"
        return text.count > 2000 ? String(text.prefix(2000)) + "…" : text
    }

    static let script = """
        <script>
        document.querySelectorAll('input[data-layer]').forEach(function (box) {
          box.addEventListener('change', function () {
            var fig = document.getElementById(box.dataset.scan);
            fig.querySelectorAll('g[data-layer]').forEach(function (g) {
              if (g.dataset.layer === box.dataset.layer) g.style.display = box.checked ? '' : 'none';
            });
          });
        });
        </script>
        """
}

/// Escapes text for HTML.
func esc(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}

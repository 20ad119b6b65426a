import Foundation
import Hummingbird
import MHSContract
import NIOCore

/// The web page at `/` (every task), `/?scan=ID` (one scan in the whole window), and what its
/// viewer reads: deep-zoom tiles, the posted layers, Leaflet and the page's own script.
struct PageRoutes {
    let emulator: EmulatorCore
    let tiles = TileCache()
    let overlays = OverlayCache()

    /// Debian's `libjs-leaflet`, or the configuration's folder.
    var leafletDirectory: String { emulator.configuration.leafletDirectory }
    var leafletAvailable: Bool { FileManager.default.fileExists(atPath: leafletDirectory + "/leaflet.js") }

    func register(on router: Router<EmulatorContext>) {
        router.get("/") { request, _ in
            let leaflet = leafletAvailable
            let html: String
            if let id = request.uri.queryParameters.get("scan") {
                guard let scan = emulator.scan(id: id) else {
                    return Self.text(.notFound, "no scan \(id)\n")
                }
                let view = ScanView(scan: scan, overlay: await overlay(scan), slideMPP: emulator.slides[scan.id]?.mpp)
                html = PageTemplates.render(FocusModel(leaflet: leaflet, scan: view), template: "focus")
            } else {
                let model = await PageModel(emulator: emulator, typedPosts: { await overlays.typedPosts($0) }, overlays: { await overlay($0) }, leaflet: leaflet)
                html = PageTemplates.render(model, template: "page")
            }
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        router.get("/_emulator/scans/:scan/tiles/:z/:x/:y") { _, context in
            let id = context.parameters.get("scan") ?? ""
            let name = context.parameters.get("y") ?? ""
            guard let slide = emulator.slides[id], let scan = emulator.scan(id: id), let size = scan.size else {
                return Self.text(.notFound, "no readable slide for scan \(id)\n")
            }
            guard name.hasSuffix(".jpg"), let z = context.parameters.get("z").flatMap(Int.init), let x = context.parameters.get("x").flatMap(Int.init),
                let y = Int(name.dropLast(4))
            else { return Self.text(.badRequest, "tiles are /_emulator/scans/ID/tiles/LEVEL/COLUMN/ROW.jpg\n") }
            let zoom = DeepZoom(width: Int(size.width), height: Int(size.height))
            guard zoom.region(level: z, col: x, row: y) != nil else {
                return Self.text(.notFound, "no tile \(z)/\(x)/\(y): levels 0-\(zoom.maxLevel), level \(zoom.maxLevel) is 1:1\n")
            }
            do {
                let jpeg = try tiles.tile("\(id)/\(z)/\(x)/\(y)") {
                    try TileRenderer.jpeg(slide: slide, zoom: zoom, level: z, col: x, row: y) ?? []
                }
                guard !jpeg.isEmpty else { return Self.text(.notFound, "no tile \(z)/\(x)/\(y): outside the slide's levels\n") }
                return Response(status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "max-age=3600"], body: .init(byteBuffer: ByteBuffer(bytes: jpeg)))
            } catch {
                return Self.text(.internalServerError, "tile \(z)/\(x)/\(y) of scan \(id) could not be read: \(error)\n")
            }
        }
        router.get("/_emulator/scans/:scan/overlay.json") { _, context in
            let id = context.parameters.get("scan") ?? ""
            guard let scan = emulator.scan(id: id) else { return Self.text(.notFound, "no scan \(id)\n") }
            let built = await overlays.built(scan: scan, emulator: emulator)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: built.json)))
        }
        router.get("/_emulator/scans/:scan/points.bin") { _, context in
            let id = context.parameters.get("scan") ?? ""
            guard let scan = emulator.scan(id: id) else { return Self.text(.notFound, "no scan \(id)\n") }
            let built = await overlays.built(scan: scan, emulator: emulator)
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: .init(byteBuffer: ByteBuffer(bytes: built.points)))
        }
        router.get("/_emulator/leaflet/**") { _, context in
            let rest = context.parameters.getCatchAll().joined(separator: "/")
            let allowed = ["leaflet.js": "text/javascript", "leaflet.css": "text/css"]
            let type = allowed[rest] ?? (rest.hasPrefix("images/") && rest.hasSuffix(".png") && !rest.contains("..") ? "image/png" : nil)
            guard let type, let data = FileManager.default.contents(atPath: leafletDirectory + "/" + rest) else {
                return Self.text(.notFound, "no \(rest) in \(leafletDirectory) (apt-get install libjs-leaflet)\n")
            }
            return Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=86400"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/_emulator/assets/:name") { _, context in
            switch context.parameters.get("name") {
            case "viewer.js": return Response(status: .ok, headers: [.contentType: "text/javascript"], body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.viewer_js)))
            case "page.css": return Response(status: .ok, headers: [.contentType: "text/css"], body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.page_css)))
            default: return Self.text(.notFound, "no such asset\n")
            }
        }
    }

    private func overlay(_ scan: EmulatedScan) async -> ScanOverlay { await overlays.built(scan: scan, emulator: emulator).overlay }

    static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: message)))
    }
}

/// Posts read as the typed model once each, and each scan's overlay, rebuilt only when a post
/// has been added since (posts are only ever appended).
actor OverlayCache {
    struct Built: Sendable {
        var posts: Int
        var overlay: ScanOverlay
        var json: [UInt8]
        var points: [UInt8]
    }
    private var built: [String: Built] = [:]
    private var bodies: [ResultsBody?] = []

    /// Every post so far as the typed model (nil for one that does not decode, which
    /// validation rules out), in posting order.
    func typedPosts(_ posts: [PostedResults]) -> [ResultsBody?] {
        while bodies.count < posts.count {
            bodies.append(try? MHSJSON.decode(ResultsBody.self, from: posts[bodies.count].body))
        }
        return bodies
    }

    func built(scan: EmulatedScan, emulator: EmulatorCore) async -> Built {
        let posts = await emulator.platform.posts
        let typed = typedPosts(posts)
        let task = emulator.tasks.first { $0.scans.contains { $0.id == scan.id } }
        let mine = posts.indices.filter { posts[$0].taskNumber == task?.number }
        if let hit = built[scan.id], hit.posts == mine.count { return hit }
        let ids = await emulator.platform.evaluations.filter { $0.scanId == scan.id }.map(\.id)
        let overlay = ScanOverlay(scanId: scan.id, posts: mine.map { (posts[$0], typed[$0]) }, evaluationIds: ids)
        let json = (try? MHSJSON.encode(overlay.json(scan: scan, mpp: emulator.slides[scan.id]?.mpp))) ?? Array("{}".utf8)
        let result = Built(posts: mine.count, overlay: overlay, json: json, points: overlay.pointsBinary())
        built[scan.id] = result
        return result
    }
}

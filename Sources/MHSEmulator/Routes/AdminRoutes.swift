import Foundation
import Hummingbird
import MHSContract
import NIOCore

/// `/_emulator/...`: the record of what crossed the wire, the platform's state, and
/// faults added or cleared while running.
struct AdminRoutes {
    let emulator: EmulatorCore

    func register(on router: Router<EmulatorContext>) {
        router.get("/_emulator/calls") { _, _ in
            APIRoutes.json(.ok, .array(await emulator.platform.calls.map(Self.callJSON)))
        }
        router.get("/_emulator/state") { _, _ in APIRoutes.json(.ok, await state()) }
        router.get("/_emulator/faults") { _, _ in
            APIRoutes.json(.ok, .array(await emulator.platform.activeFaults.map { .string($0.description) }))
        }
        router.post("/_emulator/faults") { request, _ in
            let text = String(buffer: try await request.body.collect(upTo: 1 << 16))
            var added: [JSONValue] = []
            for line in text.split(whereSeparator: { $0 == "\n" || $0 == "," }) {
                let spec = line.trimmingCharacters(in: .whitespaces)
                guard !spec.isEmpty else { continue }
                do {
                    let fault = try Fault(parsing: spec)
                    await emulator.platform.addFault(fault)
                    added.append(.string(fault.description))
                } catch let error as FaultSpecError {
                    return APIRoutes.error(.badRequest, error.description)
                }
            }
            return APIRoutes.json(.created, .array(added))
        }
        router.delete("/_emulator/faults") { _, _ in
            await emulator.platform.clearFaults()
            return Response(status: .noContent)
        }
    }

    static func iso(_ date: Date) -> String { date.formatted(.iso8601) }

    static func callJSON(_ c: CallRecord) -> JSONValue {
        [
            "at": .string(iso(c.at)), "method": .string(c.method), "path": .string(c.path), "status": .int(Int64(c.status)),
            "bytes_in": .int(Int64(c.bytesIn)), "bytes_out": .int(Int64(c.bytesOut)), "fault": c.fault.map(JSONValue.string) ?? .null,
            "outcome": .string(c.outcome),
        ]
    }

    func state() async -> JSONValue {
        let platform = emulator.platform
        let completed = await platform.completed
        let posts = await platform.posts
        let triage = await platform.triage
        var tasks: [JSONValue] = []
        for t in emulator.tasks {
            let scans: [JSONValue] = t.scans.map { s in
                [
                    "id": .string(s.id), "source": .string(s.source), "readable": .bool(s.readable), "detail": .string(s.detail),
                    "width": s.size.map { .int(Int64($0.width)) } ?? .null, "height": s.size.map { .int(Int64($0.height)) } ?? .null,
                    "regions": .int(Int64(s.regions)), "dicom_series": .bool(s.zipFile != nil),
                ]
            }
            tasks.append([
                "number": .int(Int64(t.number)), "task_id": .string(t.taskID), "case_id": .int(Int64(t.caseId)),
                "completed": .bool(completed.contains(t.number)),
                "posts": .int(Int64(posts.filter { $0.taskNumber == t.number }.count)), "scans": .array(scans),
                "triage": triage[t.caseId].map(JSONValue.object) ?? .null,
            ])
        }
        let evaluations = await platform.evaluations.map { e -> JSONValue in
            guard case .object(var o) = APIRoutes.evaluationJSON(e) else { return .null }
            o["duplicate"] = .bool(e.duplicate)
            return .object(o)
        }
        let uploads = await platform.uploads.map { u -> JSONValue in
            [
                "task": .int(Int64(u.taskNumber)), "bytes": .int(Int64(u.bytes)), "entries": .array(u.entries.map(JSONValue.string)),
                "error": u.error.map(JSONValue.string) ?? .null, "at": .string(Self.iso(u.uploadedAt)),
            ]
        }
        return [
            "tasks": .array(tasks), "evaluations": .array(evaluations), "uploads": .array(uploads),
            "faults": .array(await platform.activeFaults.map { .string($0.description) }),
        ]
    }
}

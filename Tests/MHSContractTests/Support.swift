import Foundation
import MHSContract

/// The repository's root, found from this file's location.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The bundled example bodies, one per report type plus the top-level geojson example.
let exampleFiles: [String] = [
    "basic.json", "whole-slide-differential.json", "area-differential.json", "semi-quantitative-differential.json",
    "region-counting.json", "ai-mitosis-counting.json", "tumor-cellularity.json", "geojson-annotations.json",
]

func exampleBytes(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: repositoryRoot.appendingPathComponent("Examples/results/\(name)")))
}

func example(_ name: String) throws -> JSONValue {
    try JSONParser.parse(try exampleBytes(name))
}

/// Equality as JSON means it: numbers by value (`3` == `3.0`), objects by key set and
/// member values, arrays element by element.
func sameJSON(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case (.bool(let x), .bool(let y)): return x == y
    case (.string(let x), .string(let y)): return x == y
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy(sameJSON)
    case (.object(let x), .object(let y)):
        return Set(x.keys) == Set(y.keys) && x.allSatisfy { key, value in sameJSON(value, y[key]!) }
    default:
        if let x = a.doubleValue, let y = b.doubleValue { return x == y }
        return false
    }
}

/// Returns `value` with the node at `path` changed by `change` (nil removes it).
func editing(_ value: JSONValue, at path: [JSONPath.Component], _ change: (JSONValue?) -> JSONValue?) -> JSONValue {
    guard let first = path.first else { return change(value) ?? .null }
    let rest = Array(path.dropFirst())
    switch (value, first) {
    case (.object(var o), .key(let k)):
        if rest.isEmpty {
            o[k] = change(o[k])
        } else {
            o[k] = editing(o[k] ?? .null, at: rest, change)
        }
        return .object(o)
    case (.array(var a), .index(let i)):
        if rest.isEmpty {
            if let new = change(a[i]) { a[i] = new } else { a.remove(at: i) }
        } else {
            a[i] = editing(a[i], at: rest, change)
        }
        return .array(a)
    default:
        fatalError("path \(path) does not fit \(value.typeName)")
    }
}

/// Parses `a.b[0].c` into path components (test helper; plain identifiers only).
func components(_ text: String) -> [JSONPath.Component] {
    var result: [JSONPath.Component] = []
    for part in text.split(separator: ".") {
        var name = Substring(part)
        var indices: [Int] = []
        while let open = name.lastIndex(of: "[") {
            indices.insert(Int(name[name.index(after: open)..<name.index(before: name.endIndex)])!, at: 0)
            name = name[..<open]
        }
        if !name.isEmpty { result.append(.key(String(name))) }
        result += indices.map { .index($0) }
    }
    return result
}

import MHSContract
import Testing

@Suite("JSON parser and writer")
struct JSONTests {
    @Test("integers stay integers, fractions stay doubles")
    func numbers() throws {
        let v = try JSONParser.parse(#"[0, -12, 3.0, 1e3, 9223372036854775807, 9223372036854775808, -0.5]"#)
        #expect(v == [0, -12, .double(3.0), .double(1000), .int(.max), .double(9_223_372_036_854_775_808), -0.5])
        #expect(try MHSJSON.encodeString(v) == "[0,-12,3.0,1000.0,9223372036854775807,9.223372036854776e+18,-0.5]")
    }

    @Test("objects keep their key order")
    func keyOrder() throws {
        let text = #"{"z":1,"a":2,"m":{"y":true,"b":null}}"#
        #expect(try MHSJSON.encodeString(try JSONParser.parse(text)) == text)
    }

    @Test("strings: escapes, unicode and surrogate pairs survive a round trip")
    func strings() throws {
        let v = try JSONParser.parse(#"["a\"b\\c\/d\n\t\u0001", "é✓", "\ud83d\ude00", "\u00e9"]"#)
        #expect(v == ["a\"b\\c/d\n\t\u{01}", "é✓", "😀", "é"])
        #expect(try JSONParser.parse(try MHSJSON.encode(v)) == v)
        #expect(try MHSJSON.encodeString(JSONValue.string("\u{01}\"")) == #""\u0001\"""#)
    }

    @Test("syntax errors name line and column", arguments: [
        ("{\"a\":1,\n}", 2, 1),
        ("[1,2", 1, 5),
        ("{\"a\" 1}", 1, 6),
        ("[01]", 1, 2),
        ("\"abc", 1, 1),
        ("[tru]", 1, 2),
        ("", 1, 1),
        ("{} x", 1, 4),
        ("{\"a\":1,\"a\":2}", 1, 8),
        ("[\"\u{01}\"]", 1, 3),
    ])
    func syntaxErrors(text: String, line: Int, column: Int) {
        #expect {
            _ = try JSONParser.parse(text)
        } throws: { error in
            guard let e = error as? JSONSyntaxError else { return false }
            return e.line == line && e.column == column
        }
    }

    @Test("deep nesting is refused, not a crash")
    func depth() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(deep) }
    }

    @Test("invalid UTF-8 is an error")
    func invalidUTF8() {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test("random garbage yields errors, never a crash")
    func garbage() throws {
        var rng = SplitMix(seed: 42)
        let alphabet = Array(#"{}[]:,"\ 0123456789.eE+-truefalsnul"#.utf8) + [0x00, 0xFF, 0x0A]
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 40)
            let bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            if let v = try? JSONParser.parse(bytes) {
                _ = Validator.validate(json: v)
            }
        }
    }

    @Test("mutated valid bodies yield problems or pass, never a crash")
    func mutatedBodies() throws {
        var rng = SplitMix(seed: 7)
        for file in exampleFiles {
            let original = try exampleBytes(file)
            for _ in 0..<300 {
                var bytes = original
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 3 {
                    case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: bytes.remove(at: i)
                    default: bytes.insert(bytes[Int(rng.next() % UInt64(bytes.count))], at: i)
                    }
                }
                if let v = try? JSONParser.parse(bytes) {
                    let report = Validator.validate(json: v)
                    if report.isValid, let typed = try? MHSJSON.decode(ResultsBody.self, from: v) {
                        _ = try MHSJSON.encode(typed)
                    }
                }
            }
        }
    }

    @Test("streaming encode gives the same bytes in chunks")
    func streaming() throws {
        let points = (0..<20_000).map { DifferentialPoint(x: Double($0), y: Double($0) / 3, score: 0.25, type: "t") }
        let body = ResultsBody(scanResults: [
            ScanResult(scanId: "1", workflow: AiWorkflow(modelName: "m", provider: "p", ruo: true, report: try .wholeSlideDifferential(points: points, positivityThreshold: 0.5)))
        ])
        let whole = try MHSJSON.encode(body)
        var chunks: [[UInt8]] = []
        try MHSJSON.encode(body, chunkSize: 4096) { chunks.append(Array($0)) }
        #expect(chunks.count > 10)
        #expect(chunks.flatMap { $0 } == whole)
        #expect(chunks.dropLast().allSatisfy { $0.count < 4096 + 200 })
    }

    @Test("doubles are written in shortest round-tripping form")
    func doubles() throws {
        var rng = SplitMix(seed: 3)
        for _ in 0..<10_000 {
            let d = Double(bitPattern: rng.next())
            guard d.isFinite else { continue }
            let v = try JSONParser.parse(try MHSJSON.encode(JSONValue.double(d)))
            #expect(v.doubleValue == d)
        }
    }
}

extension JSONTests {
    @Test("model numbers round-trip exactly and read naturally")
    func modelNumbers() throws {
        #expect(try MHSJSON.encodeString(Position(40.25, 0.1)) == "[40.25,0.1]")
        #expect(try MHSJSON.encodeString(Position(-3, 1e-7)) == "[-3,1e-07]")
        #expect(try MHSJSON.encodeString(Position(0.7919, 123456.125)) == "[0.7919,123456.125]")
        var rng = SplitMix(seed: 11)
        for i in 0..<50_000 {
            let unit = Double(rng.next() >> 11) / Double(1 << 53)
            let x: Double
            switch i % 3 {
            case 0: x = unit * 2e9 - 1e9  // full-precision values
            case 1: x = Double(Int64(unit * 1e8)) / 1000  // few decimals
            default: x = (unit - 0.5) * 1e-3  // small values
            }
            let text = try MHSJSON.encode(Position(x, -x))
            let back = try JSONParser.parse(text)
            #expect(back.arrayValue?.map { $0.doubleValue! } == [x, -x], "\(String(decoding: text, as: UTF8.self))")
        }
    }
}

/// A small deterministic generator for reproducible fuzzing.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

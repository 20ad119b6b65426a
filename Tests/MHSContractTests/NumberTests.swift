import MHSContract
import PropertyBased
import Testing

/// What a written number parses back to, as a Double.
func parsedBack(_ bytes: [UInt8]) throws -> Double? {
    switch try JSONParser.parse(bytes) {
    case .int(let i): Double(i)
    case .double(let d): d
    default: nil
    }
}

/// `value` written by `JSONWriter.number` and by `exactDouble`.
func written(_ value: Double) -> (number: [UInt8], exact: [UInt8]) {
    var a = JSONWriter(), b = JSONWriter()
    a.number(value)
    b.exactDouble(value)
    return (a.bytes, b.bytes)
}

@Suite("Numbers: every finite double written so that it parses back to the same bits")
struct NumberTests {
    /// Subnormals, the extremes, signed zeros, the edges of the integer and fixed-point paths.
    static let edges: [Double] = [
        0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, .leastNormalMagnitude.nextDown,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, -1, 0.1, 0.7316520184230957, 1e-4, 1e-4.nextDown, 1e9, 1e9.nextDown,
        9_007_199_254_740_992, 9_007_199_254_740_992.nextUp, 9_007_199_254_740_991, -9_007_199_254_740_992, 1e22, 1e23, 2.2250738585072014e-308,
        123_456_789.123_456_78, 40.5, 0.1234, Double(Float.leastNonzeroMagnitude), Double(Float.greatestFiniteMagnitude),
    ]

    @Test("the edges: subnormals, extremes, ±0, 2⁵³, the fixed-point range's ends")
    func edgeCases() throws {
        for value in Self.edges {
            let (number, exact) = written(value)
            for bytes in [number, exact] {
                let back = try #require(try parsedBack(bytes), "\(value)")
                #expect(back.bitPattern == value.bitPattern, "\(value) came back as \(back) from \(String(decoding: bytes, as: UTF8.self))")
            }
            // exactDouble spells a number as Double.description does.
            #expect(String(decoding: exact, as: UTF8.self) == value.description)
        }
        #expect(String(decoding: written(-0.0).number, as: UTF8.self) == "-0.0")
        #expect(String(decoding: written(42).number, as: UTF8.self) == "42")
        #expect(String(decoding: written(40.5).number, as: UTF8.self) == "40.5")
    }

    @Test("property: random bit patterns (every finite one) round-trip bit for bit through both writers")
    func randomBitPatterns() async {
        await propertyCheck(count: 20_000, input: Gen.uint64()) { bits in
            let value = Double(bitPattern: bits)
            guard value.isFinite else { return }
            let (number, exact) = written(value)
            #expect((try? parsedBack(number))??.bitPattern == bits, "\(value): \(String(decoding: number, as: UTF8.self))")
            #expect((try? parsedBack(exact))??.bitPattern == bits, "\(value): \(String(decoding: exact, as: UTF8.self))")
            #expect(String(decoding: exact, as: UTF8.self) == value.description)
        }
    }

    @Test("property: subnormals and short decimals round-trip too")
    func subnormalsAndDecimals() async {
        // Exponent bits zero: every subnormal.
        await propertyCheck(count: 5_000, input: Gen.uint64(in: 1...((1 << 52) - 1))) { mantissa in
            let value = Double(bitPattern: mantissa)
            #expect((try? parsedBack(written(value).number))??.bitPattern == mantissa, "\(value)")
        }
        // Coordinates and scores as classifiers write them: k decimals.
        await propertyCheck(count: 5_000, input: Gen.int(in: -10_000_000...10_000_000), Gen.int(in: 0...6)) { n, k in
            var scale = 1.0
            for _ in 0..<k { scale *= 10 }
            let value = Double(n) / scale
            #expect((try? parsedBack(written(value).number))??.bitPattern == value.bitPattern, "\(value)")
        }
    }
}

@Suite("A dense model: positions without the optional third coordinate's tag")
struct DenseModelTests {
    @Test("a Position is three Doubles (24 bytes), and z stays optional: absent, present, equal and hashed by value")
    func positionLayout() throws {
        #expect(MemoryLayout<Position>.stride == 24)
        let flat = Position(1, 2), raised = Position(1, 2, z: 3)
        #expect(flat.z == nil && raised.z == 3)
        #expect(flat == Position(1, 2) && flat != raised && Set([flat, Position(1, 2), raised]).count == 2)
        let bytes = try MHSJSON.encode(Geometry.lineString([flat, raised]))
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"type":"LineString","coordinates":[[1,2],[1,2,3]]}"#)
        let back = try MHSJSON.decode(Geometry.self, from: bytes)
        #expect(back == .lineString([flat, raised]))
    }
}

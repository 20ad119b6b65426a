// Encode/validate throughput of the contract module, one operation per process so that
// peak RSS belongs to that operation. Benchmarks/contract.sh runs it beside Python's json
// and orjson on the identical structure (Benchmarks/contract_python.py builds the same).
//
//   ContractBenchmark encode-points 1000000
//   ContractBenchmark validate-points 1000000
//   ContractBenchmark encode-polygons 100000
//   ContractBenchmark validate-polygons 100000
//   ContractBenchmark parse-validate-points 1000000   (the emulator's path: bytes → report)
#if canImport(Glibc)
import Glibc
#endif
import MHSContract

let pointTypes = ["tumor", "lymphocyte", "stroma", "other"]

func pointsBody(_ n: Int) -> ResultsBody {
    var points: [DifferentialPoint] = []
    points.reserveCapacity(n)
    for i in 0..<n {
        points.append(DifferentialPoint(
            x: Double(i % 1000) * 40.5 + 0.25, y: Double(i / 1000) * 40.25 + 0.125,
            score: Double((i * 7919) % 10000) / 10000, type: pointTypes[i % 4]))
    }
    let report = WholeSlideDifferentialReport(
        points: points, scores: ["tumor": 0.25, "lymphocyte": 0.25, "stroma": 0.25, "other": 0.25], positivityThreshold: 0.5)
    return ResultsBody(scanResults: [
        ScanResult(scanId: "8061860", workflow: AiWorkflow(modelName: "bench", provider: "mhs", ruo: true, report: .wholeSlideDifferential(report)))
    ])
}

func polygonsBody(_ n: Int) -> ResultsBody {
    var features: [Feature] = []
    features.reserveCapacity(n)
    for i in 0..<n {
        let x = Double(i % 300) * 100.5
        let y = Double(i / 300) * 100.5
        let ring = [Position(x, y), Position(x + 50, y), Position(x + 50, y + 50), Position(x, y + 50), Position(x, y)]
        features.append(Feature(
            geometry: .polygon([ring]),
            properties: ["annotation_type": "cell", "score": .double(Double((i * 7919) % 10000) / 10000 + 0.00005)],
            bbox: BoundingBox(minX: x, minY: y, maxX: x + 50, maxY: y + 50)))
    }
    let report = BasicReport(
        results: [ResultPair(name: "Cells", result: String(n))],
        segments: [Segment(name: "Cells", result: String(n), featureCollection: FeatureCollection(features: features))])
    return ResultsBody(scanResults: [
        ScanResult(scanId: "8061860", workflow: AiWorkflow(modelName: "bench", provider: "mhs", ruo: true, report: .basic(report)))
    ])
}

func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Best of `runs` timings of `body`, in seconds.
func best(_ runs: Int, _ body: () throws -> Void) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try body()
        let d = ContinuousClock.now - start
        best = min(best, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }
    return best
}

let args = CommandLine.arguments
guard args.count == 3, let n = Int(args[2]) else {
    print("usage: ContractBenchmark encode-points|validate-points|encode-polygons|validate-polygons|parse-validate-points N")
    exit(2)
}
let op = args[1]
let body = op.hasSuffix("polygons") ? polygonsBody(n) : pointsBody(n)
let modelRSS = peakRSSMiB()
var outputBytes = 0
var seconds = 0.0
var problems = 0
switch op {
case "encode-points", "encode-polygons":
    seconds = try best(3) { outputBytes = try MHSJSON.encode(body).count }
case "validate-points", "validate-polygons":
    seconds = best(3) { problems = Validator.validate(body).problems.count }
case "parse-validate-points":
    let bytes = try MHSJSON.encode(body)
    outputBytes = bytes.count
    seconds = try best(1) { problems = try Validator.validate(bytes: bytes).problems.count }
default:
    print("unknown operation \(op)")
    exit(2)
}
// One line of key=value pairs for contract.sh to read.
print("op=\(op) n=\(n) seconds=\(seconds) bytes=\(outputBytes) problems=\(problems) model_rss_mib=\(modelRSS) peak_rss_mib=\(peakRSSMiB())")

// Encode/validate throughput of the contract module, one operation per process so that
// peak RSS belongs to that operation. Benchmarks/contract.sh runs it beside Python's json
// and orjson on the identical structure (Benchmarks/contract_python.py builds the same).
//
//   ContractBenchmark encode-points 1000000
//   ContractBenchmark validate-points 1000000
//   ContractBenchmark encode-polygons 100000
//   ContractBenchmark validate-polygons 100000
//   ContractBenchmark parse-validate-points 1000000   (the emulator's path: bytes → report)
//   ContractBenchmark encode-file BODY.json           (a body made by contract_python.py make, decoded, then timed)
//   ContractBenchmark parse-validate-file BODY.json   (its bytes → the validator's report)
#if canImport(Glibc)
import Glibc
#endif
import Foundation
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

/// A line of /proc/self/status (`VmRSS`, `VmHWM`) in MiB.
func statusMiB(_ key: String) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }),
        let kB = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
    else { return 0 }
    return kB / 1024
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
if args.count == 3, args[1].hasSuffix("-file") {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: args[2])))
    var seconds = 0.0, problems = 0, outputBytes = bytes.count
    var modelRSS = 0.0
    switch args[1] {
    case "encode-file":
        let body = try MHSJSON.decode(ResultsBody.self, from: bytes)
        // Decoding's own peak is not the encoder's: give its freed memory back, then restart
        // the kernel's high-water mark (clear_refs 5), so the peak below is the model's and
        // the encoder's alone.
        typealias TrimFn = @convention(c) (Int) -> Int32
        if let trim = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") { _ = unsafeBitCast(trim, to: TrimFn.self)(0) }
        if let f = fopen("/proc/self/clear_refs", "w") {
            fputs("5", f)
            fclose(f)
        }
        modelRSS = statusMiB("VmRSS")
        seconds = try best(3) { outputBytes = try MHSJSON.encode(body).count }
        print("op=\(args[1]) n=1 seconds=\(seconds) bytes=\(outputBytes) problems=0 model_rss_mib=\(modelRSS) peak_rss_mib=\(statusMiB("VmHWM"))")
        exit(0)
    case "parse-validate-file":
        seconds = try best(3) { problems = try Validator.validate(bytes: bytes).problems.count }
    default:
        print("unknown operation \(args[1])")
        exit(2)
    }
    print("op=\(args[1]) n=1 seconds=\(seconds) bytes=\(outputBytes) problems=\(problems) model_rss_mib=\(modelRSS) peak_rss_mib=\(peakRSSMiB())")
    exit(0)
}
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

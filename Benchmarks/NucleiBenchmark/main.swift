// Nuclei classifier throughput on the CPU (or GPU): patches/s with reading overlapped with
// inference and without (read a batch, then run it), measured in the same run, best of
// --repeat. Run by Benchmarks/nuclei.sh.
//
//   NucleiBenchmark [--repeat N] [--batch B] [--device auto|cpu|cuda] [--threads T] [--synthetic SIDE] [--decode scaled|full] SLIDE...
//
// --synthetic SIDE first writes a SIDE x SIDE synthetic H&E slide (the demo's generator) to
// the temporary folder and adds it to the slides.
import MHSExamples
import Foundation
import MHS

var args = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String, _ fallback: String) -> String {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return fallback }
    let v = args[i + 1]
    args.removeSubrange(i...i + 1)
    return v
}
let repeats = Int(option("--repeat", "3")) ?? 3
let batch = Int(option("--batch", "8")) ?? 8
let device = ComputeDevice(rawValue: option("--device", "auto")) ?? .auto
let synthetic = Int(option("--synthetic", "0")) ?? 0
let threads = Int(option("--threads", "0")) ?? 0
// --decode full: every level pixel decoded and area-averaged, as before DCT-scaled decoding.
let scaledDecoding = option("--decode", "scaled") != "full"
if synthetic > 0 {
    let path = NSTemporaryDirectory() + "/mhs-bench-synthetic-\(synthetic).svs"
    if !FileManager.default.fileExists(atPath: path) {
        let start = ContinuousClock.now
        _ = try SyntheticSlide.write(to: path, width: synthetic, height: synthetic, bigTIFF: synthetic > 20000)
        print("wrote \(path) in \(ContinuousClock.now - start)")
    }
    args.append(path)
}
guard !args.isEmpty else {
    print("usage: NucleiBenchmark [--repeat N] [--batch B] [--device auto|cpu|cuda] [--threads T] [--synthetic SIDE] SLIDE...")
    exit(2)
}

LibraryLocations.bootstrap(LibraryLocations(environment: ProcessInfo.processInfo.environment))
let gpu = CUDAProbe.probe(locations: .current)
// One session per mode: the classifier gives inference half the cores when reading runs alongside.
var sessions: [Bool: InferenceSession] = [:]
for overlapped in [true, false] {
    var c = NucleiClassifier()
    c.overlap = overlapped
    sessions[overlapped] = try NucleiModel.session(device: device, gpu: gpu, threads: threads > 0 ? threads : c.cpuThreads(cores: ProcessInfo.processInfo.activeProcessorCount))
}
let session = sessions[true]!
print("ONNX Runtime \(session.runtime.version) on \(session.provider) overlapped, \(sessions[false]!.provider) sequential\(session.fallbackReason.map { " (GPU not used: \($0))" } ?? ""); \(ProcessInfo.processInfo.activeProcessorCount) cores; batch \(batch); best of \(repeats)")
print("| slide | patches | nuclei | overlapped p/s | sequential p/s | overlap gain | inference utilisation (overlapped / sequential) |")
print("|---|---|---|---|---|---|---|")
for path in args {
    let slide = try Slide(path: path)
    var classifier = NucleiClassifier()
    classifier.batchSize = batch
    let grid = try classifier.grid(for: slide)
    let mask = try TissueMask.compute(slide: slide)
    let detector = NucleiDetector(grid: grid, margin: classifier.margin)
    var best: [Bool: (rate: Double, run: NucleiClassifier.Detection)] = [:]
    for _ in 0..<repeats {
        for overlapped in [true, false] {
            classifier.overlap = overlapped
            let stream = PatchStream(slide: slide, grid: grid, mask: mask, minimumTissueFraction: 0.1, scaledDecoding: scaledDecoding)
            let run = try await classifier.detect(stream: stream, detector: detector, session: sessions[overlapped]!, context: nil, mask: mask)
            let rate = Double(run.patchCount) / run.timings.wallSeconds
            if rate > best[overlapped]?.rate ?? 0 { best[overlapped] = (rate, run) }
        }
    }
    let o = best[true]!, s = best[false]!
    let uo = o.run.timings.stage("inference")?.utilisation ?? 0, us = s.run.timings.stage("inference")?.utilisation ?? 0
    print(String(format: "| %@ | %d | %d | %.1f | %.1f | %.2fx | %.0f%% / %.0f%% |", (path as NSString).lastPathComponent, o.run.patchCount,
                 o.run.nuclei.count, o.rate, s.rate, o.rate / s.rate, uo * 100, us * 100))
    print("  overlapped: \(o.run.timings)")
    print("  sequential: \(s.run.timings)")
}

import Foundation
import MHSDynamicLibrary

/// The GPU test of Techcyte's template, without PyTorch: the device's name, a timed
/// N×N single-precision matrix product on it and one element of the result, checked
/// against the same element computed on the CPU.
public enum GPUCheck {
    /// What multiplies the matrices.
    public enum Kernel: String, Sendable, CaseIterable {
        /// cuBLAS when it can be found, else the PTX kernel.
        case auto
        /// cuBLAS only (an error when it is missing).
        case cublas
        /// The embedded PTX kernel (`Kernels/sgemm.cu`), JIT-compiled by the driver.
        case ptx
    }

    /// The outcome on one device.
    public struct Report: Sendable {
        public var device: CUDAStatus.Device
        /// e.g. `cuBLAS 13.1.0 (…/libcublas.so.13)` or `PTX kernel mhs_sgemm (driver JIT)`.
        public var kernel: String
        public var size: Int
        /// Median time of one product, and the fastest.
        public var medianMilliseconds: Double
        public var bestMilliseconds: Double
        /// 2·N³ / median time.
        public var gflops: Double
        /// The first checked element (row, column), the GPU's value and the CPU's.
        public var sample: (row: Int, column: Int, gpu: Float, cpu: Double)
        /// Elements compared with the CPU, and the largest error relative to Σ|aᵢₖ·bₖⱼ|.
        public var checked: Int
        public var maxRelativeError: Double
        /// Why cuBLAS was not used, when it was not.
        public var cublasNote: String?
        /// Whether every checked element agrees (relative error ≤ 1e-4).
        public var passed: Bool { maxRelativeError <= 1e-4 }
    }

    /// A failure of the check itself.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Runs the check on `device` (default 0) of a probed driver. Blocks while the GPU works
    /// (a few ms).
    public static func run(
        _ status: CUDAStatus, device index: Int = 0, size: Int = 1000, iterations: Int = 20, kernel: Kernel = .auto,
        locations: LibraryLocations
    ) throws(Failure) -> Report {
        guard let driver = status.driver, status.devices.indices.contains(index) else {
            throw Failure(description: "no CUDA device \(index): \(status.unavailableReason ?? "the driver reports none")")
        }
        do {
            let device = try driver.activate(device: index)
            defer { driver.deactivate(device: device) }
            // Everything allocated on the device lives inside `measure`, so it is freed
            // before the context is released.
            return try measure(driver: driver, device: status.devices[index], size: size, iterations: iterations, kernel: kernel, locations: locations)
        } catch let e as Failure {
            throw e
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    /// What multiplies: a name for the report, why not cuBLAS (when not), and the call.
    private struct Multiplier {
        var name: String
        var note: String?
        var multiply: () throws -> Void
        /// What must outlive the calls (the PTX module).
        var keepAlive: AnyObject?
    }

    /// cuBLAS when it is wanted and found, else the embedded PTX kernel.
    private static func multiplier(
        driver: CUDADriver, kernel: Kernel, locations: LibraryLocations, n: Int, a: UInt64, b: UInt64, c: UInt64
    ) throws -> Multiplier {
        var note = "PTX kernel asked for"
        if kernel != .ptx {
            var attempts: [String] = []
            if let blas = CUBLAS.load(locations: locations, attempts: &attempts) {
                let handle = try blas.handle()
                return Multiplier(
                    name: "cuBLAS \(handle.version) (\(blas.path))", note: nil,
                    multiply: { try handle.sgemm(m: n, n: n, k: n, a: a, b: b, c: c) }, keepAlive: handle)
            }
            if kernel == .cublas { throw Failure(description: "cuBLAS not found; tried: \(attempts.joined(separator: "; "))") }
            note = "cuBLAS not found (\(attempts.joined(separator: "; ")))"
        }
        let module = try CUDADriver.Module(driver: driver, ptx: SGEMMKernel.ptx)
        let function = try module.function(SGEMMKernel.entry)
        let tiles = UInt32((n + SGEMMKernel.tile - 1) / SGEMMKernel.tile), side = UInt32(SGEMMKernel.tile)
        return Multiplier(
            name: "PTX kernel \(SGEMMKernel.entry), \(SGEMMKernel.tile)x\(SGEMMKernel.tile) tiles (driver JIT)", note: note,
            multiply: {
                try driver.launch(
                    function, grid: (tiles, tiles), block: (side, side),
                    arguments: [.pointer(a), .pointer(b), .pointer(c), .int32(Int32(n)), .int32(Int32(n)), .int32(Int32(n))])
            }, keepAlive: module)
    }

    private static func measure(
        driver: CUDADriver, device: CUDAStatus.Device, size n: Int, iterations: Int, kernel: Kernel, locations: LibraryLocations
    ) throws -> Report {
        let a = matrix(n * n, seed: 1), b = matrix(n * n, seed: 2)
        let da = try driver.upload(a), db = try driver.upload(b), dc = try driver.allocate(floats: n * n)
        let m = try multiplier(driver: driver, kernel: kernel, locations: locations, n: n, a: da.address, b: db.address, c: dc.address)

        // One product to warm up (cuBLAS picks its kernel, the driver JITs the PTX), then timed ones.
        try m.multiply()
        try driver.synchronize()
        var times: [Double] = []
        for _ in 0..<max(1, iterations) {
            let start = ContinuousClock.now
            try m.multiply()
            try driver.synchronize()
            times.append((ContinuousClock.now - start) / .milliseconds(1))
        }
        let c = try driver.download(dc)
        times.sort()
        let median = times[times.count / 2]

        // The first sample is the template's kind of "result sample"; the rest spread over the matrix.
        var samples = [(min(123, n - 1), min(456, n - 1)), (0, 0), (n - 1, n - 1)]
        var rng = UInt64(0x9E37_79B9_7F4A_7C15)
        for _ in 0..<13 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            samples.append((Int(rng >> 33) % n, Int(rng >> 13) % n))
        }
        var worst = 0.0
        var first: (Int, Int, Float, Double) = (0, 0, 0, 0)
        for (i, (r, col)) in samples.enumerated() {
            var exact = 0.0, scale = 0.0
            for t in 0..<n {
                let p = Double(a[r * n + t]) * Double(b[t * n + col])
                exact += p
                scale += abs(p)
            }
            let got = c[r * n + col]
            worst = max(worst, abs(Double(got) - exact) / max(scale, 1e-30))
            if i == 0 { first = (r, col, got, exact) }
        }
        return Report(
            device: device, kernel: m.name, size: n, medianMilliseconds: median, bestMilliseconds: times[0],
            gflops: 2 * Double(n) * Double(n) * Double(n) / (median / 1000) / 1e9,
            sample: (first.0, first.1, first.2, first.3), checked: samples.count, maxRelativeError: worst, cublasNote: m.note)
    }

    /// Deterministic values in [-1, 1).
    static func matrix(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x2545_F491_4F6C_DD1D
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(state >> 40) - (1 << 23)) / Float(1 << 23)
        }
    }
}

extension GPUCheck.Report {
    /// One line: size, device, time, throughput, kernel, the sample and the verdict.
    public var line: String {
        let ms = String(format: "%.3f", medianMilliseconds)
        let sampleText = String(format: "C[%d,%d] = %.5f (CPU %.5f)", sample.row, sample.column, Double(sample.gpu), sample.cpu)
        return "GPU check: \(size)x\(size) SGEMM on \(device.name) in \(ms) ms (\(Int(gflops.rounded())) GFLOP/s) with \(kernel); \(sampleText); "
            + (passed ? "\(checked) elements match the CPU" : "MISMATCH: relative error \(String(format: "%.1e", maxRelativeError))")
    }
}

extension GPUCheck {
    /// The short form for `mhs run`: the check on device 0 with a few timed products, as
    /// one line (a failure is a line too: the task goes on, on the CPU if need be).
    public static func summary(status: CUDAStatus, locations: LibraryLocations) -> String {
        do {
            return try run(status, iterations: 5, locations: locations).line
        } catch {
            return "GPU check failed: \(error)"
        }
    }
}

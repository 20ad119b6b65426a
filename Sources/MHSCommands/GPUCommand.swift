import ArgumentParser
import Foundation
import MHS

/// `mhs gpu`: the template's GPU test without PyTorch, and what inference will run on.
struct GPUCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpu",
        abstract: "Check the GPU: driver, devices, a timed matrix product checked on the CPU, and ONNX Runtime's providers.",
        discussion: """
            Loads libcuda.so.1 (MHS_CUDA_LIB overrides), lists every device, multiplies two \
            SIZE x SIZE float matrices on device 0 with cuBLAS (MHS_CUBLAS_LIB, the nvidia-cublas \
            Python package, or the system's libcublas) or else an embedded PTX kernel, times it, \
            and compares 16 elements with the CPU. Then says which ONNX Runtime was found and \
            where the example model would run. Without a GPU it says so and exits 0.
            Exit status: 0 the check passed or there is no GPU (CPU fallback); 1 the check failed.
            """
    )

    @Option(help: "Matrix side.")
    var size = 1000

    @Option(help: "Timed products (after one warm-up).")
    var iterations = 20

    @Option(help: "auto (cuBLAS, else PTX), cublas or ptx.")
    var kernel: String = "auto"

    func run() throws {
        guard let kernel = GPUCheck.Kernel(rawValue: kernel) else {
            throw ValidationError("--kernel must be auto, cublas or ptx")
        }
        guard size >= 16, size <= 16384 else { throw ValidationError("--size must be from 16 to 16384") }
        let locations = LibraryLocations(environment: CommandContext.current.environment)
        let status = CUDAProbe.probe(locations: locations, surroundings: .observe(environment: CommandContext.current.environment))
        printFlushed(status.description)
        var failed = false
        if status.isAvailable {
            for d in status.devices {
                printFlushed("  device \(d.index): \(d.name), \(String(format: "%.2f", Double(d.totalMemory) / Double(1 << 30))) GiB, compute capability \(d.computeCapability), \(d.multiprocessors) multiprocessors")
            }
            do {
                let report = try GPUCheck.run(status, size: size, iterations: iterations, kernel: kernel, locations: locations)
                printFlushed("Matrix product: \(size)x\(size) float32 on device 0 with \(report.kernel)")
                if let note = report.cublasNote { printFlushed("  (\(note))") }
                printFlushed(String(format: "  time: median %.3f ms, best %.3f ms over %d products; %.0f GFLOP/s", report.medianMilliseconds, report.bestMilliseconds, iterations, report.gflops))
                printFlushed(String(format: "  result sample: C[%d,%d] = %.6f on the GPU, %.6f on the CPU", report.sample.row, report.sample.column, Double(report.sample.gpu), report.sample.cpu))
                printFlushed(String(format: "  %d elements checked against the CPU: largest relative error %.2e — %@", report.checked, report.maxRelativeError, report.passed ? "PASSED" : "FAILED"))
                failed = !report.passed
            } catch {
                printFlushed("GPU check FAILED: \(error)")
                failed = true
            }
        } else {
            printFlushed("No GPU: classifiers run on the CPU (ONNX Runtime's CPU provider, PatchStream on every core).")
        }
        do {
            let runtime = try ONNXRuntime.shared()
            printFlushed("ONNX Runtime \(runtime.version) at \(runtime.path); providers: \(runtime.availableProviders.joined(separator: ", "))")
            for model in CommandContext.current.classifiers.classifiers.compactMap({ $0 as? any InferenceModelProvider }) {
                do {
                    let session = try model.makeSession(device: .auto, gpu: status)
                    printFlushed("The \(model.modelDescription) model runs on: \(session.provider)\(session.fallbackReason.map { " (GPU not used: \($0))" } ?? "")")
                } catch {
                    printFlushed("The \(model.modelDescription) model cannot be loaded: \(error)")
                }
            }
        } catch {
            printFlushed("ONNX Runtime: \(error)")
        }
        if failed { throw ExitCode(1) }
    }
}

import MHSDynamicLibrary
import MHSGPU
import Testing

/// Why the GPU is not usable, said in a container's terms: each cause the platform's
/// template README lists as troubleshooting, from what a container can see.
@Suite("GPU advice")
struct GPUAdviceTests {
    typealias S = GPUSurroundings

    @Test("no driver library: no --gpus (no device nodes), the toolkit missing (nodes but no library), a bare machine, GPUs hidden")
    func missingLibrary() {
        let detail = "libcuda.so.1 not found"
        let noGPUs = GPUAdvice.driverLibraryMissing(S(inContainer: true, hasDeviceNodes: false), detail: detail)
        #expect(noGPUs.hasPrefix(detail) && noGPUs.contains("no GPU was given to this container") && noGPUs.contains("--gpus all"))
        #expect(noGPUs.contains("--device nvidia.com/gpu=all"))
        let toolkit = GPUAdvice.driverLibraryMissing(S(inContainer: true, hasDeviceNodes: true), detail: detail)
        #expect(toolkit.contains("NVIDIA container toolkit did not mount the host's driver") && toolkit.contains("nvidia-ctk cdi generate"))
        #expect(GPUAdvice.driverLibraryMissing(S(inContainer: false, hasDeviceNodes: false), detail: detail) == "\(detail): no NVIDIA driver on this machine")
        for hidden in ["none", "void", ""] {
            let text = GPUAdvice.driverLibraryMissing(S(inContainer: true, hasDeviceNodes: false, visibleDevices: hidden), detail: detail)
            #expect(text.contains("NVIDIA_VISIBLE_DEVICES is '\(hidden)'"), "\(text)")
        }
        #expect(!GPUAdvice.driverLibraryMissing(S(inContainer: true, hasDeviceNodes: false, visibleDevices: "all"), detail: detail).contains("NVIDIA_VISIBLE_DEVICES"))
    }

    @Test("the driver older than the image's CUDA: both versions, the driver to install, the flavour that would run")
    func driverTooOld() {
        let s = S(inContainer: true, hasDeviceNodes: true, requiredCUDA: "13.0")
        #expect(GPUAdvice.driverTooOld(s, driver: "13.0") == nil)
        #expect(GPUAdvice.driverTooOld(s, driver: "13.1") == nil)
        #expect(GPUAdvice.driverTooOld(S(inContainer: true, hasDeviceNodes: true), driver: "11.4") == nil, "nothing to compare with")
        let old = GPUAdvice.driverTooOld(s, driver: "12.4")
        #expect(old == "the host's NVIDIA driver supports CUDA 12.4, but this image's CUDA libraries need CUDA 13.0: update the host's driver (CUDA 13 needs driver 580 or newer), or run the image's CUDA 12 flavour")
        let older = GPUAdvice.driverTooOld(S(inContainer: true, hasDeviceNodes: true, requiredCUDA: "12.2"), driver: "11.8")
        #expect(older?.contains("CUDA 12 needs driver 525 or newer") == true && older?.contains("flavour") == false, "\(older ?? "")")
        #expect(GPUAdvice.driverTooOld(S(inContainer: false, hasDeviceNodes: true, requiredCUDA: "12.8"), driver: "12.2") != nil, "minor versions count")
    }

    @Test("cuInit's refusals: no device, a driver too old, anything else as the driver said it")
    func refused() {
        let s = S(inContainer: true, hasDeviceNodes: true, requiredCUDA: "13.0")
        #expect(GPUAdvice.driverRefused(s, code: 100, detail: "cuInit failed").contains("started without --gpus all"))
        #expect(GPUAdvice.driverRefused(S(inContainer: false, hasDeviceNodes: false), code: 100, detail: "x") == "x: the driver sees no GPU on this machine")
        #expect(GPUAdvice.driverRefused(s, code: 35, detail: "x") == "x: the host's NVIDIA driver is too old for this image (it needs CUDA 13.0: CUDA 13 needs driver 580 or newer)")
        #expect(GPUAdvice.driverRefused(s, code: 999, detail: "cuInit failed: CUDA_ERROR_UNKNOWN") == "cuInit failed: CUDA_ERROR_UNKNOWN")
    }

    @Test("this machine: the real probe says why there is no GPU, in the terms of where it runs")
    func thisMachine() {
        let here = GPUSurroundings.observe(environment: ["MHS_CUDA_VERSION": "13.0"])
        #expect(here.requiredCUDA == "13.0" && here.visibleDevices == nil)
        let status = CUDAProbe.probe(locations: LibraryLocations(), surroundings: here)
        if status.devices.isEmpty {
            #expect(!status.isAvailable)
            #expect(status.description.hasPrefix("CUDA available: False (libcuda.so.1 not found"), "\(status.description)")
            #expect(status.description.contains(here.inContainer ? "no GPU was given to this container" : "no NVIDIA driver on this machine"))
        } else {
            print("a GPU answered: \(status.description)")
        }
    }
}

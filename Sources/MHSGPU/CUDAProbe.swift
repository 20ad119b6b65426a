import Foundation
import MHSDynamicLibrary

/// What the CUDA driver says about this machine, learnt by `dlopen` of `libcuda.so.1`
/// (no CUDA toolkit or header needed; the NVIDIA container toolkit injects the library).
public struct CUDAStatus: Sendable, CustomStringConvertible {
    /// One GPU.
    public struct Device: Sendable {
        public var index: Int
        public var name: String
        public var totalMemory: Int
        /// Compute capability, e.g. `9.0` for an H100.
        public var computeCapability: String
        public var multiprocessors: Int

        public init(index: Int, name: String, totalMemory: Int, computeCapability: String, multiprocessors: Int) {
            self.index = index
            self.name = name
            self.totalMemory = totalMemory
            self.computeCapability = computeCapability
            self.multiprocessors = multiprocessors
        }
    }

    /// The driver's CUDA version as `major.minor`, when a driver answered.
    public var driverVersion: String?
    public var devices: [Device]
    /// Why CUDA is not usable, when it is not.
    public var unavailableReason: String?
    /// The driver that answered (for ``GPUCheck``), loaded once.
    public var driver: CUDADriver?

    /// Devices answered and nothing makes them unusable (a driver too old for the image's CUDA).
    public var isAvailable: Bool { !devices.isEmpty && unavailableReason == nil }

    public init(driverVersion: String?, devices: [Device], unavailableReason: String?, driver: CUDADriver? = nil) {
        self.driverVersion = driverVersion
        self.devices = devices
        self.unavailableReason = unavailableReason
        self.driver = driver
    }

    /// The one-line summary printed first by `mhs run`, as the template does.
    public var description: String {
        if isAvailable, let first = devices.first {
            return "CUDA available: True — \(devices.count) device(s), device 0: \(first.name) (\(GiB(first.totalMemory)) GiB, compute \(first.computeCapability)), CUDA driver \(driverVersion ?? "?")"
        }
        return "CUDA available: False (\(unavailableReason ?? "no device")) — running on the CPU"
    }
}

func GiB(_ bytes: Int) -> String { String(format: "%.2f", Double(bytes) / Double(1 << 30)) }

/// Probes the CUDA driver API.
public enum CUDAProbe {
    /// ``probe(locations:surroundings:)`` with what the file system shows and no variables.
    public static func probe(locations: LibraryLocations) -> CUDAStatus {
        probe(locations: locations, surroundings: .observe(environment: [:]))
    }

    /// Loads `libcuda.so.1` (or `MHS_CUDA_LIB`) and asks for every device; when CUDA is not
    /// usable, `surroundings` (the container, its device nodes, `NVIDIA_VISIBLE_DEVICES`, the
    /// image's CUDA version) say why in ``CUDAStatus/unavailableReason``, and what to do.
    public static func probe(locations: LibraryLocations, surroundings: GPUSurroundings) -> CUDAStatus {
        let driver: CUDADriver
        do {
            driver = try CUDADriver(locations: locations)
        } catch {
            return CUDAStatus(driverVersion: nil, devices: [], unavailableReason: GPUAdvice.driverLibraryMissing(surroundings, detail: error.description))
        }
        return probe(driver, surroundings: surroundings)
    }

    /// Asks a loaded driver for every device.
    public static func probe(_ driver: CUDADriver, surroundings: GPUSurroundings) -> CUDAStatus {
        let version = driver.version()
        do {
            try driver.initialize()
        } catch {
            return CUDAStatus(
                driverVersion: version, devices: [], unavailableReason: GPUAdvice.driverRefused(surroundings, code: error.code, detail: error.description))
        }
        var n: Int32 = 0
        guard driver.deviceGetCount(&n) == 0, n > 0 else {
            return CUDAStatus(
                driverVersion: version, devices: [],
                unavailableReason: GPUAdvice.driverRefused(surroundings, code: 100, detail: "the driver reports no device"))
        }
        var devices: [CUDAStatus.Device] = []
        for i in 0..<n {
            var device: Int32 = 0
            guard driver.deviceGet(&device, i) == 0 else { continue }
            var buffer = [CChar](repeating: 0, count: 256)
            _ = driver.deviceGetName(&buffer, 256, device)
            var memory = 0
            _ = driver.deviceTotalMem(&memory, device)
            // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76, MULTIPROCESSOR_COUNT = 16.
            var major: Int32 = 0, minor: Int32 = 0, sms: Int32 = 0
            _ = driver.deviceGetAttribute(&major, 75, device)
            _ = driver.deviceGetAttribute(&minor, 76, device)
            _ = driver.deviceGetAttribute(&sms, 16, device)
            let name = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            devices.append(.init(index: Int(i), name: name, totalMemory: memory, computeCapability: "\(major).\(minor)", multiprocessors: Int(sms)))
        }
        let tooOld = version.flatMap { GPUAdvice.driverTooOld(surroundings, driver: $0) }
        return CUDAStatus(
            driverVersion: version, devices: devices, unavailableReason: devices.isEmpty ? "no device answered" : tooOld,
            driver: devices.isEmpty ? nil : driver)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// What the CUDA driver says about this machine, learnt by `dlopen` of `libcuda.so.1`
/// (no CUDA toolkit or header needed; the NVIDIA container toolkit injects the library).
public struct CUDAStatus: Sendable, CustomStringConvertible {
    /// One GPU.
    public struct Device: Sendable {
        public var index: Int
        public var name: String
        public var totalMemory: Int
    }

    /// The driver's CUDA version as `major.minor`, when a driver answered.
    public var driverVersion: String?
    public var devices: [Device]
    /// Why CUDA is not usable, when it is not.
    public var unavailableReason: String?

    public var isAvailable: Bool { !devices.isEmpty }

    /// The one-line summary printed first by `mhs run`, as the template does.
    public var description: String {
        if let first = devices.first {
            let memory = String(format2: Double(first.totalMemory) / Double(1 << 30))
            return "CUDA available: True — \(devices.count) device(s), device 0: \(first.name) (\(memory) GiB), CUDA driver \(driverVersion ?? "?")"
        }
        return "CUDA available: False (\(unavailableReason ?? "no device")) — running on the CPU"
    }
}

extension String {
    fileprivate init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// Probes the CUDA driver API.
public enum CUDAProbe {
    private typealias InitFn = @convention(c) (UInt32) -> Int32
    private typealias CountFn = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
    private typealias DeviceGetFn = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private typealias NameFn = @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Int32
    private typealias MemFn = @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Int32
    private typealias VersionFn = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32

    /// Loads `libcuda.so.1` (or `MHS_CUDA_LIB`) and asks for every device.
    public static func probe() -> CUDAStatus {
        let name = getenv("MHS_CUDA_LIB").map { String(cString: $0) } ?? "libcuda.so.1"
        guard let lib = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            return CUDAStatus(driverVersion: nil, devices: [], unavailableReason: "\(name) not found: no NVIDIA driver in this container")
        }
        func sym<T>(_ s: String, _ t: T.Type) -> T? { dlsym(lib, s).map { unsafeBitCast($0, to: t) } }
        guard let cuInit = sym("cuInit", InitFn.self), let count = sym("cuDeviceGetCount", CountFn.self),
            let get = sym("cuDeviceGet", DeviceGetFn.self), let getName = sym("cuDeviceGetName", NameFn.self),
            let totalMem = sym("cuDeviceTotalMem_v2", MemFn.self), let version = sym("cuDriverGetVersion", VersionFn.self)
        else {
            return CUDAStatus(driverVersion: nil, devices: [], unavailableReason: "\(name) lacks the CUDA driver API")
        }
        var v: Int32 = 0
        let driver = version(&v) == 0 ? "\(v / 1000).\(v % 1000 / 10)" : nil
        let rc = cuInit(0)
        guard rc == 0 else {
            return CUDAStatus(driverVersion: driver, devices: [], unavailableReason: "cuInit failed with CUDA error \(rc)")
        }
        var n: Int32 = 0
        guard count(&n) == 0, n > 0 else {
            return CUDAStatus(driverVersion: driver, devices: [], unavailableReason: "the driver reports no device")
        }
        var devices: [CUDAStatus.Device] = []
        for i in 0..<n {
            var device: Int32 = 0
            guard get(&device, i) == 0 else { continue }
            var buffer = [CChar](repeating: 0, count: 256)
            _ = getName(&buffer, 256, device)
            var memory = 0
            _ = totalMem(&memory, device)
            devices.append(.init(index: Int(i), name: buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, totalMemory: memory))
        }
        return CUDAStatus(driverVersion: driver, devices: devices, unavailableReason: devices.isEmpty ? "no device answered" : nil)
    }
}

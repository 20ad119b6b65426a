import Foundation

/// What a container shows about the GPU it was — or was not — given: enough to say why CUDA
/// is not usable in the terms of `docker run`, the NVIDIA container toolkit and the host's
/// driver, the three places the cause lives.
public struct GPUSurroundings: Sendable, Equatable {
    /// Inside a container (`/.dockerenv` or `/run/.containerenv` exists).
    public var inContainer: Bool
    /// `/dev/nvidiactl` or `/dev/nvidia0` exists: a GPU's device nodes were passed in.
    public var hasDeviceNodes: Bool
    /// `NVIDIA_VISIBLE_DEVICES`, as given.
    public var visibleDevices: String?
    /// `MHS_CUDA_VERSION`: the CUDA version the image's user-space libraries are built for
    /// (the `gpu` image sets it), `major.minor`.
    public var requiredCUDA: String?

    public init(inContainer: Bool, hasDeviceNodes: Bool, visibleDevices: String? = nil, requiredCUDA: String? = nil) {
        self.inContainer = inContainer
        self.hasDeviceNodes = hasDeviceNodes
        self.visibleDevices = visibleDevices
        self.requiredCUDA = requiredCUDA
    }

    /// Looks at the file system and at `environment` (the task's variables).
    public static func observe(environment: [String: String]) -> GPUSurroundings {
        let exists = { (path: String) in FileManager.default.fileExists(atPath: path) }
        return GPUSurroundings(
            inContainer: exists("/.dockerenv") || exists("/run/.containerenv"),
            hasDeviceNodes: exists("/dev/nvidiactl") || exists("/dev/nvidia0"),
            visibleDevices: environment["NVIDIA_VISIBLE_DEVICES"], requiredCUDA: environment["MHS_CUDA_VERSION"])
    }
}

/// Why the GPU is not usable, and what to do, in a container's terms.
public enum GPUAdvice {
    /// The oldest NVIDIA driver branch each CUDA major version needs.
    static let minimumDriver = [13: 580, 12: 525, 11: 450]
    /// The CUDA versions the `gpu` image comes in.
    static let flavours = [12, 13]

    /// `libcuda.so.1` could not be loaded (`detail`: the loader's words).
    public static func driverLibraryMissing(_ s: GPUSurroundings, detail: String) -> String {
        if let hidden = hiddenByVisibleDevices(s) { return hidden }
        guard s.inContainer else { return "\(detail): no NVIDIA driver on this machine" }
        if s.hasDeviceNodes {
            return "\(detail): the GPU's device nodes are in this container but the driver library is not, so the NVIDIA container toolkit did not mount the host's driver; install nvidia-container-toolkit on the host (then restart Docker), or with Podman generate its CDI spec (nvidia-ctk cdi generate)"
        }
        return "\(detail): no GPU was given to this container; start it with --gpus all (Docker, with the NVIDIA container toolkit on the host) or --device nvidia.com/gpu=all (Podman, CDI)"
    }

    /// The driver loaded but `cuInit` or the device count failed with `code` (`detail`: its words).
    public static func driverRefused(_ s: GPUSurroundings, code: Int32?, detail: String) -> String {
        if let hidden = hiddenByVisibleDevices(s) { return hidden }
        switch code {
        case 100?:  // CUDA_ERROR_NO_DEVICE
            return s.inContainer
                ? "\(detail): the host's driver is here but sees no GPU: the container was started without --gpus all (or NVIDIA_VISIBLE_DEVICES names none)"
                : "\(detail): the driver sees no GPU on this machine"
        case 35?, 804?:  // CUDA_ERROR_INSUFFICIENT_DRIVER, CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE
            return "\(detail): the host's NVIDIA driver is too old for this image" + (s.requiredCUDA.map { " (it needs CUDA \($0): \(driverNeed($0)))" } ?? "")
        default:
            return detail
        }
    }

    /// The driver answered with CUDA `driver`; nil when that is enough for the image's
    /// libraries, else why not and what to do.
    public static func driverTooOld(_ s: GPUSurroundings, driver: String) -> String? {
        guard let required = s.requiredCUDA, let have = version(driver), let need = version(required), have < need else { return nil }
        let older = flavours.filter { $0 <= have.major && $0 < need.major }.max()
        return "the host's NVIDIA driver supports CUDA \(driver), but this image's CUDA libraries need CUDA \(required): update the host's driver (\(driverNeed(required)))"
            + (older.map { ", or run the image's CUDA \($0) flavour" } ?? "")
    }

    static func hiddenByVisibleDevices(_ s: GPUSurroundings) -> String? {
        guard let v = s.visibleDevices?.trimmingCharacters(in: .whitespaces).lowercased(), ["", "none", "void"].contains(v) else { return nil }
        return "NVIDIA_VISIBLE_DEVICES is '\(s.visibleDevices ?? "")', which hides every GPU from this container; set it to all (or remove it) and start the container with --gpus all"
    }

    static func driverNeed(_ cuda: String) -> String {
        guard let major = version(cuda)?.major, let driver = minimumDriver[major] else { return "a driver that supports it" }
        return "CUDA \(major) needs driver \(driver) or newer"
    }

    /// `13.0` → (13, 0).
    static func version(_ text: String) -> (major: Int, minor: Int)? {
        let parts = text.split(separator: ".").map { Int($0) }
        guard let major = parts.first ?? nil else { return nil }
        return (major, parts.count > 1 ? parts[1] ?? 0 : 0)
    }
}

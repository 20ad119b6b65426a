/// Where a model should run, as `MHS_INFERENCE_DEVICE` says.
public enum ComputeDevice: String, Sendable, CaseIterable {
    /// The GPU when CUDA and a CUDA-enabled runtime are present, else the CPU (and why).
    case auto
    /// The CPU, even with a GPU present.
    case cpu
    /// The GPU; no silent fallback: a missing GPU or provider is an error.
    case cuda
}

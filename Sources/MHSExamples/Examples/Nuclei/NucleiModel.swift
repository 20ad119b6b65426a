import Foundation
import MHS

/// The example nuclei detector (`Models/nuclei/nuclei.onnx`, built by
/// `Models/nuclei/make_model.py`): haematoxylin optical density by colour deconvolution,
/// a difference-of-Gaussians blob filter and 7×7 max-pool non-maximum suppression, as an
/// ONNX graph. Input `rgb`: float32 N×3×H×W, 0…255, at 1 µm/px. Outputs `response` (the
/// blob filter) and `peaks` (the response at local maxima above 0.02, 0 elsewhere).
public enum NucleiModel {
    /// The model's input and outputs.
    public static let input = "rgb"
    public static let peaks = "peaks"
    public static let response = "response"
    /// The candidate threshold built into the graph.
    public static let graphThreshold: Float = 0.02

    /// The model at `path` (a task's `MHS_NUCLEI_MODEL`) when given, else the copy
    /// embedded in the binary.
    public static func bytes(path: String? = nil) throws -> [UInt8] {
        if let path, !path.isEmpty {
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        return embeddedBytes
    }

    /// A session for the model (`model`, default the embedded one) on `device`.
    public static func session(
        model: [UInt8]? = nil, device: ComputeDevice = .auto, gpu: CUDAStatus? = nil, threads: Int? = nil
    ) throws -> InferenceSession {
        try InferenceSession(model: model ?? bytes(), device: device, threads: threads, gpu: gpu)
    }
}

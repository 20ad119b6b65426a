import MHS

/// The files of a lab's model image, as `mhs new NAME --model DIR` writes them: the model
/// directory itself, a two-line Dockerfile (`FROM` the mhs image, `COPY model /model`) and a
/// README. No Swift: `mhs run` in the mhs image runs `/model` when it holds a config.json.
struct ModelImage {
    var name: String
    /// The image the lab's image starts from (`mhs:gpu` for Techcyte's GPU hosts).
    var baseImage: String
    /// What the model directory says, for the README.
    var configuration: ModelConfiguration

    /// The default base image: the GPU flavour, which also runs on the CPU.
    static let defaultBaseImage = "mhs:gpu"

    var dockerfile: String {
        """
        FROM \(baseImage)
        COPY model /model

        """
    }

    var readme: String {
        let c = configuration
        let p = c.posting
        return """
            # \(name)

            A Techcyte Model Hosting Service image of one model directory, with no code: \
            `model/config.json` (WSInfer's model format, with an optional `mhs` object saying what \
            to post) beside `model/model.onnx`. The image is the mhs image plus the model; its \
            entrypoint, `mhs run`, runs `/model`.

            The model: \(c.architecture), classes \(c.classNames.joined(separator: ", ")), \(c.patchSizePixels) px \
            patches at \(c.spacingMicronsPerPixel) µm/px, \(c.activation.rawValue). It posts \
            \(p.regions.isEmpty ? "no regions" : "regions of \(p.regions.joined(separator: ", ")) (probability ≥ \(p.threshold))"), \
            \(p.heatmap.map { "a heatmap of \($0)" } ?? "no heatmap") and a \(p.report.rawValue) report as \
            "\(p.modelName)"; beside `results.json` it writes `model-outputs.csv` (WSInfer's columns) \
            and `model-outputs.geojson` (QuPath tiles).

            ## Check, build, run

            ```sh
            mhs model check model                       # config, shapes, one timed batch, the cost per cm²
            mhs demo --model model --slide SLIDE.svs    # a whole task against the embedded emulator
            podman build -t \(name) .                     # or docker build; needs the \(baseImage) image
            ```

            Against the local Techcyte, as the platform would start it: `mhs emulator --tls --slide \
            SLIDE.svs` prints each task's variables and the `podman run` (and `docker run`) line that \
            starts a container on it; run that line with `\(name)` as the image.

            The exit status says what happened (0 posted, 2 a bad model directory or setting — \
            before anything is downloaded — 3 download, 4 slide, 5 model failed, 6 invalid results, \
            7 posting). `MHS_MODEL_BATCH` sets the patches per model call (default 8 on the CPU, 32 on a GPU), \
            `MHS_INFERENCE_DEVICE` auto, cpu or cuda.

            ## Deploy

            Push the image to the registry Techcyte gives you and register it as an AI model:

            ```sh
            podman tag \(name) REGISTRY/\(name):1 && podman push REGISTRY/\(name):1
            ```

            """
    }
}

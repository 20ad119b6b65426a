#!/usr/bin/env python3
"""Builds the example nuclei detector as an ONNX graph, its NumPy reference and the test fixture.

The detector is classical image processing written as a graph, so that it runs wherever
ONNX Runtime runs (CPU, or CUDA through onnxruntime-gpu) with no trained weights:

  rgb (N,3,H,W, 0..255)
    -> optical density        OD = -log10((rgb + 1) / 256)
    -> haematoxylin           1x1 convolution with the H row of the inverse of
                              Ruifrok & Johnston's normalised H&E(+DAB) stain matrix, ReLU
    -> blob filter            difference of Gaussians, sigma 2.0 and 3.2 px (separable
                              1x21 and 21x1 convolutions, zero padding): "response"
    -> non-maximum suppression 7x7 max-pool; a pixel is a nucleus candidate when it equals
                              its neighbourhood maximum and exceeds 0.02: "peaks" holds the
                              response there and 0 elsewhere

The scales suit nuclei 6-10 µm across at 1 µm/px (the classifier reads patches there).

Writes, next to this file:
  nuclei.onnx                 the model (opset 17), a few kB
  fixture-patch.rgb           a 128x128 RGB patch of CMU-1-Small-Region.svs (level 0, x=1000,
                              y=1200), interleaved uint8
  fixture-response.f32        the NumPy reference "response" for it (float32 little-endian, HxW)
  fixture-peaks.f32           the NumPy reference "peaks" for it
  fixture.json                where the patch came from and the shapes
  ../../Sources/Classifiers/Examples/Nuclei/NucleiModelBytes.swift   the model's bytes, so the
                              `mhs` binary needs no file beside it (a test checks they match)

Needs: numpy, onnx; openslide-python + openslide-bin to cut the fixture (a previous
fixture-patch.rgb is reused when openslide is missing); onnxruntime, if installed, is used to
check the graph against the NumPy reference before anything is written.

  python3 Models/nuclei/make_model.py [--slide ../shared/testdata/slides/CMU-1-Small-Region.svs]
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

SIGMA_SMALL = 2.0
SIGMA_LARGE = 3.2
RADIUS = int(math.ceil(3 * SIGMA_LARGE))  # 10: kernels are 21 taps
NMS_WINDOW = 7
THRESHOLD = 0.02
FIXTURE = {"x": 1000, "y": 1200, "size": 128, "level": 0}


def haematoxylin_row():
    """First column of M^-1, where M's rows are the unit H, E and DAB stain vectors."""
    def unit(v):
        v = np.asarray(v, dtype=np.float64)
        return v / np.linalg.norm(v)
    m = np.stack([unit((0.65, 0.70, 0.29)), unit((0.07, 0.99, 0.11)), unit((0.27, 0.57, 0.78))])
    return np.linalg.inv(m)[:, 0]


def gaussian(sigma):
    x = np.arange(-RADIUS, RADIUS + 1, dtype=np.float64)
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def build_model():
    h = haematoxylin_row().astype(np.float32)
    g = np.stack([gaussian(SIGMA_SMALL), gaussian(SIGMA_LARGE)]).astype(np.float32)  # (2, K)
    k = 2 * RADIUS + 1
    inits = [
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array(1 / 256, np.float32), "inv256"),
        numpy_helper.from_array(np.array(-1 / math.log(10), np.float32), "neg_inv_ln10"),
        numpy_helper.from_array(h.reshape(1, 3, 1, 1), "w_haematoxylin"),
        numpy_helper.from_array(g.reshape(2, 1, 1, k), "w_gauss_rows"),
        numpy_helper.from_array(g.reshape(2, 1, k, 1), "w_gauss_cols"),
        numpy_helper.from_array(np.array([1, -1], np.float32).reshape(1, 2, 1, 1), "w_difference"),
        numpy_helper.from_array(np.array(THRESHOLD, np.float32), "threshold"),
    ]
    m = NMS_WINDOW // 2
    nodes = [
        helper.make_node("Add", ["rgb", "one"], ["rgb1"]),
        helper.make_node("Mul", ["rgb1", "inv256"], ["transmission"]),
        helper.make_node("Log", ["transmission"], ["ln_t"]),
        helper.make_node("Mul", ["ln_t", "neg_inv_ln10"], ["od"]),
        helper.make_node("Conv", ["od", "w_haematoxylin"], ["h_raw"]),
        helper.make_node("Relu", ["h_raw"], ["haematoxylin"]),
        helper.make_node("Conv", ["haematoxylin", "w_gauss_rows"], ["blur_rows"], pads=[0, RADIUS, 0, RADIUS]),
        helper.make_node("Conv", ["blur_rows", "w_gauss_cols"], ["blur"], pads=[RADIUS, 0, RADIUS, 0], group=2),
        helper.make_node("Conv", ["blur", "w_difference"], ["response"]),
        helper.make_node("MaxPool", ["response"], ["neighbourhood_max"], kernel_shape=[NMS_WINDOW, NMS_WINDOW],
                         pads=[m, m, m, m], strides=[1, 1]),
        helper.make_node("Equal", ["response", "neighbourhood_max"], ["is_max"]),
        helper.make_node("Greater", ["response", "threshold"], ["is_strong"]),
        helper.make_node("And", ["is_max", "is_strong"], ["is_peak"]),
        helper.make_node("Cast", ["is_peak"], ["peak_mask"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["response", "peak_mask"], ["peaks"]),
    ]
    dims = ["batch", 3, "height", "width"]
    graph = helper.make_graph(
        nodes, "mhs_nuclei_dog",
        [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("response", TensorProto.FLOAT, ["batch", 1, "height", "width"]),
         helper.make_tensor_value_info("peaks", TensorProto.FLOAT, ["batch", 1, "height", "width"])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mhs make_model.py")
    model.ir_version = 8
    model.doc_string = (f"Nuclei candidates: haematoxylin OD, DoG sigma {SIGMA_SMALL}/{SIGMA_LARGE} px, "
                        f"{NMS_WINDOW}x{NMS_WINDOW} NMS, threshold {THRESHOLD}. Input 0..255 RGB, NCHW, 1 µm/px.")
    onnx.checker.check_model(model)
    return model


def reference(rgb):
    """The same computation in float64 NumPy. rgb: (3, H, W) float."""
    od = -np.log10((rgb.astype(np.float64) + 1) / 256)
    h = np.maximum(np.tensordot(haematoxylin_row(), od, axes=1), 0)
    height, width = h.shape

    def blur(img, g):
        padded = np.pad(img, ((0, 0), (RADIUS, RADIUS)))
        rows = sum(g[i] * padded[:, i:i + width] for i in range(len(g)))
        padded = np.pad(rows, ((RADIUS, RADIUS), (0, 0)))
        return sum(g[i] * padded[i:i + height, :] for i in range(len(g)))

    response = blur(h, gaussian(SIGMA_SMALL)) - blur(h, gaussian(SIGMA_LARGE))
    m = NMS_WINDOW // 2
    padded = np.pad(response, m, constant_values=-np.inf)
    neighbourhood = np.max(np.stack([padded[dy:dy + height, dx:dx + width]
                                     for dy in range(NMS_WINDOW) for dx in range(NMS_WINDOW)]), axis=0)
    peaks = np.where((response >= neighbourhood) & (response > THRESHOLD), response, 0)
    return response, peaks


def fixture_patch(slide_path):
    path = os.path.join(HERE, "fixture-patch.rgb")
    s = FIXTURE["size"]
    try:
        import openslide
        slide = openslide.OpenSlide(slide_path)
        region = slide.read_region((FIXTURE["x"], FIXTURE["y"]), FIXTURE["level"], (s, s)).convert("RGB")
        data = np.asarray(region, dtype=np.uint8)
    except ImportError:
        print("openslide-python is missing: reusing", path, file=sys.stderr)
        data = np.fromfile(path, dtype=np.uint8).reshape(s, s, 3)
    return data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--slide", default=os.path.join(ROOT, "..", "shared", "testdata", "slides", "CMU-1-Small-Region.svs"))
    args = parser.parse_args()

    model = build_model()
    patch = fixture_patch(args.slide)
    rgb = patch.transpose(2, 0, 1).astype(np.float32)
    response, peaks = reference(rgb)

    try:
        import onnxruntime as ort
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        got_response, got_peaks = session.run(["response", "peaks"], {"rgb": rgb[None]})
        diff = float(np.max(np.abs(got_response[0, 0] - response)))
        same_peaks = np.array_equal(got_peaks[0, 0] > 0, peaks > 0)
        print(f"onnxruntime {ort.__version__}: max |response - numpy| = {diff:.2e}; peak sets equal: {same_peaks}")
        if diff > 1e-5 or not same_peaks:
            sys.exit("the graph and the NumPy reference disagree")
    except ImportError:
        print("onnxruntime is missing: the graph was not checked against NumPy", file=sys.stderr)

    raw = model.SerializeToString()
    with open(os.path.join(HERE, "nuclei.onnx"), "wb") as f:
        f.write(raw)
    patch.tofile(os.path.join(HERE, "fixture-patch.rgb"))
    response.astype("<f4").tofile(os.path.join(HERE, "fixture-response.f32"))
    peaks.astype("<f4").tofile(os.path.join(HERE, "fixture-peaks.f32"))
    with open(os.path.join(HERE, "fixture.json"), "w") as f:
        json.dump({"slide": "CMU-1-Small-Region.svs", **FIXTURE, "peaks": int((peaks > 0).sum()),
                   "threshold": THRESHOLD, "sigmas": [SIGMA_SMALL, SIGMA_LARGE], "nms_window": NMS_WINDOW}, f, indent=2)
        f.write("\n")

    swift = os.path.join(ROOT, "Sources", "Classifiers", "Examples", "Nuclei", "NucleiModelBytes.swift")
    lines = [", ".join(f"0x{b:02x}" for b in raw[i:i + 20]) for i in range(0, len(raw), 20)]
    with open(swift, "w") as f:
        f.write("// Generated by Models/nuclei/make_model.py from Models/nuclei/nuclei.onnx: do not edit.\n\n")
        f.write("extension NucleiModel {\n")
        f.write(f"    /// The bytes of `Models/nuclei/nuclei.onnx` ({len(raw)} bytes).\n")
        f.write("    static let embeddedBytes: [UInt8] = [\n")
        for line in lines:
            f.write(f"        {line},\n")
        f.write("    ]\n}\n")
    print(f"wrote nuclei.onnx ({len(raw)} bytes), the fixture ({int((peaks > 0).sum())} peaks) and {os.path.relpath(swift, ROOT)}")


if __name__ == "__main__":
    main()

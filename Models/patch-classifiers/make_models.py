#!/usr/bin/env python3
"""Builds the small patch classifiers the model-directory tests run, and their references.

Each model is a WSInfer-style model directory (config.json beside model.onnx) whose answers
are known: the graph measures colour, so glass scores as background and stained tissue as
tissue, and a NumPy/onnxruntime reference says exactly what every patch must score.

  input  (N, 3, S, S) float32, after the config's transform (Resize, ToTensor, Normalize)
    -> Conv 3x3 (4 fixed filters, padding 1; one is lopsided, so a patch given transposed or
       with its channels swapped scores differently)
    -> Relu -> GlobalAveragePool -> Flatten -> Gemm (fixed weights)  -> "logits" (N, classes)

Models written (each in a folder of its own, opset 17, a few hundred bytes):
  tissue-binary    2 classes (background, tissue), softmax, 128 px at 0.5 µm/px -> Resize 64,
                   with an `mhs` object naming the model and the provider
  tissue-sigmoid   1 class (tissue), sigmoid, 64 px at 0.5 µm/px (no Resize)
  stain-three      3 classes (glass, eosin, haematoxylin), softmax, 64 px at 1.0 µm/px -> Resize 32
                   (a 4:1 reduction on a 0.5 µm/px slide)

PIL's resize of two real patches (reference/pil-resize-X-Y-FROM-TO.rgb, interleaved RGB bytes),
for the test that mhs's resampling gives the same bytes.

References (reference/<model>.<slide>.csv, WSInfer's columns minx,miny,width,height,prob_<class>):
every whole patch of the model's level-0 grid on the slide, read by openslide-python at level 0,
transformed as WSInfer does (converted to RGB, resized by PIL's bilinear filter — what
torchvision's Resize calls on a PIL image — scaled to [0, 1], normalised) and run through
onnxruntime-python.

Needs numpy, onnx, onnxruntime, Pillow, openslide-python and openslide-bin.

  python3 Models/patch-classifiers/make_models.py [--slides ../shared/testdata/slides]
"""
import argparse
import csv
import glob
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

MEAN = [0.5, 0.5, 0.5]
STD = [0.25, 0.25, 0.25]


def conv_filters():
    """Four 3x3 filters over normalised R, G, B (out, in, 3, 3)."""
    w = np.zeros((4, 3, 3, 3), np.float32)
    box = np.full((3, 3), 1 / 9, np.float32)
    w[0, 2] += box  # blue minus green: haematoxylin (purple) is blue-heavy, glass is grey
    w[0, 1] -= box
    w[1, 0] += box  # red minus green: eosin (pink) and haematoxylin both lack green
    w[1, 1] -= box
    w[2, 0, 1, 1] = 1.0  # red here minus red to the right: an edge, lopsided on purpose
    w[2, 0, 1, 2] = -1.0
    w[3, 1, 0, 0] = 1.0  # green at the top-left neighbour: bright for glass
    return w


BIAS = np.array([0, 0, 0, 0], np.float32)

MODELS = {
    "tissue-binary": {
        "classes": ["background", "tissue"],
        "patch": 128, "spacing": 0.5, "resize": 64,
        # logits: background 0; tissue from colour, less for brightness
        "gemm": [[0, 0, 0, 0], [6, 6, 2, -0.5]], "gemm_bias": [0, -0.5],
        "mhs": {"model_name": "mhs test tissue detector (binary)", "provider": "mhs tests", "threshold": 0.5},
    },
    "tissue-sigmoid": {
        "classes": ["tissue"],
        "patch": 64, "spacing": 0.5, "resize": None,
        "gemm": [[6, 6, 2, -0.5]], "gemm_bias": [-0.5],
        "mhs": None,
    },
    "stain-three": {
        "classes": ["glass", "eosin", "haematoxylin"],
        "patch": 64, "spacing": 1.0, "resize": 32,
        "gemm": [[0, 0, 0, 1.5], [-4, 6, 1, 0], [6, 2, 1, 0]], "gemm_bias": [0, 0, 0],
        "mhs": {"regions": ["eosin", "haematoxylin"], "heatmap": "haematoxylin"},
    },
}


def build(name, spec):
    size = spec["resize"] or spec["patch"]
    classes = len(spec["classes"])
    inits = [
        numpy_helper.from_array(conv_filters(), "conv_w"),
        numpy_helper.from_array(BIAS, "conv_b"),
        numpy_helper.from_array(np.array(spec["gemm"], np.float32), "gemm_w"),
        numpy_helper.from_array(np.array(spec["gemm_bias"], np.float32), "gemm_b"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv_w", "conv_b"], ["features"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["features"], ["positive"]),
        helper.make_node("GlobalAveragePool", ["positive"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "gemm_w", "gemm_b"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mhs make_models.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def config(spec):
    transform = []
    if spec["resize"]:
        transform.append({"name": "Resize", "arguments": {"size": spec["resize"]}})
    transform += [{"name": "ToTensor"}, {"name": "Normalize", "arguments": {"mean": MEAN, "std": STD}}]
    c = {
        "spec_version": "1.0", "architecture": "mhs-colour-net", "num_classes": len(spec["classes"]),
        "class_names": spec["classes"], "patch_size_pixels": spec["patch"], "spacing_um_px": spec["spacing"],
        "transform": transform,
    }
    if spec["mhs"]:
        c["mhs"] = spec["mhs"]
    return c


def prepare(image, spec):
    """A PIL RGB patch -> 3xSxS float32, as WSInfer's torchvision transform does it: Resize
    (PIL's bilinear resampling, what torchvision calls on a PIL image), ToTensor, Normalize."""
    if spec["resize"] and spec["resize"] != image.width:
        image = image.resize((spec["resize"], spec["resize"]), Image.BILINEAR)
    x = np.asarray(image, dtype=np.float64) / 255.0
    x = (x - np.array(MEAN)) / np.array(STD)
    return x.transpose(2, 0, 1).astype(np.float32)


def activate(logits):
    if logits.shape[1] == 1:
        return 1 / (1 + np.exp(-logits.astype(np.float64)))
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def reference(name, spec, session, slide_path, out_path):
    import openslide

    slide = openslide.OpenSlide(slide_path)
    mpp = float(slide.properties["openslide.mpp-x"])
    side = max(1, round(spec["patch"] * spec["spacing"] / mpp))
    width, height = slide.dimensions
    rows = []
    coords = [(x, y) for y in range(0, height - side + 1, side) for x in range(0, width - side + 1, side)]
    for start in range(0, len(coords), 64):
        chunk = coords[start:start + 64]
        batch = []
        for x, y in chunk:
            batch.append(prepare(slide.read_region((x, y), 0, (side, side)).convert("RGB"), spec))
        logits = session.run(["logits"], {"input": np.stack(batch)})[0]
        for (x, y), p in zip(chunk, activate(logits)):
            rows.append([x, y, side, side] + [f"{v:.9f}" for v in p])
    with open(out_path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["minx", "miny", "width", "height"] + [f"prob_{c}" for c in spec["classes"]])
        w.writerows(rows)
    return len(rows)


# PIL's resize of real patches, byte for byte, for the test of mhs's resampling: (x, y, from, to).
RESIZE_FIXTURES = [(1024, 1024, 128, 64), (640, 1280, 250, 97)]


def resize_fixtures(slide_path):
    import openslide

    slide = openslide.OpenSlide(slide_path)
    for x, y, side, target in RESIZE_FIXTURES:
        patch = slide.read_region((x, y), 0, (side, side)).convert("RGB")
        with open(os.path.join(HERE, "reference", f"pil-resize-{x}-{y}-{side}-{target}.rgb"), "wb") as f:
            f.write(patch.resize((target, target), Image.BILINEAR).tobytes())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--slides", default=os.path.join(ROOT, "..", "shared", "testdata", "slides"))
    args = parser.parse_args()
    import onnxruntime

    slides = {
        "CMU-1-Small-Region": os.path.join(args.slides, "CMU-1-Small-Region.svs"),
        # The DICOM series as its files (mhs reads the same files from the zip). This series, not
        # dicom-cmu-1-small-region: there every frame says RGB but holds YCbCr, and OpenSlide (so
        # openslide-python) skips the colour transform where mhs's frame decoder follows the
        # frame's JFIF marker, so the two readers' pixels differ by design (the slides' README).
        "dicom-cmu-1-small-region-wsidicomizer": sorted(glob.glob(os.path.join(args.slides, "dicom-cmu-1-small-region-wsidicomizer", "*.dcm")))[0],
    }
    os.makedirs(os.path.join(HERE, "reference"), exist_ok=True)
    resize_fixtures(slides["CMU-1-Small-Region"])
    for name, spec in MODELS.items():
        folder = os.path.join(HERE, name)
        os.makedirs(folder, exist_ok=True)
        model = build(name, spec)
        onnx.save(model, os.path.join(folder, "model.onnx"))
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config(spec), f, indent=2)
            f.write("\n")
        session = onnxruntime.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
        for slide_name, path in slides.items():
            n = reference(name, spec, session, path, os.path.join(HERE, "reference", f"{name}.{slide_name}.csv"))
            print(f"{name}: {n} reference patches on {slide_name}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Builds the ResNet-18 model directory Benchmarks/models.sh runs in mhs and in WSInfer.

A ResNet-18-shaped patch classifier (torchvision resnet18(weights=None), 2 classes, weights
drawn from --seed) is exported from the same weights twice:

  OUTDIR/model.onnx   for mhs: input "input" [batch, 3, 224, 224], output "logits" [batch, 2],
                      a dynamic batch axis, opset 17
  OUTDIR/model.pt     for WSInfer: TorchScript (torch.jit.script), what `wsinfer run
                      --model-path` loads with torch.jit.load
  OUTDIR/config.json  WSInfer's model config: 350 px at 0.25 µm/px, Resize 224, ToTensor,
                      Normalize (WSInfer's breast-tumour ResNet-34's statistics)

so OUTDIR is an mhs model directory (config.json beside model.onnx) with WSInfer's TorchScript
file beside them. The script checks that eager PyTorch, the TorchScript file and ONNX Runtime
agree on a random batch and prints the largest differences.

The weights. Random weights are enough to measure speed, but a comparison of probabilities
needs probabilities that vary from patch to patch. torchvision's own initialisation (Kaiming
convolutions, BatchNorm at its defaults: eval mode is then the identity) already varies with
the tissue: over the 350 px tissue patches of CMU-1-Small-Region (the tissue the benchmark
slide is tiled from) prob_tumor has a std of about 0.05 for seed 0, but all of it between 0.01
and 0.17 (the random final layer favours one class). So the script moves only the final
layer's tumour bias by minus the median logit difference over those patches (--centre-on, read
with openslide-python, resized by WSInfer's own transform): half the tissue scores tumour (on
the 20k benchmark slide: mhs's 919 tissue patches score 0.17 to 0.84, mean 0.48, std 0.15),
where a softmax is most sensitive to its inputs, and mhs's regions (tumour above 0.5) are not
empty. Even so, PIL's rounding of the resized patch to bytes (which WSInfer does and mhs does
not) moves this model's probabilities by up to 1.7e-3 (mean 3e-4) on that slide.

The backbone is left as initialised: recalibrating its BatchNorm statistics on tissue (AdaBN
style) was tried and makes the random network about ten times more sensitive to the last bit of
its input (on CMU-1-Small-Region's 48 patches PIL's rounding then moves the probabilities by
3.4e-3, against 3.5e-4 as initialised), which would swamp the mhs/WSInfer comparison.
--no-centre keeps torchvision's bias too.

Needs torch, torchvision, onnx, onnxruntime (and openslide-python for --centre-on): the
WSInfer virtual environment models.sh makes has them all.

    python make_resnet18.py OUTDIR [--seed 0] [--centre-on SLIDE | --no-centre]
"""
import argparse
import json
import os
import warnings

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SLIDE = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "testdata", "slides", "CMU-1-Small-Region.svs"))

CONFIG = {
    "spec_version": "1.0",
    "architecture": "resnet18",
    "num_classes": 2,
    "class_names": ["notumor", "tumor"],
    "patch_size_pixels": 350,
    "spacing_um_px": 0.25,
    "transform": [
        {"name": "Resize", "arguments": {"size": 224}},
        {"name": "ToTensor"},
        {"name": "Normalize", "arguments": {"mean": [0.7238, 0.5716, 0.6779], "std": [0.112, 0.1459, 0.1089]}},
    ],
}


def wsinfer_transform():
    """The config's transform as WSInfer builds it (torchvision on PIL images)."""
    from torchvision import transforms
    names = {"Resize": transforms.Resize, "ToTensor": transforms.ToTensor, "Normalize": transforms.Normalize}
    return transforms.Compose([names[t["name"]](**t.get("arguments", {})) for t in CONFIG["transform"]])


def tissue_patches(slide_path):
    """The slide's level-0 350 px patches (side by side from 0,0) that are mostly not glass, transformed."""
    import openslide
    slide = openslide.OpenSlide(slide_path)
    side = CONFIG["patch_size_pixels"]
    transform = wsinfer_transform()
    width, height = slide.dimensions
    batch = []
    for y in range(0, height - side + 1, side):
        for x in range(0, width - side + 1, side):
            image = slide.read_region((x, y), 0, (side, side)).convert("RGB")
            grey = np.asarray(image, np.float32).mean(axis=2)
            if (grey < 215).mean() >= 0.5:  # glass is about 240 here
                batch.append(transform(image))
    slide.close()
    if not batch:
        raise SystemExit(f"{slide_path}: no tissue patches to centre the model on")
    return torch.stack(batch)


def build(seed, centre_on):
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(weights=None, num_classes=CONFIG["num_classes"]).eval()
    if centre_on:
        patches = tissue_patches(centre_on)
        with torch.no_grad():
            logits = model(patches)
            difference = logits[:, 1] - logits[:, 0]
            shift = -difference.median().item()
            model.fc.bias[1] += shift
            p = torch.softmax(model(patches), dim=1)[:, 1]
        print(f"centred on {len(patches)} tissue patches of {os.path.basename(centre_on)}: tumour bias {shift:+.4f}; "
              f"prob_tumor there mean {p.mean():.3f} std {p.std():.3f} range {p.min():.3f}..{p.max():.3f}")
    return model


def export(model, out):
    import onnx
    import onnxruntime
    os.makedirs(out, exist_ok=True)
    side = 224
    example = torch.rand(2, 3, side, side)
    scripted = torch.jit.script(model)
    scripted.save(os.path.join(out, "model.pt"))
    onnx_path = os.path.join(out, "model.onnx")
    # The TorchScript-based exporter (dynamo=False): torch.export's needs onnxscript, and this
    # small static graph is what the classic exporter was made for.
    torch.onnx.export(model, (example,), onnx_path, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
                      do_constant_folding=True, dynamo=False)
    onnx.checker.check_model(onnx.load(onnx_path))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")

    # The three agree? A batch of a size the export did not see, in the normalised range.
    generator = torch.Generator().manual_seed(1234)
    x = torch.randn(5, 3, side, side, generator=generator)
    with torch.no_grad():
        eager = model(x).numpy()
        loaded = torch.jit.load(os.path.join(out, "model.pt"), map_location="cpu").eval()
        script = loaded(x).numpy()
    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    (ort,) = session.run(["logits"], {"input": x.numpy()})

    def softmax(a):
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    print(f"{out}: model.onnx {os.path.getsize(onnx_path) / 1e6:.1f} MB, model.pt "
          f"{os.path.getsize(os.path.join(out, 'model.pt')) / 1e6:.1f} MB, config.json")
    print(f"max abs diff on a random batch of 5: logits torchscript-eager {np.abs(script - eager).max():.2e}, "
          f"onnx-torchscript {np.abs(ort - script).max():.2e}; "
          f"probabilities onnx-torchscript {np.abs(softmax(ort) - softmax(script)).max():.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="the model directory to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--centre-on", default=DEFAULT_SLIDE, help="slide whose tissue centres the tumour bias")
    parser.add_argument("--no-centre", action="store_true", help="keep torchvision's initial bias")
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    # torch.jit and the TorchScript exporter are deprecated in torch 2.9+, but they are what
    # WSInfer 0.6 loads and what needs no onnxscript: quiet their warnings.
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    model = build(args.seed, None if args.no_centre else args.centre_on)
    export(model, args.out)


if __name__ == "__main__":
    main()

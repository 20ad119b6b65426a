#!/usr/bin/env python3
"""The Python half of Benchmarks/models.sh: timing a command, and comparing mhs with WSInfer.

  models_compare.py measure OUT.json -- COMMAND [ARGS ...]
      Runs COMMAND under /usr/bin/time -v and writes OUT.json: wall, user and system seconds,
      exit status, GNU time's "Maximum resident set size" (the largest single process: Linux's
      wait4 reports the larger of the process's own peak and that of the largest child it
      waited for, not a sum, so a DataLoader's workers are not added in), and, sampled from
      /proc every 0.25 s, the peak over time of the whole process tree's RSS summed and its PSS
      summed (PSS shares each copy-on-write page among the processes mapping it, so forked
      workers are not counted twice); plus /proc/loadavg before and after (the machine's other
      load).

  models_compare.py compare --slide SLIDE --model DIR [--mhs RUN] [--wsinfer LABEL=RUN ...]
      RUN folders: mhs's holds `mhs demo --output`'s files (model-outputs.csv, run-report.json)
      and measure.json; each WSInfer one holds results/ (wsinfer run --results-dir), log.txt
      (its output, for tqdm's inference time) and measure.json. Prints a table and a final line
      of key=value pairs:
        * patches each scored, and those both scored (same minx, miny): the two choose patches
          differently (mhs: whole level-0 patches at least half on its tissue mask; WSInfer: its
          own segmentation, patch centre inside tissue), so probabilities are compared where
          both scored
        * the largest and mean absolute difference of the probabilities there
        * patches/s: patches ÷ the inference stage's wall (mhs: run-report.json's pipeline,
          reading overlapped; WSInfer: tqdm's time for its DataLoader loop, reading included)
          and end to end (patches ÷ the whole command's wall); peak memory; mhs ÷ WSInfer
        * ONNX Runtime from Python alone: the common patches read with openslide-python,
          prepared as WSInfer prepares them (PIL's bilinear Resize to bytes, ToTensor,
          Normalize) and held in memory, then only model.onnx's batches timed (after a warm-up
          batch) on every core: the compute limit of this model on this machine
        * where the differences come from: ONNX Runtime on WSInfer's inputs against WSInfer
          (PyTorch against ONNX Runtime), ONNX Runtime on mhs-style inputs (the same antialiased
          triangle filter computed in float, no rounding to bytes) against mhs (decoding and
          arithmetic), and the two kinds of input against each other (PIL's rounding to bytes)

Needs numpy, pandas, Pillow, onnxruntime and openslide-python (the WSInfer virtual environment
has them); `measure` needs only the standard library and /usr/bin/time.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1024 * 1024


# --- measure ---------------------------------------------------------------------------------

def _children_map():
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(name))
    return children


def _tree(root):
    children, found, todo = _children_map(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _memory_kib(pid):
    """(RSS, PSS) of one process in KiB, from smaps_rollup; (0, 0) once it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _loadavg():
    with open("/proc/loadavg") as f:
        return [float(v) for v in f.read().split()[:3]]


def _parse_gnu_time(text):
    fields = {}
    for line in text.splitlines():
        key, _, value = line.strip().rpartition(": ")
        if key:
            fields[key] = value
    wall = fields.get("Elapsed (wall clock) time (h:mm:ss or m:ss)", "0:0")
    seconds = 0.0
    for part in wall.split(":"):
        seconds = seconds * 60 + float(part)
    return {
        "wall_s": seconds,
        "user_s": float(fields.get("User time (seconds)", 0)),
        "system_s": float(fields.get("System time (seconds)", 0)),
        "cpu_percent": float(fields.get("Percent of CPU this job got", "0%").rstrip("%") or 0),
        "max_rss_mib": int(fields.get("Maximum resident set size (kbytes)", 0)) / 1024,
        "exit_status": int(fields.get("Exit status", -1)),
    }


def measure(out_path, command):
    time_path = out_path + ".time"
    load_before = _loadavg()
    start = time.monotonic()
    process = subprocess.Popen(["/usr/bin/time", "-v", "-o", time_path] + command)
    peak = {"rss": 0, "pss": 0, "processes": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            pids = _tree(process.pid)
            rss = pss = 0
            for pid in pids:
                r, p = _memory_kib(pid)
                rss, pss = rss + r, pss + p
            peak["rss"], peak["pss"] = max(peak["rss"], rss), max(peak["pss"], pss)
            peak["processes"] = max(peak["processes"], len(pids))
            done.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status = process.wait()
    wall = time.monotonic() - start
    done.set()
    sampler.join()
    with open(time_path) as f:
        result = _parse_gnu_time(f.read())
    result.update({
        "command": command, "popen_wall_s": round(wall, 3),
        # The tree includes /usr/bin/time itself (about 2 MiB).
        "tree_peak_rss_mib": round(peak["rss"] / 1024, 1), "tree_peak_pss_mib": round(peak["pss"] / 1024, 1),
        "tree_max_processes": peak["processes"] - 1,
        "loadavg_before": load_before, "loadavg_after": _loadavg(),
    })
    with open(out_path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    return status


# --- compare ---------------------------------------------------------------------------------

def _load_measure(run):
    path = os.path.join(run, "measure.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _tqdm_seconds(log_path, expected_total):
    """The elapsed time tqdm printed last for a finished bar of `expected_total` steps."""
    with open(log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    best = None
    for m in re.finditer(r"(\d+)/(\d+) \[(?:(\d+):)?(\d+):(\d+)<", text):
        done, total = int(m.group(1)), int(m.group(2))
        if done == total == expected_total:
            best = int(m.group(3) or 0) * 3600 + int(m.group(4)) * 60 + int(m.group(5))
    return best


def _batch_size(log_path):
    with open(log_path, "rb") as f:
        m = re.search(rb"^batch_size = (\d+)", f.read(), re.M)
    return int(m.group(1)) if m else 32


def _prob_columns(frame):
    return [c for c in frame.columns if c.startswith("prob_")]


def _read_patches(slide_path, coords, side):
    import openslide
    slide = openslide.OpenSlide(slide_path)
    for x, y in coords:
        yield slide.read_region((int(x), int(y)), 0, (side, side)).convert("RGB")
    slide.close()


def _softmax(logits):
    import numpy as np
    if logits.shape[1] == 1:
        return 1 / (1 + np.exp(-logits.astype(np.float64)))
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def onnxruntime_alone(slide, model_dir, coords, side, batch):
    """Probabilities and patches/s of ONNX Runtime alone, on WSInfer's inputs preloaded: the
    patches read by openslide-python, resized by PIL (torchvision's Resize on a PIL image),
    ToTensor, Normalize in float32 — which mhs's transform reproduces byte for byte."""
    import numpy as np
    import onnxruntime
    from PIL import Image

    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    resize, mean, std = None, None, None
    for t in config["transform"]:
        if t["name"] == "Resize":
            resize = t["arguments"]["size"]
        elif t["name"] == "Normalize":
            mean = np.array(t["arguments"]["mean"], np.float32)
            std = np.array(t["arguments"]["std"], np.float32)
    target = resize or side
    inputs = np.empty((len(coords), 3, target, target), np.float32)
    for i, image in enumerate(_read_patches(slide, coords, side)):
        small = image.resize((target, target), Image.BILINEAR) if target != side else image
        a = np.asarray(small, np.float32) / np.float32(255)
        inputs[i] = ((a - mean) / std).transpose(2, 0, 1)

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = onnxruntime.InferenceSession(os.path.join(model_dir, "model.onnx"), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    session.run(None, {name: inputs[:batch]})  # warm-up
    start = time.perf_counter()
    outputs = [session.run(None, {name: inputs[i:i + batch]})[0] for i in range(0, len(inputs), batch)]
    seconds = time.perf_counter() - start
    return _softmax(np.concatenate(outputs)), seconds


def _ratio(a, b):
    return a / b if a and b else None


def compare(args):
    import numpy as np
    import pandas as pd

    slide_stem = os.path.splitext(os.path.basename(args.slide))[0]
    rows, keys = [], {}

    def fmt(v, spec):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            width = re.match(r"\d*", spec).group(0)
            return "-".rjust(int(width) if width else 1)
        return format(v, spec)

    # mhs (optional: without it, WSInfer and the limit alone)
    mhs = None
    if args.mhs:
        frame = pd.read_csv(os.path.join(args.mhs, "model-outputs.csv"))
        with open(os.path.join(args.mhs, "run-report.json")) as f:
            pipeline = json.load(f)["pipeline"]
        m = _load_measure(args.mhs) or {}
        mhs = {
            "label": "mhs demo", "patches": len(frame), "frame": frame, "inference_s": pipeline["wall_seconds"],
            "grid_cells": pipeline.get("grid_cells"), "side": int(pipeline["level0_patch_pixels"]),
            "wall_s": m.get("wall_s"), "max_rss_mib": m.get("max_rss_mib"), "tree_pss_mib": m.get("tree_peak_pss_mib"),
            "exit_status": m.get("exit_status"), "load": m.get("loadavg_after"),
        }
        if pipeline["patches"] != len(frame):
            print(f"note: run-report.json says {pipeline['patches']} patches, model-outputs.csv has {len(frame)}", file=sys.stderr)
        rows.append(mhs)

    # WSInfer, each setting
    wsinfer = []
    for item in args.wsinfer:
        label, _, run = item.partition("=")
        csv_path = os.path.join(run, "results", "model-outputs-csv", slide_stem + ".csv")
        if not os.path.exists(csv_path):
            print(f"note: {label}: no {csv_path}; left out", file=sys.stderr)
            continue
        frame = pd.read_csv(csv_path)
        log = os.path.join(run, "log.txt")
        m = _load_measure(run) or {}
        wsinfer.append({
            "label": f"wsinfer {label}", "key": label, "patches": len(frame), "frame": frame,
            "inference_s": _tqdm_seconds(log, math.ceil(len(frame) / _batch_size(log))),
            "side": int(frame["width"].iloc[0]) if len(frame) else None,
            "wall_s": m.get("wall_s"), "max_rss_mib": m.get("max_rss_mib"), "tree_pss_mib": m.get("tree_peak_pss_mib"),
            "exit_status": m.get("exit_status"), "load": m.get("loadavg_after"),
        })
    rows.extend(wsinfer)
    if not rows:
        raise SystemExit("nothing to compare: no mhs run and no WSInfer CSV")
    for r in rows:
        r["pps"] = _ratio(r["patches"], r.get("inference_s"))
        r["e2e_pps"] = _ratio(r["patches"], r.get("wall_s"))
    columns = _prob_columns(rows[0]["frame"])
    side = rows[0]["side"]

    # The WSInfer settings score the same patches alike? (They should: one reader, one model.)
    for other in wsinfer[1:]:
        again = wsinfer[0]["frame"].merge(other["frame"], on=["minx", "miny"])
        spread = max(float(np.abs(again[c + "_x"] - again[c + "_y"]).max()) for c in columns) if len(again) else 0.0
        if len(again) != wsinfer[0]["patches"] or other["patches"] != wsinfer[0]["patches"] or spread > 1e-5:
            print(f"note: {other['label']} differs from {wsinfer[0]['label']}: {len(again)} common patches, "
                  f"max diff {spread:.2e}", file=sys.stderr)

    # The patches both scored, and the probabilities there.
    common = None
    if mhs and wsinfer:
        common = mhs["frame"].merge(wsinfer[0]["frame"], on=["minx", "miny"], suffixes=("_mhs", "_wsi"))
        if not (common["width_mhs"] == common["width_wsi"]).all():
            print("note: patch sizes differ between mhs and WSInfer", file=sys.stderr)
        if len(common):
            diffs = np.abs(np.stack([common[c + "_mhs"] - common[c + "_wsi"] for c in columns], axis=1))
            keys_diff = (float(diffs.max()), float(diffs.mean()))
        else:
            keys_diff = (float("nan"), float("nan"))
        coords = common[["minx", "miny"]].to_numpy()
        sides = {"mhs": np.stack([common[c + "_mhs"] for c in columns], axis=1),
                 "wsinfer": np.stack([common[c + "_wsi"] for c in columns], axis=1)}
    else:
        only = mhs or wsinfer[0]
        coords = only["frame"][["minx", "miny"]].to_numpy()
        sides = {("mhs" if mhs else "wsinfer"): only["frame"][columns].to_numpy()}

    # ONNX Runtime alone, on those patches.
    ort, split = None, {}
    if len(coords) and not args.no_ort:
        probs, seconds = onnxruntime_alone(args.slide, args.model, coords, side, args.ort_batch)
        ort = {"label": f"onnxruntime-python b{args.ort_batch}, inference only", "patches": len(coords),
               "inference_s": seconds, "pps": len(coords) / seconds}
        if "wsinfer" in sides:
            split["ort_vs_wsinfer"] = np.abs(probs - sides["wsinfer"])
        if "mhs" in sides:
            split["ort_vs_mhs"] = np.abs(probs - sides["mhs"])

    # The table.
    print(f"slide {os.path.basename(args.slide)}: {side} px level-0 patches; model {args.model}")
    print(f"{'':40} {'patches':>8} {'infer s':>8} {'p/s':>7} {'wall s':>8} {'e2e p/s':>8} {'max RSS':>8} {'tree PSS':>9} {'load':>5}")
    for r in rows + ([ort] if ort else []):
        print(f"{r['label']:40} {r['patches']:8d} {fmt(r.get('inference_s'), '8.1f')} {fmt(r.get('pps'), '7.1f')} "
              f"{fmt(r.get('wall_s'), '8.1f')} {fmt(r.get('e2e_pps'), '8.1f')} {fmt(r.get('max_rss_mib'), '8.0f')} "
              f"{fmt(r.get('tree_pss_mib'), '9.0f')} {fmt((r.get('load') or [None])[0], '5.1f')}"
              + (f"  (exit {r['exit_status']})" if r.get("exit_status") else ""))
    print("p/s: patches ÷ the inference stage's wall (mhs: its pipeline, reading overlapped; WSInfer: tqdm's DataLoader loop);\n"
          "e2e: ÷ the whole command's wall; MiB: GNU time's largest process, the process tree's summed PSS;\n"
          f"load: the 1-minute load average after the run (the run itself counts: much above {os.cpu_count()} means other work competed)")

    if mhs:
        keys.update({"mhs_patches": mhs["patches"], "mhs_grid_cells": mhs["grid_cells"], "mhs_pps": mhs["pps"],
                     "mhs_e2e_pps": mhs["e2e_pps"], "mhs_wall_s": mhs["wall_s"], "mhs_rss_mib": mhs["max_rss_mib"],
                     "mhs_tree_pss_mib": mhs["tree_pss_mib"]})
    if wsinfer:
        best = max(wsinfer, key=lambda r: r["pps"] or 0)
        best_e2e = max(wsinfer, key=lambda r: r["e2e_pps"] or 0)
        keys.update({"wsinfer_patches": best["patches"], "wsinfer_best": best["key"], "wsinfer_pps": best["pps"],
                     "wsinfer_e2e_best": best_e2e["key"], "wsinfer_e2e_pps": best_e2e["e2e_pps"],
                     "wsinfer_wall_s": best_e2e["wall_s"], "wsinfer_rss_mib": best["max_rss_mib"],
                     "wsinfer_tree_pss_mib": best["tree_pss_mib"]})
    if common is not None:
        max_diff, mean_diff = keys_diff
        print(f"\npatches: mhs {mhs['patches']}, WSInfer {wsinfer[0]['patches']}, both {len(common)} "
              f"(mhs only {mhs['patches'] - len(common)}, WSInfer only {wsinfer[0]['patches'] - len(common)})")
        print(f"probabilities on the {len(common)} common patches: max abs diff {max_diff:.2e}, mean {mean_diff:.2e} "
              f"(goal ≤ 1e-3: {'met' if max_diff <= 1e-3 else 'NOT met'})")
        for r in wsinfer:
            print(f"mhs ÷ {r['label']}: inference p/s {fmt(_ratio(mhs['pps'], r['pps']), '.2f')}x, "
                  f"end to end {fmt(_ratio(mhs['e2e_pps'], r['e2e_pps']), '.2f')}x, "
                  f"max RSS {fmt(_ratio(mhs['max_rss_mib'], r['max_rss_mib']), '.2f')}x, "
                  f"tree PSS {fmt(_ratio(mhs['tree_pss_mib'], r['tree_pss_mib']), '.2f')}x")
        keys.update({"common_patches": len(common), "max_abs_diff": max_diff, "mean_abs_diff": mean_diff,
                     "vs_wsinfer": _ratio(mhs["pps"], best["pps"]),
                     "vs_wsinfer_e2e": _ratio(mhs["e2e_pps"], best_e2e["e2e_pps"]),
                     "rss_vs_wsinfer": _ratio(mhs["max_rss_mib"], best["max_rss_mib"]),
                     "pss_vs_wsinfer": _ratio(mhs["tree_pss_mib"], best["tree_pss_mib"])})
    if ort:
        print(f"\nONNX Runtime alone: {ort['pps']:.1f} patches/s on {os.cpu_count()} threads ({ort['patches']} patches preloaded)"
              + (f"; mhs is at {100 * mhs['pps'] / ort['pps']:.0f}% of it" if mhs else "")
              + (f"; WSInfer ({best['key']}) at {100 * best['pps'] / ort['pps']:.0f}%" if wsinfer and best["pps"] else ""))
        print("where the probabilities differ (ort: onnxruntime-python on WSInfer's inputs, PIL's Resize):")
        for key, d in split.items():
            print(f"  {key.replace('_', ' '):24} max abs diff {d.max():.2e}, mean {d.mean():.2e}")
            keys[key + "_max"] = float(d.max())
        keys["ort_limit_pps"] = ort["pps"]
        if mhs:
            keys["mhs_of_limit"] = mhs["pps"] / ort["pps"]
        if wsinfer and best["pps"]:
            keys["wsinfer_of_limit"] = best["pps"] / ort["pps"]

    def value(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 0.01 and v != 0 else f"{v:.2f}"
        return str(v)

    print(" ".join(f"{k}={value(v)}" for k, v in keys.items() if v is not None))


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "measure":
        out = sys.argv[2]
        rest = sys.argv[3:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        if not rest:
            raise SystemExit("usage: models_compare.py measure OUT.json -- COMMAND [ARGS ...]")
        raise SystemExit(measure(out, rest))
    parser = argparse.ArgumentParser(description="Compares mhs's and WSInfer's runs of a model directory on a slide.")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--slide", required=True)
    c.add_argument("--model", required=True, help="the model directory (config.json, model.onnx)")
    c.add_argument("--mhs", help="mhs demo's --output folder, with measure.json (without it: WSInfer and the limit alone)")
    c.add_argument("--wsinfer", action="append", default=[], metavar="LABEL=RUN", help="a WSInfer run folder (results/, log.txt, measure.json)")
    c.add_argument("--ort-batch", type=int, default=32)
    c.add_argument("--no-ort", action="store_true", help="skip the ONNX Runtime-only limit")
    sub.add_parser("measure", help="measure OUT.json -- COMMAND ...")
    args = parser.parse_args()
    compare(args)


if __name__ == "__main__":
    main()

"""The Python baseline for Benchmarks/contract.sh: builds the structure ContractBenchmark
builds, times json.dumps and orjson.dumps (best of 3), and prints one key=value line.

    python3 contract_python.py json|orjson points|polygons N

Real model output (full-precision scores straight from a model, integer and fractional
coordinates, polygons of random sizes) is generated once into a file that both sides read:

    python3 contract_python.py make model-points|model-polygons N FILE   (seeded: the same file every time)
    python3 contract_python.py json|orjson file FILE      (orjson.loads it, then times the dumps)
    python3 contract_python.py orjson-loads file FILE     (times orjson.loads of its bytes)
"""
import json
import math
import random
import resource
import sys
import time

import orjson

TYPES = ["tumor", "lymphocyte", "stroma", "other"]


def points_body(n):
    points = [
        {"x": (i % 1000) * 40.5 + 0.25, "y": (i // 1000) * 40.25 + 0.125,
         "score": ((i * 7919) % 10000) / 10000, "type": TYPES[i % 4]}
        for i in range(n)
    ]
    report = {"type": "WholeSlideDifferential", "points": points,
              "scores": {"tumor": 0.25, "lymphocyte": 0.25, "stroma": 0.25, "other": 0.25},
              "positivity_threshold": 0.5}
    return {"scanResults": [{"scanId": "8061860", "workflow": {
        "model_name": "bench", "provider": "mhs", "ruo": True, "report": report}}]}


def polygons_body(n):
    features = []
    for i in range(n):
        x = (i % 300) * 100.5
        y = (i // 300) * 100.5
        ring = [[x, y], [x + 50, y], [x + 50, y + 50], [x, y + 50], [x, y]]
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"annotation_type": "cell",
                                        "score": ((i * 7919) % 10000) / 10000 + 0.00005},
                         "bbox": [x, y, x + 50, y + 50]})
    report = {"type": "Basic", "results": [{"name": "Cells", "result": str(n)}],
              "segments": [{"name": "Cells", "result": str(n),
                            "feature_collection": {"type": "FeatureCollection", "features": features}}]}
    return {"scanResults": [{"scanId": "8061860", "workflow": {
        "model_name": "bench", "provider": "mhs", "ruo": True, "report": report}}]}


def model_points_body(n, rng):
    """A WholeSlideDifferential as a detector posts it: integer pixel positions, scores with
    every digit a float32 softmax gives in double precision."""
    points = [{"x": rng.randrange(100_000), "y": rng.randrange(100_000), "score": rng.random(),
               "type": TYPES[rng.randrange(4)]} for _ in range(n)]
    report = {"type": "WholeSlideDifferential", "points": points,
              "scores": {t: rng.random() for t in TYPES}, "positivity_threshold": rng.random()}
    return {"scanResults": [{"scanId": "8061860", "workflow": {
        "model_name": "bench", "provider": "mhs", "ruo": True, "report": report}}]}


def model_polygons_body(n, rng):
    """A Basic report of segmented objects: 4-24 vertices each, half on whole pixels and half
    at two decimals, a full-precision score per object."""
    features = []
    for i in range(n):
        cx, cy, r = rng.uniform(0, 100_000), rng.uniform(0, 100_000), rng.uniform(3, 60)
        k = rng.randrange(4, 25)
        ring = []
        for j in range(k):
            a = 2 * math.pi * j / k
            x, y = cx + r * math.cos(a), cy + r * math.sin(a)
            ring.append([round(x), round(y)] if i % 2 == 0 else [round(x, 2), round(y, 2)])
        ring.append(list(ring[0]))
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"annotation_type": "cell", "score": rng.random()},
                         "bbox": [min(xs), min(ys), max(xs), max(ys)]})
    report = {"type": "Basic", "results": [{"name": "Cells", "result": str(n)}],
              "segments": [{"name": "Cells", "result": str(n),
                            "feature_collection": {"type": "FeatureCollection", "features": features}}]}
    return {"scanResults": [{"scanId": "8061860", "workflow": {
        "model_name": "bench", "provider": "mhs", "ruo": True, "report": report}}]}


def main():
    if sys.argv[1] == "make":
        shape, n, path = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        rng = random.Random(8061860)
        body = model_points_body(n, rng) if shape == "model-points" else model_polygons_body(n, rng)
        with open(path, "wb") as f:
            f.write(orjson.dumps(body))
        return
    if sys.argv[2] == "file":
        encoder, path = sys.argv[1], sys.argv[3]
        with open(path, "rb") as f:
            data = f.read()
        if encoder == "orjson-loads":
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                body = orjson.loads(data)
                best = min(best, time.perf_counter() - start)
                del body
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"op=orjson-loads n=1 seconds={best} bytes={len(data)} model_rss_mib=0 peak_rss_mib={peak}")
            return
        body = orjson.loads(data)
        del data
        shape, n = "file", 1
    else:
        encoder, shape, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
        body = points_body(n) if shape == "points" else polygons_body(n)
    model_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dumps = (lambda b: json.dumps(b, separators=(",", ":")).encode()) if encoder == "json" else orjson.dumps
    best = float("inf")
    size = 0
    for _ in range(3):
        start = time.perf_counter()
        out = dumps(body)
        best = min(best, time.perf_counter() - start)
        size = len(out)
        del out
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"op={encoder}-{shape} n={n} seconds={best} bytes={size} model_rss_mib={model_rss} peak_rss_mib={peak}")


if __name__ == "__main__":
    main()

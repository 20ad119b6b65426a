"""The Python baseline for Benchmarks/contract.sh: builds the structure ContractBenchmark
builds, times json.dumps and orjson.dumps (best of 3), and prints one key=value line.

    python3 contract_python.py json|orjson points|polygons N
"""
import json
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


def main():
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

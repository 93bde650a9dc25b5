"""SynthFaces generation speed on one core: faces per second per attribute and size.

Run: .venv/bin/python benchmarks/synthfaces_speed.py [--n 400] [--out benchmarks/results/synthfaces_speed.json]
Measures `SynthFaces.__getitem__` (draw + tensor conversion, what training pays) and
`render_face` (image + region mask, what metrics pay), with OpenCV and torch on one thread.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import cv2
import torch

from l2m_edge.data.synthfaces import ATTRIBUTES, SynthFaces, render_face


def faces_per_second(fn, n: int) -> float:
    fn(0)  # warm caches
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/synthfaces_speed.json"))
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    rows = []
    for size in args.sizes:
        for attribute in ATTRIBUTES:
            ds = SynthFaces(args.n, size, attribute, seed=0)
            item = faces_per_second(lambda i: ds[i], args.n)
            pair = faces_per_second(lambda i: render_face(ds.identity(i), attribute, True, size), args.n)
            rows.append({"size": size, "attribute": attribute, "dataset_items_per_s": round(item, 1), "render_face_per_s": round(pair, 1)})
            print(f"{size:4d}² {attribute:12s} dataset item {item:7.1f}/s   image+mask {pair:7.1f}/s")
    result = {"benchmark": "synthfaces_speed", "threads": 1, "n": args.n, "cpu": platform.processor() or platform.machine(), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

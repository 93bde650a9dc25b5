"""What the training data's landmark cache costs: MediaPipe FaceMesh once per image, then a stat.

    python benchmarks/landmark_cache.py [--n 200] [--out benchmarks]

Writes landmark_cache.json: per image, the CPU and wall time of building the cache (decode, FaceMesh
in static mode with iris refinement, the atomic write) for folders of JPEGs at 256² (StarGAN v2's
CelebA-HQ) and 1024² (CelebA-HQ's originals); the time of a second call that finds every entry
fresh (one stat per image); and the cache's bytes per image. The images are crops of skimage's
astronaut, each a different one; the CPU, its flags and the load average are recorded with them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from l2m_edge.bench.environment import cpu_description, load_average
from l2m_edge.data.landmark_cache import landmark_table
from l2m_edge.face_mesh import new_face_mesh


def _folder(root: Path, n: int, side: int) -> list[Path]:
    astronaut = data.astronaut()
    paths = []
    for i in range(n):  # the face at a different place and scale in each
        top, left, crop = 3 * (i % 10), 60 + 4 * (i // 10), 300 + 2 * i
        img = Image.fromarray(np.ascontiguousarray(astronaut[top : top + crop, left : left + crop])).resize((side, side), Image.BICUBIC)
        paths.append(root / f"{i:04d}.jpg")
        img.save(paths[-1], quality=95)
    return paths


def _per_image(n: int, fn) -> tuple[dict[str, float], object]:  # noqa: ANN001
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return {"wall_ms": 1000 * (time.perf_counter() - wall) / n, "cpu_ms": 1000 * (time.process_time() - cpu) / n}, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    vector = sorted(f for f in flags.split() if f.startswith(("avx", "fma", "f16c", "sse4", "amx")))
    report: dict[str, object] = {"what": __doc__.splitlines()[0], "images": args.n, "cpu": cpu_description(), "vector_flags": vector,
                                 "load_before": load_average()}
    new_face_mesh(still=True, refine_iris=True).close()  # import mediapipe outside the timings (a build pays one FaceMesh setup)
    for side in (256, 1024):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            paths = _folder(root, args.n, side)
            build, table = _per_image(args.n, lambda: landmark_table(root, paths))
            reuse, again = _per_image(args.n, lambda: landmark_table(root, paths))
            assert again.computed == 0  # type: ignore[attr-defined]
            report[f"{side}px"] = {
                "build_per_image": build,
                "reuse_per_image": reuse,
                "faces_found": args.n - len(table.no_face),  # type: ignore[attr-defined]
                "cache_bytes_per_image": table.file.stat().st_size // args.n,  # type: ignore[attr-defined]
            }
    report["load_after"] = load_average()
    report["note"] = "shared 2-vCPU machine: other jobs ran at the same time; CPU time is the figure to trust"
    (args.out / "landmark_cache.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

"""What one OpenVINO call costs outside the inference itself (issue 24's cross-check: benchmark_app reports
a request's own latency; a caller waits for more). Not a test.

For an IR, interleaved over rounds: our backend's `infer` (checks, feed, the request, output copies), a bare
`InferRequest.infer`, and `start_async` + `wait` — each call's wall time against the request's own latency
(`InferRequest.latency`, start to end of the inference, what benchmark_app measures), medians in ms.
Usage: python benchmarks/call_overhead.py IR_DIR [IR_DIR …] [--calls 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from l2m_edge.backends.base import check_inputs
from l2m_edge.bench.environment import capture_environment, load_average
from l2m_edge.runtime.backends import load_backend


def overhead(artifact: Path, calls: int, rounds: int) -> dict[str, float]:
    backend = load_backend(artifact, backend="openvino", device="CPU", precision=None, threads=2)
    size = backend.info.img_size
    image = np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
    args = (image, np.zeros(1, np.int64), np.ones(1, np.int64), np.ones(1, np.float32))
    feed = backend.signature.feed(**check_inputs(backend.info, image=image, source=args[1], target=args[2], strength=args[3]))
    request = backend.request  # type: ignore[attr-defined]
    ways = {
        "backend.infer": lambda: backend.infer(*args),
        "InferRequest.infer": lambda: request.infer(feed),
        "start_async + wait": lambda: (request.start_async(feed, share_inputs=True), request.wait()),
    }
    outside: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, call in ways.items():
            for _ in range(10):
                call()
            for _ in range(calls):
                t0 = time.perf_counter()
                call()
                outside[name].append((time.perf_counter() - t0) * 1000 - request.latency)
    backend.close()
    return {name: round(statistics.median(values), 3) for name, values in outside.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("irs", type=Path, nargs="+")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cpu = capture_environment()["cpu"]
    print(f"{cpu['model']}, ISA {', '.join(cpu['isa'])}, load {load_average()}")
    for ir in args.irs:
        print(ir, "ms a call outside the inference (median):", overhead(ir, args.calls, args.rounds))


if __name__ == "__main__":
    main()

"""Wall-clock helpers: end-to-end inference throughput/latency and a machine reference workload."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

REFERENCE_WORKLOAD = "matmul-256x40+argsort-1e6, 1 thread, median of 5"


def measure_inference(
    predict: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    *,
    batch_size: int = 256,
    latency_samples: int = 50,
    min_seconds: float = 0.5,
) -> dict:
    """Latency at batch 1 (p50/p95 ms) and throughput at ``batch_size`` (images/s), after warm-up.

    ``predict`` must take raw uint8 images and do everything (features included).
    """
    batch = images[: min(batch_size, len(images))]
    predict(images[:1])
    predict(batch)  # warm-up: lazy init, caches, graph tracing
    latencies = []
    for i in range(min(latency_samples, len(images))):
        start = time.perf_counter()
        predict(images[i : i + 1])
        latencies.append((time.perf_counter() - start) * 1000)
    n_images, elapsed = 0, 0.0
    while elapsed < min_seconds or n_images < 3 * len(batch):
        start = time.perf_counter()
        predict(batch)
        elapsed += time.perf_counter() - start
        n_images += len(batch)
    return {
        "images_per_second": n_images / elapsed,
        "latency_ms_p50": float(np.percentile(latencies, 50)),
        "latency_ms_p95": float(np.percentile(latencies, 95)),
        "batch_size": len(batch),
    }


def reference_workload_seconds() -> float:
    """Time a fixed single-threaded CPU workload; speeds are compared as ratios to it."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 256))
    b = rng.standard_normal(1_000_000)
    runs = []
    with threadpool_limits(limits=1):
        for _ in range(5):
            start = time.perf_counter()
            c = a
            for _ in range(40):
                c = np.tanh(c @ a)
            np.argsort(b)
            runs.append(time.perf_counter() - start)
    return float(np.median(runs))

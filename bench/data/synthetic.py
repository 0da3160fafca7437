"""``synthetic-cxr``: deterministic chest-X-ray-like phantoms, the built-in dataset (no files).

Each image is a bright body with a mediastinum and heart between two dark lung fields, rib
arcs, pixel noise, and random patient position, size and exposure. Classes (about 79/18/3 %):
``healthy``; ``diffuse-opacity``, a hazy raised density over part of one lung field;
``focal-mass``, a small round dense mass or a basal effusion-like meniscus.
"""

from __future__ import annotations

import numpy as np

from hybench.data.catalog import DataPaths, register_dataset
from hybench.data.dataset import Dataset
from hybench.data.transforms import check_size
from hybench.errors import HybenchError

CLASS_NAMES = ("healthy", "diffuse-opacity", "focal-mass")
CLASS_SHARES = (0.79, 0.18, 0.03)
_CHUNK = 256  # images rendered at once; bounds memory at large sizes


@register_dataset(
    "synthetic-cxr",
    description="synthetic chest-X-ray phantoms: healthy/diffuse-opacity/focal-mass (79/18/3 %)",
    where="built in (generated from a seed; no files needed)",
)
def load_synthetic_cxr(
    paths: DataPaths | None = None, *, n: int = 1500, size: int = 32, seed: int = 0
) -> Dataset:
    """Generate ``n`` grayscale ``size`` x ``size`` phantoms; the same seed gives the same data."""
    size = check_size(size)
    if not _is_int(n) or n < 20:
        raise HybenchError(f"synthetic-cxr: n must be an integer >= 20, got {n!r}", "pass n=1500")
    if not _is_int(seed) or seed < 0:
        raise HybenchError(
            f"synthetic-cxr: seed must be an integer >= 0, got {seed!r}", "pass seed=0"
        )
    n, seed = int(n), int(seed)
    rng = np.random.default_rng(seed)
    labels = class_labels(n, rng)
    params = draw_parameters(labels, rng)
    noise_seed = int(rng.integers(2**63))
    images = np.empty((n, size, size, 1), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        part = {key: value[start : start + _CHUNK] for key, value in params.items()}
        noise_rng = np.random.default_rng([noise_seed, start])
        images[start : start + _CHUNK, ..., 0] = render(part, size, noise_rng)
    return Dataset(
        name="synthetic-cxr",
        images=images,
        labels=labels,
        class_names=CLASS_NAMES,
        source="generated",
        meta={"n": n, "size": size, "seed": seed},
    )


def class_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """Shuffled labels with the exact :data:`CLASS_SHARES` (each minority class at least 2)."""
    counts = [max(2, round(share * n)) for share in CLASS_SHARES[1:]]
    labels = np.repeat(np.arange(3), [n - sum(counts), *counts])
    return rng.permutation(labels).astype(np.int64)


def draw_parameters(labels: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-image anatomy, exposure and lesion parameters, each an array of shape ``(n,)``."""
    n = len(labels)
    u = rng.uniform
    p = {
        "cx": u(-0.08, 0.08, n), "cy": u(-0.07, 0.07, n), "scale": u(0.86, 1.04, n),
        "body": u(0.50, 0.66, n), "lung": u(0.17, 0.26, n), "heart": u(0.02, 0.08, n),
        "spine": u(0.04, 0.10, n), "rib": u(0.03, 0.07, n), "rib_phase": u(0, 1, n),
        "gamma": u(0.85, 1.2, n), "noise": u(0.015, 0.035, n),
    }  # fmt: skip
    # Every image gets a lesion site inside one lung; only the amplitudes depend on the class.
    p["side"] = rng.choice([-1.0, 1.0], n)
    p["lx"] = u(-0.6, 0.6, n)  # site inside the lung, in units of the lung's semi-axes
    p["ly"] = u(-0.4, 0.7, n)
    diffuse, focal = labels == 1, labels == 2
    p["haze"] = np.where(diffuse, u(0.10, 0.32, n), 0.0)
    p["haze_width"] = u(0.20, 0.40, n)
    is_mass = rng.random(n) < 0.5
    p["mass"] = np.where(focal & is_mass, u(0.35, 0.55, n), 0.0)
    p["mass_radius"] = u(0.08, 0.13, n)
    p["effusion"] = np.where(focal & ~is_mass, u(1.0, 1.5, n), 0.0)  # x lung darkness
    p["effusion_level"] = u(0.20, 0.60, n)
    return p


def render(p: dict[str, np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw the images for parameter arrays ``p`` as ``(n, size, size)`` uint8."""
    grid = ((np.arange(size) + 0.5) / size * 2 - 1).astype(np.float32)  # y points down
    y, x = grid[None, :, None], grid[None, None, :]
    col = {key: value[:, None, None].astype(np.float32) for key, value in p.items()}
    s, cx, cy = col["scale"], col["cx"], col["cy"]
    edge = 1.5 / size  # soft-edge width: about one pixel

    body = _soft_ellipse(x, y, cx, cy + 0.10 * s, 0.95 * s, 1.15 * s, edge)
    abdomen = _sigmoid((y - cy - 0.55 * s) / (4 * edge))
    spine = _sigmoid((0.09 * s - np.abs(x - cx)) / edge)
    lung_y = cy - 0.10 * s
    lungs = [
        _soft_ellipse(x, y, cx + side * 0.36 * s, lung_y, 0.25 * s, 0.58 * s, edge)
        for side in (-1.0, 1.0)
    ]
    lung = np.maximum(*lungs)
    heart = _soft_ellipse(x, y, cx + 0.10 * s, cy + 0.30 * s, 0.34 * s, 0.26 * s, edge)
    rib_arc = (y - cy) / (0.2 * s) + 2.0 * ((x - cx) / s) ** 2 + col["rib_phase"]
    ribs = np.clip(2 * np.cos(2 * np.pi * rib_arc) - 1, 0, 1) * lung

    image = 0.04 + body * (col["body"] + 0.1 * abdomen + col["spine"] * spine)
    image += col["heart"] * heart - col["lung"] * lung * (1 - heart) + col["rib"] * ribs

    # The lesion site lies inside the chosen lung (side -1 = image left).
    side = col["side"]
    lung_x = cx + side * 0.36 * s
    site_lung = np.where(side < 0, lungs[0], lungs[1])
    dx = x - lung_x - col["lx"] * 0.25 * s
    dy = y - lung_y - col["ly"] * 0.58 * s
    r = np.sqrt(dx**2 + dy**2) / s
    image += col["haze"] * np.exp(-0.5 * (r / col["haze_width"]) ** 2) * site_lung
    image += col["mass"] * _sigmoid((col["mass_radius"] - r) * s / edge) * site_lung
    # Effusion meniscus: fluid fills the lung base, climbing towards the lateral wall.
    lateral = np.clip(side * (x - lung_x) / (0.25 * s), -1, 1)
    level = lung_y + (col["effusion_level"] - 0.25 * (lateral + 1)) * 0.58 * s
    image += col["effusion"] * col["lung"] * _sigmoid((y - level) / edge) * site_lung

    image = np.clip(image, 0, 1) ** col["gamma"]
    image += col["noise"] * rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


def _is_int(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _soft_ellipse(x, y, cx, cy, ax, ay, edge) -> np.ndarray:
    """1 inside the ellipse, 0 outside, with a smooth rim about ``edge`` wide."""
    radius = np.sqrt(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2)
    return _sigmoid((1 - radius) * np.minimum(ax, ay) / edge)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * z))

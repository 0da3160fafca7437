"""HOG descriptors of a batch of grayscale images, equal to :func:`skimage.feature.hog`.

Reproduces scikit-image's algorithm (``skimage/feature/_hog.py`` with its Cython
``_hoghistogram.hog_histograms``; checked on 0.26) for grayscale float64 images, square cells
and square blocks, vectorised over the batch with NumPy instead of one call per image:

1. gradients by central differences ``x[i+1] - x[i-1]``, zero on the first and last row/column;
2. orientation ``rad2deg(arctan2(g_row, g_col)) % 180``, in bin ``k`` when
   ``k * w <= orientation < (k + 1) * w`` with ``w = 180 / orientations`` in float64 (a pixel at
   or above ``orientations * w`` counts in no bin);
3. each cell sums the magnitudes of its own pixels per bin (cells tile the top-left
   ``(H // c) * c`` by ``(W // c) * c`` pixels; the rest of the image is ignored) in a C ``float``:
   rounded to float32 after every addition, in row-major pixel order, then divided by the cell
   area in float32. This is replayed exactly, so the histograms are scikit-image's bit for bit;
4. every block of ``b x b`` cells (stride one cell) is normalised with ``block_norm`` (eps 1e-5);
5. the row is the ravel of ``(blocks_row, blocks_col, b, b, orientations)``.

Magnitudes are ``sqrt(g_col**2 + g_row**2)`` instead of ``np.hypot`` (5x faster): they can differ
by an ulp of float64, which the float32 cell sums round away unless the sum lies within that ulp
of a float32 rounding boundary (then one float32 ulp, ~6e-8 relative). The contract is
``tests/test_hog_parity.py``: max abs difference to scikit-image <= 1e-6.

Cached features are keyed by the source of ``features/image.py``, which registers ``hog``: a
change here that changes the output must also change that file.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
BLOCK_NORM_EPS = 1e-5  # scikit-image's _hog_normalize_block default
HOG_CHUNK_PIXELS = 1 << 16  # per chunk (83 images of 28 px): bounded memory, in cache


def hog_batch(
    gray: np.ndarray,
    *,
    orientations: int,
    pixels_per_cell: int,
    cells_per_block: int,
    block_norm: str,
    dtype: DTypeLike = np.float32,
) -> np.ndarray:
    """HOG rows ``(N, n_features)`` of ``(N, H, W)`` grayscale images, as ``skimage.feature.hog``
    with ``pixels_per_cell=(c, c)``, ``cells_per_block=(b, b)`` and ``feature_vector=True``.

    Computed in float64 in chunks of about ``HOG_CHUNK_PIXELS`` pixels, returned as ``dtype``.
    """
    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 3:
        raise ValueError(f"expected (N, H, W) grayscale images, got shape {gray.shape}")
    if block_norm not in BLOCK_NORMS:
        raise ValueError("Selected block normalization method is invalid.")
    orientations, cell, block = int(orientations), int(pixels_per_cell), int(cells_per_block)
    if orientations < 1 or cell < 1 or block < 1:
        raise ValueError("orientations, pixels_per_cell and cells_per_block must be >= 1")
    n_images, height, width = gray.shape
    blocks_row = height // cell - block + 1
    blocks_col = width // cell - block + 1
    if blocks_row <= 0 or blocks_col <= 0:
        raise ValueError(
            "The input image is too small given the values of pixels_per_cell and "
            f"cells_per_block. It should have at least: {block * cell} rows and "
            f"{block * cell} cols."
        )
    out = np.empty((n_images, blocks_row * blocks_col * block * block * orientations), dtype)
    step = max(1, HOG_CHUNK_PIXELS // (height * width))
    chunk = _Chunk(min(step, n_images), height, width, orientations, cell, block)
    for start in range(0, n_images, step):
        images = gray[start:start + step]
        out[start:start + len(images)] = chunk.descriptors(images, block_norm)
    return out


class _Chunk:
    """The HOG pipeline for up to ``n`` images of one size, with its scratch arrays allocated once
    and reused for every chunk (fresh temporaries of this size cost more in page faults than the
    arithmetic on them)."""

    def __init__(self, n: int, height: int, width: int, orientations: int, cell: int,
                 block: int) -> None:
        self.orientations, self.cell, self.block = orientations, cell, block
        self.cells_row, self.cells_col = height // cell, width // cell
        rows, cols = self.cells_row * cell, self.cells_col * cell
        self.g_row, self.g_col = np.empty((n, height, width)), np.empty((n, height, width))
        # cells cover the top-left rows x cols pixels: a contiguous copy of those when cropped
        self.crop = (np.empty((n, rows, cols)), np.empty((n, rows, cols))) if (
            (rows, cols) != (height, width)) else None
        pixels = n * rows * cols
        self.radians, self.whole = np.empty(pixels), np.empty(pixels)
        self.index, self.bins = np.empty(pixels, np.intp), np.empty(pixels, np.intp)
        self.near = np.empty(pixels, bool)
        self.wrap = np.arange(2 * orientations + 1) % orientations
        # hog_histograms' bounds: bin k is orientation_end <= orientation < orientation_start
        self.bounds = (180.0 / orientations) * np.arange(orientations + 1, dtype=np.float64)
        cells = (n, self.cells_row, self.cells_col)
        self.first = np.arange(0, np.prod(cells) * orientations, orientations).reshape(cells)
        self.total = np.empty(np.prod(cells) * orientations, np.float32)
        self.slot, self.partial = np.empty(cells, np.intp), np.empty(cells, np.float32)
        self.summed, self.histograms = np.empty(cells), np.empty((*cells, orientations))
        blocks = (n, self.cells_row - block + 1, self.cells_col - block + 1, block, block,
                  orientations)
        self.blocks, self.squares = np.empty(blocks), np.empty(blocks)
        self.norms = np.empty((*blocks[:3], 1, 1, 1))

    def descriptors(self, gray: np.ndarray, block_norm: str) -> np.ndarray:
        """``(n, n_features)`` float64 rows of ``(n, H, W)`` images (a view of scratch memory)."""
        n = len(gray)
        g_row, g_col = self.gradients(gray)
        pixels = g_row.size
        radians = np.arctan2(g_row, g_col, out=self.radians[:pixels].reshape(g_row.shape))
        magnitude = np.square(g_col, out=g_col)
        magnitude += np.square(g_row, out=g_row)
        np.sqrt(magnitude, out=magnitude)
        bins = self.orientation_bins(radians.ravel(), magnitude.ravel(), g_row.ravel())
        histograms = self.cell_histograms(n, bins, magnitude)
        return self.normalized_blocks(histograms, block_norm)

    def gradients(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``_hog_channel_gradient`` of each image, as contiguous arrays (so ``arctan2`` runs the
        same ufunc loop as on scikit-image's per-image arrays)."""
        n, height, width = gray.shape
        g_row, g_col = self.g_row[:n], self.g_col[:n]
        flat, flat_row, flat_col = (a.reshape(n, height * width) for a in (gray, g_row, g_col))
        # differences along the flattened images, then the first/last row and column set to 0
        np.subtract(flat[:, 2 * width:], flat[:, :-2 * width], out=flat_row[:, width:-width])
        g_row[:, 0], g_row[:, -1] = 0.0, 0.0
        np.subtract(flat[:, 2:], flat[:, :-2], out=flat_col[:, 1:-1])
        g_col[:, :, 0], g_col[:, :, -1] = 0.0, 0.0
        if self.crop is None:
            return g_row, g_col
        crop_row, crop_col = self.crop[0][:n], self.crop[1][:n]
        rows, cols = crop_row.shape[1:]
        np.copyto(crop_row, g_row[:, :rows, :cols])
        np.copyto(crop_col, g_col[:, :rows, :cols])
        return crop_row, crop_col

    def orientation_bins(self, radians: np.ndarray, magnitude: np.ndarray,
                         scratch: np.ndarray) -> np.ndarray:
        """Bin of each pixel's ``rad2deg(radians) % 180`` as ``hog_histograms`` bins it; a pixel
        in no bin gets bin 0 and its ``magnitude`` (updated in place) 0. Overwrites ``scratch``."""
        pixels, orientations = radians.size, self.orientations
        # estimate: q = orientation * orientations / 180 (+ orientations), its whole part wrapped
        q = np.multiply(radians, orientations / np.pi, out=scratch)
        q += orientations  # in [0, 2 * orientations]
        whole, index = np.trunc(q, out=self.whole[:pixels]), self.index[:pixels]
        np.copyto(index, whole, casting="unsafe")
        bins = np.take(self.wrap, index, out=self.bins[:pixels], mode="clip")  # NaN: bin 0
        # exact where the estimate could be off: within 1e-9 of a bound (the estimate's rounding
        # errors are ~1e-14); there, skimage's own expression against its float64 bounds
        distance = np.subtract(q, whole, out=q)
        distance -= 0.5
        np.abs(distance, out=distance)
        near = np.flatnonzero(np.greater(distance, 0.5 - 1e-9, out=self.near[:pixels]))
        if near.size:
            orientation = _orientation_degrees(radians[near])
            exact = np.searchsorted(self.bounds, orientation, side="right") - 1
            outside = exact >= orientations  # at or above orientations * (180 / orientations)
            exact[outside] = 0
            magnitude[near[outside]] = 0.0
            bins[near] = exact
        return bins

    def cell_histograms(self, n: int, bins: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
        """``(n, cells_row, cells_col, orientations)`` float64 histograms, as ``cell_hog``: a C
        ``float total += magnitude`` over the cell's pixels in row-major order, replayed as one
        gather/add/scatter per pixel position on a flat float32 (image, cell, bin) accumulator."""
        cell, orientations = self.cell, self.orientations
        bins = bins.reshape(n, self.cells_row, cell, self.cells_col, cell)
        magnitude = magnitude.reshape(n, self.cells_row, cell, self.cells_col, cell)
        first, slot, partial, summed = (a[:n] for a in (self.first, self.slot, self.partial,
                                                        self.summed))
        total = self.total[:first.size * orientations]
        total.fill(0.0)
        for pixel_row in range(cell):
            for pixel_col in range(cell):
                np.add(bins[:, :, pixel_row, :, pixel_col], first, out=slot)
                np.take(total, slot, out=partial, mode="clip")  # (slots are in range)
                np.add(partial, magnitude[:, :, pixel_row, :, pixel_col], out=summed)  # float64
                np.put(total, slot, summed, mode="clip")  # rounded to float32
        total /= np.float32(cell * cell)  # `total / (cell_rows * cell_columns)` in C float
        histograms = self.histograms[:n]
        np.copyto(histograms, total.reshape(histograms.shape))
        return histograms

    def normalized_blocks(self, histograms: np.ndarray, block_norm: str) -> np.ndarray:
        """``(n, n_features)`` descriptors: ``_hog_normalize_block`` of every block of cells."""
        n, block = len(histograms), self.block
        blocks, squares, norms = self.blocks[:n], self.squares[:n], self.norms[:n]
        windows = np.lib.stride_tricks.sliding_window_view(histograms, (block, block), axis=(1, 2))
        np.copyto(blocks, np.moveaxis(windows, 3, -1))  # (n, br, bc, b, b, orientations)
        if block_norm in ("L1", "L1-sqrt"):  # the histograms are >= 0: np.abs changes nothing
            np.sum(blocks, axis=(3, 4, 5), keepdims=True, out=norms)
            norms += BLOCK_NORM_EPS
            blocks /= norms
            if block_norm == "L1-sqrt":
                np.sqrt(blocks, out=blocks)
        else:
            _l2_normalize(blocks, squares, norms)
            if block_norm == "L2-Hys":
                np.minimum(blocks, 0.2, out=blocks)
                _l2_normalize(blocks, squares, norms)
        return blocks.reshape(n, -1)


def _l2_normalize(blocks: np.ndarray, squares: np.ndarray, norms: np.ndarray) -> None:
    """``block / np.sqrt(np.sum(block**2) + eps**2)`` for every block, in place."""
    np.sum(np.square(blocks, out=squares), axis=(3, 4, 5), keepdims=True, out=norms)
    norms += BLOCK_NORM_EPS**2
    blocks /= np.sqrt(norms, out=norms)


def _orientation_degrees(radians: np.ndarray) -> np.ndarray:
    """``np.rad2deg(radians) % 180`` for ``radians`` from ``arctan2`` (degrees in [-180, 180]),
    written out because numpy's float remainder is slow: 180 -> 0, negatives + 180 (the same
    rounding as the remainder's fix-up of ``fmod``; only the sign of a zero may differ)."""
    degrees = np.rad2deg(radians)
    degrees[degrees == 180.0] = 0.0
    return np.where(degrees < 0.0, degrees + 180.0, degrees)

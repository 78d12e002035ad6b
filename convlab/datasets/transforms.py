"""Image transforms for probing inductive bias: translation with zero fill, and a fixed pixel permutation."""

from __future__ import annotations

import numpy as np


def shift_images(images: np.ndarray, rows: int = 0, columns: int = 0) -> np.ndarray:
    """Move every image down by `rows` and right by `columns` pixels (negative: up/left); vacated pixels are 0."""
    if images.ndim < 3:
        raise ValueError(f"shift_images expects a batch of images (N×H×W…), got shape {images.shape}.")
    height, width = images.shape[1:3]
    if abs(rows) >= height or abs(columns) >= width:
        raise ValueError(f"A shift of ({rows}, {columns}) moves a {height}×{width} image entirely out of the frame.")
    shifted = np.zeros_like(images)
    source_rows = slice(max(0, -rows), height - max(0, rows))
    target_rows = slice(max(0, rows), height - max(0, -rows))
    source_columns = slice(max(0, -columns), width - max(0, columns))
    target_columns = slice(max(0, columns), width - max(0, -columns))
    shifted[:, target_rows, target_columns] = images[:, source_rows, source_columns]
    return shifted


def pixel_permutation(seed: int, size: int = 28 * 28) -> np.ndarray:
    """A fixed random permutation of the pixel positions."""
    return np.random.default_rng(seed).permutation(size)


def permute_pixels(images: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """Shuffle every image's pixels with the same permutation (output pixel i takes input pixel permutation[i])."""
    flat = images.reshape(len(images), -1)
    if flat.shape[1] != len(permutation):
        raise ValueError(f"The permutation has {len(permutation)} entries but the images have {flat.shape[1]} pixels.")
    return flat[:, permutation].reshape(images.shape)


def inverse_permutation(permutation: np.ndarray) -> np.ndarray:
    """The permutation that undoes `permutation`."""
    inverse = np.empty_like(permutation)
    inverse[permutation] = np.arange(len(permutation))
    return inverse


def check_permutation(images: np.ndarray, permutation: np.ndarray) -> dict:
    """How many pixel positions a permutation moves, and whether its inverse restores `images` exactly."""
    shuffled = permute_pixels(images, permutation)
    restored = permute_pixels(shuffled, inverse_permutation(permutation))
    return {
        "pixels moved (%)": float(100 * np.mean(permutation != np.arange(len(permutation)))),
        "restored exactly by the inverse": bool(np.array_equal(restored, images)),
    }

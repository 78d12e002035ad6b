"""Translation and permutation transforms."""

from __future__ import annotations

import numpy as np
import pytest

from convlab.datasets import transforms


@pytest.fixture
def blob() -> np.ndarray:
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    images[:, 10:14, 12:15] = 200
    images[1, 5, 5] = 50
    return images


def centre_of_mass(image: np.ndarray) -> np.ndarray:
    rows, columns = np.indices(image.shape)
    total = image.sum()
    return np.array([(rows * image).sum() / total, (columns * image).sum() / total])


def test_zero_shift_is_identity(blob):
    assert np.array_equal(transforms.shift_images(blob, 0, 0), blob)


@pytest.mark.parametrize("rows, columns", [(3, 0), (0, -4), (2, 2), (-6, 5)])
def test_shift_moves_mass_without_losing_it(blob, rows, columns):
    shifted = transforms.shift_images(blob, rows, columns)
    assert shifted.dtype == blob.dtype
    assert shifted[0].sum() == blob[0].sum()  # nothing fell off the frame
    assert np.allclose(centre_of_mass(shifted[0]) - centre_of_mass(blob[0]), [rows, columns])


def test_shift_fills_with_zeros_and_drops_what_leaves_the_frame():
    images = np.ones((1, 28, 28), dtype=np.float32)
    shifted = transforms.shift_images(images, 2, -3)
    assert shifted[0, :2].sum() == 0 and shifted[0, :, -3:].sum() == 0
    assert shifted.sum() == (28 - 2) * (28 - 3)


def test_shift_out_of_frame_is_refused(blob):
    with pytest.raises(ValueError, match="entirely out of the frame"):
        transforms.shift_images(blob, 28, 0)


def test_permutation_is_a_bijection_that_its_inverse_undoes(blob):
    permutation = transforms.pixel_permutation(seed=0)
    assert sorted(permutation.tolist()) == list(range(784))
    shuffled = transforms.permute_pixels(blob, permutation)
    assert not np.array_equal(shuffled, blob)
    assert sorted(shuffled[1].ravel().tolist()) == sorted(blob[1].ravel().tolist())
    assert np.array_equal(transforms.permute_pixels(shuffled, transforms.inverse_permutation(permutation)), blob)
    assert np.array_equal(transforms.pixel_permutation(seed=0), permutation)


def test_permutation_size_must_match(blob):
    with pytest.raises(ValueError, match="784 pixels"):
        transforms.permute_pixels(blob, np.arange(10))

"""The filter census rule on hand-made kernels of each kind, and its tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from convlab.experiments import census

SOBEL = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
LINE = np.array([[-1.0, 2, -1], [-1, 2, -1], [-1, 2, -1]])
DIAGONAL = np.array([[2.0, -1, -1], [-1, 2, -1], [-1, -1, 2]])
CENTRE_SURROUND = np.array([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]])
GAUSSIAN = np.array([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]])
BOARD = np.array([[1.0, -1, 1], [-1, 1, -1], [1, -1, 1]])

KERNELS = [
    ("vertical edge (Sobel)", SOBEL, census.ORIENTED),
    ("horizontal edge", SOBEL.T, census.ORIENTED),
    ("vertical line", LINE, census.ORIENTED),
    ("diagonal line", DIAGONAL, census.ORIENTED),
    ("centre–surround", CENTRE_SURROUND, census.CENTRE_SURROUND),
    ("surround–centre (inverted)", -CENTRE_SURROUND, census.CENTRE_SURROUND),
    ("Gaussian blob", GAUSSIAN, census.BLOB),
    ("dark blob", -GAUSSIAN, census.BLOB),
    ("checkerboard", BOARD, census.CHECKERBOARD),
    ("checkerboard with a little noise", BOARD + 0.1 * np.random.default_rng(0).standard_normal((3, 3)), census.CHECKERBOARD),
]


@pytest.mark.parametrize("case, kernel, kind", KERNELS, ids=[row[0] for row in KERNELS])
def test_each_hand_made_kind_is_classified_as_such(case, kernel, kind):
    assert census.classify(kernel) == kind


def test_energy_shares_of_known_kernels():
    assert census.energy_shares(SOBEL) == {"mean share": 0.0, "checkerboard share": 0.0, "symmetric share": 0.0}
    shares = census.energy_shares(CENTRE_SURROUND)  # zero-mean energy 72, of it 64/8.89 = 7.2 on the board
    assert shares["checkerboard share"] == pytest.approx(0.1) and shares["symmetric share"] == pytest.approx(0.9)
    assert census.energy_shares(GAUSSIAN)["mean share"] == pytest.approx(256 / 9 / 36)
    assert census.energy_shares(np.zeros((3, 3))) == {"mean share": 0.0, "checkerboard share": 0.0, "symmetric share": 0.0}


def test_weak_or_silent_kernels_count_as_unused():
    assert census.classify(SOBEL, norm_share=0.2) == census.UNUSED
    assert census.classify(SOBEL, norm_share=1.0, dead_share=0.995) == census.UNUSED
    assert census.classify(SOBEL, norm_share=0.3, dead_share=0.9) == census.ORIENTED


def test_census_and_counts_of_a_layer():
    kernels = np.stack([SOBEL, LINE, CENTRE_SURROUND, GAUSSIAN, BOARD, 0.01 * SOBEL])
    table = census.census(kernels)
    assert table["kind"].tolist()[:5] == [census.ORIENTED] * 2 + [census.CENTRE_SURROUND, census.BLOB, census.CHECKERBOARD]
    assert table.loc[5, "kind"] == census.UNUSED and table.loc[5, "norm share"] < census.UNUSED_NORM_SHARE
    silent = census.census(kernels, dead_shares=np.array([1.0, 0, 0, 0, 0, 0]))
    assert silent.loc[0, "kind"] == census.UNUSED
    counts = census.counts({0: table, 1: silent})
    assert counts.index.name == "seed" and counts.columns.name is None  # no stray axis label above the seeds
    assert counts.loc[0].to_dict() == {
        census.ORIENTED: 2,
        census.CENTRE_SURROUND: 1,
        census.BLOB: 1,
        census.CHECKERBOARD: 1,
        census.UNUSED: 1,
    }
    assert counts.loc[1, census.ORIENTED] == 1 and counts.loc[1, census.UNUSED] == 2 and counts.sum(axis=1).tolist() == [6, 6]


def test_dead_shares_count_zero_outputs_per_filter():
    maps = np.zeros((2, 3, 3, 2))
    maps[..., 1] = 1.0
    maps[0, 0, 0, 0] = 0.5
    assert census.dead_shares(maps).tolist() == [pytest.approx(17 / 18), 0.0]


def test_the_study_claim_per_seed():

    def row(oriented, centre, blob, board, unused):
        return dict(zip(census.KINDS, (oriented, centre, blob, board, unused), strict=True))

    def counts(*rows):
        return pd.DataFrame(list(rows), index=pd.Index(range(len(rows)), name="seed"))

    every = census.with_claim(counts(row(20, 4, 3, 2, 3), row(22, 3, 3, 1, 3)))
    assert every[census.STUDY_CLAIM].tolist() == ["yes", "yes"]
    assert every[list(census.KINDS)].sum(axis=1).tolist() == [32, 32], "the counts are kept as they were"
    some = census.with_claim(counts(row(20, 4, 3, 2, 3), row(22, 3, 3, 0, 4)))
    assert some[census.STUDY_CLAIM].tolist() == ["yes", "no"], "seed 1 has no checkerboard filter"
    none = census.with_claim(counts(row(25, 0, 3, 2, 2)))
    assert none[census.STUDY_CLAIM].tolist() == ["no"], "no centre–surround filter"

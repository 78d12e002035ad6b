"""A census of first-layer filters: each kernel classified by a stated rule on its weights and its measured responses.

The rule, applied in this order to a kernel k (k×k weights, one input channel) of a trained first convolution:

1. **low-contrast / unused**: its weight norm is below `UNUSED_NORM_SHARE` of the layer's median norm, or its
   ReLU output is zero at more than `DEAD_SHARE` of the positions of the probe images (it hardly ever fires);
2. **blob**: its mean weight carries more than `BLOB_SHARE` of its energy (Σk²): a same-sign kernel that
   answers brightness in a patch more than any pattern inside it;
3. **high-frequency / checkerboard**: the checkerboard pattern (+1/−1 alternating in both directions)
   carries more than `PATTERN_SHARE` of the energy left after removing the mean;
4. **centre–surround**: the part of the zero-mean kernel that is unchanged by rotations by 90° and mirror
   images (the average over those eight symmetries, without the checkerboard) carries more than `PATTERN_SHARE`
   of that energy: the centre differs from a ring around it, whatever the direction;
5. **oriented edge or line**: every other kernel: most of its zero-mean energy changes under rotation,
   so it prefers a direction.

Shares of energy are shares of Σk² of orthogonal parts, so each lies in [0, 1] and the parts add up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

UNUSED = "low-contrast / unused"
BLOB = "blob"
CHECKERBOARD = "high-frequency / checkerboard"
CENTRE_SURROUND = "centre–surround"
ORIENTED = "oriented edge or line"
KINDS = (ORIENTED, CENTRE_SURROUND, BLOB, CHECKERBOARD, UNUSED)

UNUSED_NORM_SHARE = 0.25  # of the layer's median kernel norm
DEAD_SHARE = 0.99  # of probe-image positions where the ReLU output is zero
BLOB_SHARE = 0.5  # of Σk² carried by the mean
PATTERN_SHARE = 0.5  # of the zero-mean Σk² carried by the checkerboard, or by the rotation-symmetric part


def checkerboard(side: int) -> np.ndarray:
    """The ±1 checkerboard of a side×side kernel, with zero mean removed."""
    board = np.where(np.add.outer(np.arange(side), np.arange(side)) % 2 == 0, 1.0, -1.0)
    return board - board.mean()


def symmetric_part(kernel: np.ndarray) -> np.ndarray:
    """The average of a square kernel over its eight rotations and mirror images (the part none of them changes)."""
    turns = [np.rot90(kernel, turn) for turn in range(4)]
    return np.mean(turns + [np.fliplr(turn) for turn in turns], axis=0)


def energy_shares(kernel: np.ndarray) -> dict[str, float]:
    """The shares of a kernel's energy in its mean, and of its zero-mean energy in the checkerboard and the symmetric part."""
    kernel = np.asarray(kernel, dtype=np.float64)
    total = float(np.sum(kernel**2))
    centred = kernel - kernel.mean()
    rest = float(np.sum(centred**2))
    board = checkerboard(kernel.shape[0])
    along_board = float(np.sum(centred * board)) ** 2 / float(np.sum(board**2))
    symmetric = symmetric_part(centred)
    symmetric = symmetric - float(np.sum(symmetric * board)) / float(np.sum(board**2)) * board  # the board is symmetric too
    return {
        "mean share": (total - rest) / total if total > 0 else 0.0,
        "checkerboard share": along_board / rest if rest > 0 else 0.0,
        "symmetric share": float(np.sum(symmetric**2)) / rest if rest > 0 else 0.0,
    }


def classify(kernel: np.ndarray, *, norm_share: float = 1.0, dead_share: float = 0.0) -> str:
    """The kind of one kernel by the rule of this module; `norm_share` is its norm over the layer's median,
    `dead_share` the share of probe positions where its ReLU output is zero."""
    if norm_share < UNUSED_NORM_SHARE or dead_share > DEAD_SHARE:
        return UNUSED
    shares = energy_shares(kernel)
    if shares["mean share"] > BLOB_SHARE:
        return BLOB
    if shares["checkerboard share"] > PATTERN_SHARE:
        return CHECKERBOARD
    if shares["symmetric share"] > PATTERN_SHARE:
        return CENTRE_SURROUND
    return ORIENTED


def census(kernels: np.ndarray, dead_shares: np.ndarray | None = None) -> pd.DataFrame:
    """Every kernel (filters × k × k) with its energy shares, norm share, dead share and kind."""
    kernels = np.asarray(kernels, dtype=np.float64)
    norms = np.sqrt(np.sum(kernels**2, axis=(1, 2)))
    median = float(np.median(norms)) or 1.0
    dead = np.zeros(len(kernels)) if dead_shares is None else np.asarray(dead_shares, dtype=np.float64)
    rows = [
        {"filter": index, "norm share": norms[index] / median, "dead share": dead[index]}
        | energy_shares(kernel)
        | {"kind": classify(kernel, norm_share=norms[index] / median, dead_share=dead[index])}
        for index, kernel in enumerate(kernels)
    ]
    return pd.DataFrame(rows).set_index("filter")


def dead_shares(layer_activations: np.ndarray) -> np.ndarray:
    """Per filter, the share of positions (over images, rows and columns) where its ReLU output is zero."""
    return np.mean(layer_activations <= 0, axis=(0, 1, 2))


def counts(censuses: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """The number of filters of each kind, one row per seed (`censuses` maps seeds to `census` tables)."""
    table = pd.DataFrame({seed: frame["kind"].value_counts().reindex(KINDS, fill_value=0) for seed, frame in censuses.items()}).T
    table.index.name, table.columns.name = "seed", None  # value_counts names the kinds' axis "kind"
    return table.astype(int)


def claim_holds(row: pd.Series) -> bool:
    """The Fashion-MNIST study's claim for one seed: besides oriented edges, the first layer holds texture
    (checkerboard) and contrast (centre–surround) detectors: at least one filter of each of the three kinds."""
    return bool(row[ORIENTED] > 0 and row[CHECKERBOARD] > 0 and row[CENTRE_SURROUND] > 0)


STUDY_CLAIM = "oriented, checkerboard and centre–surround filters"  # the column `with_claim` adds


def with_claim(table: pd.DataFrame) -> pd.DataFrame:
    """`counts` with a column saying, per seed, whether the Fashion-MNIST study's claim holds (`claim_holds`)."""
    return table.assign(**{STUDY_CLAIM: ["yes" if claim_holds(row) else "no" for _, row in table.iterrows()]})

"""The primary hypotheses, declared before the run that tests them: what the paper exists to decide.

Each is tested on both datasets; together they form one family, corrected with Holm's method, and every other
comparison of a run is an estimate with its interval, labelled exploratory. A superiority hypothesis is decided by a
one-sided test of the difference (changed − original > 0, or < 0 for `direction` −1); an equivalence hypothesis by two
one-sided tests against ±`margin` points; an interaction compares two differences. `paired` says whether the two
samples share their seeds' initial stream and batch order, so that the analysis may pair them by seed.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from convlab.study import profiles
from convlab.study.identities import DATASET_TITLES, FC

EQUIVALENCE_MARGIN = 0.5  # points of test accuracy: a kernel size within this of 3×3 is "as good" for a reader
# The power plan, frozen from the earlier published run before this design trained (`paper.power_table --write`).
PLAN_FILE = Path(__file__).with_name("power_plan.json")
MIN_PRIMARY_SEEDS = 5  # no primary model trains on fewer, whatever the plan says it needs


@dataclass(frozen=True)
class Hypothesis:
    key: str
    statement: str
    kind: str  # "superiority", "equivalence" or "interaction"
    changed: str  # model names as stored (`identities` and their variants)
    original: str
    metric: str = "test"  # "test": test accuracy; "shifted": accuracy at a 3-pixel shift
    direction: int = 1  # +1: changed above original; −1: below
    margin: float = 0.0  # equivalence only
    paired: bool = True
    changed_control: str = ""  # interaction: the difference changed − original against changed_control − original_control
    original_control: str = ""


PRIMARY = (
    Hypothesis("cnn_above_fc", "the CNN is more accurate than the FC network", "superiority", "cnn", FC),
    Hypothesis(
        "locality_interaction",
        "shuffling the pixels costs the CNN more than the FC network",
        "interaction",
        "cnn_perm0",
        "cnn",
        direction=-1,
        changed_control="fc_baseline_perm0",
        original_control=FC,
    ),
    Hypothesis(
        "weight_sharing",
        "the CNN is more accurate than its twin whose first layer is locally connected",
        "superiority",
        "cnn",
        "cnn_local1",
    ),
    Hypothesis(
        "shift_cnn_above_fc",
        "at a 3-pixel shift the CNN keeps more accuracy than the FC network",
        "superiority",
        "cnn",
        FC,
        metric="shifted",
    ),
    Hypothesis(
        "k5_equivalent", "a 5×5 first layer is as accurate as 3×3", "equivalence", "cnn_k5", "cnn", margin=EQUIVALENCE_MARGIN
    ),
    Hypothesis(
        "k7_equivalent", "a 7×7 first layer is as accurate as 3×3", "equivalence", "cnn_k7", "cnn", margin=EQUIVALENCE_MARGIN
    ),
)
# Where a hypothesis is tested with Welch's unpaired test rather than paired by seed, declared before the run from the
# power table of the earlier published run (`paper.power_table`): there the seeds of the two models were negatively
# correlated (pairing would lose power), or there were no earlier records. Every other test pairs by seed.
WELCH_ON = frozenset(
    {
        ("cnn_above_fc", "fashion_mnist"),
        ("shift_cnn_above_fc", "fashion_mnist"),
        ("shift_cnn_above_fc", "mnist"),
        ("weight_sharing", "fashion_mnist"),
        ("weight_sharing", "mnist"),
    }
)
DATASETS_PER_HYPOTHESIS = 2
FAMILY_SIZE = len(PRIMARY) * DATASETS_PER_HYPOTHESIS  # the tests Holm corrects together (at most 12)


def primary_models() -> frozenset[str]:
    """The stored model names some primary hypothesis compares: they train on every seed of a run."""
    names = set()
    for hypothesis in PRIMARY:
        names |= {hypothesis.changed, hypothesis.original, hypothesis.changed_control, hypothesis.original_control}
    return frozenset(names - {""})


@functools.cache
def planned_needs() -> dict[tuple[str, str], int | None]:
    """(hypothesis key, dataset title) → the seeds the frozen plan says its test needs: a number; `None` where the
    earlier run had no records to plan from; 0 where no number within reach would decide it."""
    rows = json.loads(PLAN_FILE.read_text(encoding="utf-8"))["rows"]
    needs: dict[tuple[str, str], int | None] = {}
    for row in rows:
        need = row["seeds needed"]
        needs[(row["hypothesis"], row["dataset"])] = need if isinstance(need, int) else (None if row["test"] is None else 0)
    return needs


def planned_seed_count(name: str, dataset: str) -> int | None:
    """The seeds a primary model trains on by the power plan: the most that any hypothesis naming it needs on this
    dataset, at least `MIN_PRIMARY_SEEDS`; `None` (every seed of the run) where one of them could not be planned."""
    counts = []
    for hypothesis in PRIMARY:
        named = {hypothesis.changed, hypothesis.original, hypothesis.changed_control, hypothesis.original_control}
        if name in named:
            need = planned_needs()[(hypothesis.key, DATASET_TITLES[dataset])]
            if need is None:
                return None
            counts.append(need)
    return max([MIN_PRIMARY_SEEDS, *counts])


def seeds_for_model(name: str, seeds: tuple[int, ...], dataset: str, by_power: bool = True) -> tuple[int, ...]:
    """A run's seeds for one model on one dataset: for a primary model the first `planned_seed_count` of them (all of
    them when `by_power` is off, or the plan could not count), the exploratory share for any other model."""
    if name not in primary_models():
        return profiles.exploratory_seeds(seeds)
    planned = planned_seed_count(name, dataset) if by_power else None
    return seeds if planned is None else seeds[:planned]


def paired_on(hypothesis: Hypothesis, dataset: str) -> bool:
    """Whether this hypothesis is tested paired by seed on this dataset (an interaction always is)."""
    return hypothesis.kind == "interaction" or (hypothesis.paired and (hypothesis.key, dataset) not in WELCH_ON)

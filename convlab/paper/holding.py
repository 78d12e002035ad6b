"""What a run holds, so that the text fits it: the experiments present on both datasets, the seeds, and the
words and section numbers that follow from them. `context` gathers it as `c.has` (the text's `has`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from convlab.experiments import protocol
from convlab.paper import runs
from convlab.study import config, identities


@dataclass(frozen=True)
class Holdings:
    """What the run holds on both datasets, so that the text fits it: a chapter whose records are absent is left out,
    and statements across seeds need at least two."""

    seeds: int  # the seeds of the FC network and the CNN, on the dataset and model with fewest
    test_images: bool  # the test labels the records were evaluated on (McNemar, per-class errors, figures)
    reference: bool  # the reference runs of 12_training_protocol
    literal: bool  # the studies' protocol trained literally (60,000 images, 15 epochs, the last weights)
    kernels: bool  # 5×5 and 7×7 first layers
    kernels_both: bool  # 5×5 in both layers (7×7 in both: `kernels_both_7`)
    gap: bool
    pooling: bool
    permutation: bool
    local: bool  # the CNN's twin whose first layer is locally connected
    translation: bool
    augmentation: bool
    curves: bool
    latency: bool
    serving: bool
    cnn_model: bool = False  # the seed-0 CNN's model file on both datasets (the figures that run it)
    primary: bool = False  # some primary hypothesis tested (two seeds or more of both its samples)
    kernels_both_7: bool = False  # 7×7 in both layers too (costed in every run, trained only where the budget allowed)

    @property
    def several_seeds(self) -> bool:
        return self.seeds >= 2

    @property
    def every_experiment(self) -> bool:
        return all(getattr(self, name) for name in EXPERIMENTS)


# What each experiment adds, for the box that lists what a run without it leaves out.
EXPERIMENTS = {
    "reference": "reference runs that measure the stopping rule and read the studies' own 15-epoch protocol",
    "literal": "the studies' protocol trained literally: all 60,000 images, exactly 15 epochs, the last weights",
    "kernels": "the kernel sweep in the first convolutional layer",
    "kernels_both": "the kernel sweep in both convolutional layers",
    "gap": "a head without position-specific weights (global average pooling)",
    "pooling": "average pooling against max pooling",
    "permutation": "models trained on shuffled pixels (locality)",
    "local": "a twin of the CNN whose first layer is locally connected (weight sharing)",
    "translation": "accuracy on shifted test images",
    "augmentation": "models trained on shifted images",
    "curves": "learning curves on smaller training sets",
    "latency": "single-image latency",
}


def cnn_model_file(root: Path, dataset: str) -> Path | None:
    """The seed-0 CNN's model file of a dataset's run, where it is stored."""
    path = root / dataset / "models" / "cnn-seed0.keras"
    return path if path.is_file() else None


def _read_like_the_studies(run: runs.DatasetRun) -> bool:
    """Reference runs of both families long enough to be read after the studies' epochs (a smoke run's are not)."""
    at_studies = protocol.studies_protocol(run.reference) if run.reference else {}
    return all(at_studies.get(family) for family in ("FC", "CNN"))


def _trained_literally(run: runs.DatasetRun) -> bool:
    """FC and CNN trained under the studies' literal protocol, for its full 15 epochs (a smoke run's are shorter)."""
    return all(
        any(r["epochs_run"] == protocol.STUDIES_EPOCHS for r in run.literal.get(family, [])) for family in protocol.FAMILIES
    )


PROBED_SHIFTS = (0, 3, 6)  # pixels: the shifts the text reads from the translation probe


def _probed_far_enough(run: runs.DatasetRun) -> bool:
    """The FC network's and the CNN's translation probes, each reaching every shift the text reads."""
    return all(
        probes and all(set(PROBED_SHIFTS) <= {row["shift"] for row in probe["result"]["rows"]} for probe in probes)
        for probes in (run.translation.get("cnn"), run.translation.get(identities.FC))
    )


def holdings(loaded: Mapping[str, runs.DatasetRun], tests: Mapping[str, object], serving: Mapping) -> Holdings:
    every = [loaded.get(name) for name in config.DATASETS]
    present = [run for run in every if run is not None]

    def on_both(test) -> bool:
        return len(present) == len(config.DATASETS) and all(test(run) for run in present)

    return Holdings(
        seeds=min((len(run.groups.get(name, [])) for run in present for name in (identities.CNN, identities.FC)), default=0),
        test_images=all(tests.get(name) is not None for name in config.DATASETS),
        reference=on_both(_read_like_the_studies),
        literal=on_both(_trained_literally),
        kernels=on_both(lambda run: run.has("cnn_k5", "cnn_k7")),
        kernels_both=on_both(lambda run: run.has("cnn_k5-5")),
        kernels_both_7=on_both(lambda run: run.has("cnn_k5-5", "cnn_k7-7")),
        gap=on_both(lambda run: run.has("cnn_gap")),
        pooling=on_both(lambda run: run.has("cnn_avgpool")),
        permutation=on_both(lambda run: run.has("cnn_perm0", "fc_baseline_perm0")),
        local=on_both(lambda run: run.has("cnn_local1")),
        translation=on_both(_probed_far_enough),
        augmentation=on_both(lambda run: run.has("cnn_shift4", "fc_baseline_shift4")),
        curves=on_both(lambda run: bool(run.curves)),
        latency=on_both(lambda run: {"cnn", identities.FC} <= set(run.latency)),
        serving=bool(serving),
    )


NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def seeds_text(count: int) -> str:
    """ "one seed", "three seeds": how the text names a run's seeds."""
    word = NUMBER_WORDS[count] if count < len(NUMBER_WORDS) else f"{count:,}"
    return f"{word} seed" if count == 1 else f"{word} seeds"


class Numbering:
    """Consecutive section numbers in the order the text asks for them, so that a left-out section leaves no gap."""

    def __init__(self, first: int):
        self.first = self.next = first

    def restart(self) -> None:
        """Number again from the first section (each rendering of the text counts its sections anew)."""
        self.next = self.first

    def __call__(self, _declared: int) -> int:
        number, self.next = self.next, self.next + 1
        return number

"""Check the published paper without rerunning all of it: `make verify` (`python -m convlab.tools.verify`).

Two parts, one table:

trainings
    A stated sample of the published run's trainings (`SAMPLE`: seed 0 of the FC network and of the CNN on both
    datasets) is trained again here, through the project's own training path (`workers.train_all`, which calls
    `fit.train_or_reuse` in at most one worker process per core) with each published record's model and training
    settings, into a scratch folder: the published records are only read, and the run cache under `reports/` is
    neither consulted nor written. Each retrained record is compared with its published one. On the same kind of
    processor (the same CPU model and vector instruction sets, and the same training precision) training is
    deterministic, so the test predictions must be equal bit for bit. Elsewhere the difference in test accuracy is
    read beside the published run's seed spread: the standard deviation over its seeds, their range, and the 95%
    Student-t prediction interval for one more run (`protocol.prediction_interval`, the interval the paper reads for
    the studies' figures). The published CNNs trained in bfloat16 on a CPU with native bfloat16; on a CPU without it
    they train in float32 here (the run's own rule, `precision.training_precision`), so they compare by seed spread
    there.

numbers
    Every number the paper prints, recomputed from the published records (`convlab.tools.paper_numbers`).

Exit status 0 when every row passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from convlab.store import records
from convlab.study import config, identities, paths
from convlab.tools.paper_numbers import PUBLISHED_DIR, NumbersCheck, check_numbers

# (dataset, model, seed): one FC network and one CNN per dataset. On 2 cores of an AMD EPYC without AVX-512 (the CNNs
# in float32) the four trained in 480 s, two at a time, the CNNs first; the whole of `make verify` took 529 s.
SAMPLE = (
    ("fashion_mnist", identities.FC, 0),
    ("fashion_mnist", "cnn", 0),
    ("mnist", identities.FC, 0),
    ("mnist", "cnn", 0),
)
IDENTICAL, WITHIN, OUTSIDE, NOT_IDENTICAL, NO_SPREAD = (
    "identical",
    "within seed spread",
    "outside",
    "not identical",  # the same kind of processor, yet other predictions: training was not reproduced
    "no seed spread",  # fewer than two published seeds: nothing to read the difference against
)
PASSING = (IDENTICAL, WITHIN)


@dataclass(frozen=True)
class Spread:
    """The published run's test accuracies of one model over its seeds (fractions)."""

    accuracies: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.accuracies)

    @property
    def sd(self) -> float:
        return statistics.stdev(self.accuracies) if self.n >= 2 else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% prediction interval for one more run's accuracy (NaN with fewer than two seeds)."""
        from convlab.experiments import protocol

        return protocol.prediction_interval(list(self.accuracies))

    def in_range(self, value: float) -> bool:
        return min(self.accuracies) <= value <= max(self.accuracies)

    def in_interval(self, value: float) -> bool:
        low, high = self.interval
        return low <= value <= high

    def describe(self) -> str:
        if self.n < 2:
            return f"{self.n} seed"
        low, high = self.interval
        return (
            f"sd {100 * self.sd:.2f} ({self.n} seeds, {100 * min(self.accuracies):.2f}–{100 * max(self.accuracies):.2f};"
            f" PI {100 * low:.2f}–{100 * high:.2f})"
        )


def machine_kind(record: dict) -> tuple:
    """What decides a training's arithmetic besides its settings: CPU model, vector instruction sets, precision."""
    environment = record.get("environment", {})
    return environment.get("cpu"), tuple(environment.get("cpu_isa") or ()), record.get("parameters", {}).get("precision")


@dataclass(frozen=True)
class Comparison:
    """A retrained record against its published one."""

    same_kind: bool  # same CPU model, instruction sets and training precision: bit for bit is expected
    identical: bool  # test predictions and accuracy equal
    published: float
    retrained: float
    spread: Spread
    verdict: str

    @property
    def difference(self) -> float:
        return self.retrained - self.published

    @property
    def passed(self) -> bool:
        return self.verdict in PASSING


def compare(published: dict, retrained: dict, spread: Spread) -> Comparison:
    """The verdict on one retrained record: `identical` (equal predictions), else on the same kind of processor
    `not identical`, elsewhere `within seed spread` when its accuracy lies in the published seeds' 95% prediction
    interval and `outside` when it does not (`no seed spread` with fewer than two published seeds)."""
    same_kind = machine_kind(published) == machine_kind(retrained)
    ours, theirs = retrained["test"], published["test"]
    identical = ours["predictions"] == theirs["predictions"] and ours["accuracy"] == theirs["accuracy"]
    if identical:
        verdict = IDENTICAL
    elif same_kind:
        verdict = NOT_IDENTICAL
    elif spread.n < 2:
        verdict = NO_SPREAD
    else:
        verdict = WITHIN if spread.in_interval(ours["accuracy"]) else OUTSIDE
    return Comparison(same_kind, identical, theirs["accuracy"], ours["accuracy"], spread, verdict)


def published_record(root: Path, dataset: str, model: str, seed: int) -> dict:
    return records.read_record(records.record_path(root / dataset / "results", model, seed))


def published_spread(root: Path, dataset: str, model: str) -> Spread:
    """The test accuracies of every published seed of a model (the run's own records, not the reference runs')."""
    found = records.committed((root / dataset / "results").glob(f"{model}-seed*.json"))
    matching = [records.read_record(path) for path in sorted(found)]
    return Spread(tuple(record["test"]["accuracy"] for record in matching if record["model"]["name"] == model))


def settings_here(record: dict, isa: list[str] | None = None, environment=os.environ):
    """The model and training settings a published record was trained with, as this machine trains them: the
    record's own, except a bfloat16 precision on a CPU without native bfloat16, which trains in the run's rule's
    precision here (float32; `CONVLAB_PRECISION` chooses otherwise). Returns (model config, settings, note)."""
    from convlab.training import fit, models, precision, requests

    model_config = requests._as_fields(models.ModelConfig, record["model"])
    settings = requests._as_fields(fit.TrainingConfig, record["parameters"])
    note = ""
    chosen = settings.precision
    if environment.get(precision.PRECISION_ENV, "").strip().lower() not in ("", "auto"):
        chosen = precision.training_precision(environment, isa)
    elif settings.precision == precision.BFLOAT16 and not precision.native_bfloat16(isa):
        chosen = precision.training_precision(environment, isa)
        note = f"trained in {chosen} here: this CPU does not compute bfloat16 natively (the published run did)"
    if chosen != settings.precision:
        note = note or f"trained in {chosen} here ({precision.PRECISION_ENV})"
        settings = dataclasses.replace(settings, precision=chosen)
    return model_config, settings, note


@dataclass
class Row:
    dataset: str
    model: str
    seed: int
    comparison: Comparison
    notes: list[str] = field(default_factory=list)


def check_trainings(
    sample: Sequence[tuple[str, str, int]], published_root: Path, scratch: Path, workers: int | None = None
) -> list[Row]:
    """Train the sample into `scratch` (see the module's docstring) and compare each with its published record."""
    from convlab.datasets import data
    from convlab.training import fit
    from convlab.training import workers as training_workers

    loaded, tasks, notes, published = {}, [], [], []
    for dataset, model, seed in sample:
        record = published_record(published_root, dataset, model, seed)
        if dataset not in loaded:
            loaded[dataset] = data.load_dataset(dataset)  # verified against the checksums the records hold too
        model_config, settings, note = settings_here(record)
        key = fit.cache_key(
            model_config, loaded[dataset], seed, dataclasses.replace(settings, precision=record["parameters"]["precision"])
        )
        row_notes = [note] if note else []
        row_notes.append(
            "the published record's cache key is recomputed here from its settings"
            if key == record["cache_key"]
            else "the published cache key is not recomputed here: " + _key_difference(record)
        )
        tasks.append(training_workers.Task(model_config, loaded[dataset], seed, settings, subfolder=dataset))
        notes.append(row_notes)
        published.append(record)
    params = config.RunParameters(
        dataset=sample[0][0],
        data_dir=paths.resolve_data_dir(),
        epochs=1,
        seeds=tuple(sorted({seed for _, _, seed in sample})),
        train_size=0,
        test_size=0,
        batch_size=32,
        output_dir=scratch,
        images_dir=scratch / "images",
    )
    cores = os.cpu_count() or 1
    processes = min(workers or training_workers.worker_count(), cores, len(tasks))
    retrained = training_workers.train_all(tasks, params, workers=processes)
    here = records.environment_stamp()
    rows = []
    for (dataset, model, seed), record, ours, row_notes in zip(sample, published, retrained, notes, strict=True):
        comparison = compare(record, ours, published_spread(published_root, dataset, model))
        if not comparison.same_kind:
            row_notes.append(
                f"other kind of processor: published {records.machine_of(record['environment'])}, "
                f"{record['parameters']['precision']}; here {records.machine_of(here)}, {ours['parameters']['precision']}"
            )
        changed = sum(a != b for a, b in zip(ours["test"]["predictions"], record["test"]["predictions"], strict=True))
        row_notes.append(
            f"{changed} of {len(ours['test']['predictions'])} test predictions differ; epochs run {ours['epochs_run']} "
            f"(published {record['epochs_run']}); trained in {ours['timing']['train_seconds']:.0f} s"
        )
        rows.append(Row(dataset, model, seed, comparison, row_notes))
    return rows


def _key_difference(record: dict) -> str:
    """What differs between the published record's training environment and this one, as far as the record says."""
    theirs, here = record.get("environment", {}), records.environment_stamp()
    hashed = ("tensorflow", "tensorflow-cpu", "keras", "numpy")  # the versions `fit.cache_key` hashes
    pairs = {name: (theirs.get("packages", {}).get(name), here["packages"].get(name)) for name in hashed}
    pairs |= {name: (theirs.get(name), here[name]) for name in ("threads", "onednn")}
    different = [f"{name} {there!r} there, {ours!r} here" for name, (there, ours) in pairs.items() if there != ours]
    return "; ".join(different) or "the code that decides a training result differs from the published run's"


def percent(value: float) -> str:
    return f"{100 * value:.2f}"


def table(rows: Sequence[Row], numbers: NumbersCheck | None) -> str:
    """The one table: a row per retrained model, then the row of the recomputed numbers."""
    head = ("dataset", "model", "seed", "published %", "retrained %", "difference", "published seed spread", "verdict")
    lines = [
        (
            row.dataset,
            row.model,
            str(row.seed),
            percent(row.comparison.published),
            percent(row.comparison.retrained),
            f"{100 * row.comparison.difference:+.2f}",
            row.comparison.spread.describe(),
            row.comparison.verdict,
        )
        for row in rows
    ]
    if numbers is not None:
        lines.append(("paper", "every number", "", "", "", "", "rendered from the published records", numbers.summary()))
    widths = [max(len(line[index]) for line in (head, *lines)) for index in range(len(head))]
    formatted = [
        " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in (head, *lines)
    ]
    return "\n".join([formatted[0], "-+-".join("-" * width for width in widths), *formatted[1:]])


def details(rows: Sequence[Row], numbers: NumbersCheck | None, limit: int = 20) -> list[str]:
    """The notes under the table: how each training compared, and every number or sentence that differs."""
    lines = [f"{row.dataset} {row.model} seed {row.seed}: {'; '.join(row.notes)}" for row in rows]
    if numbers is None:
        return lines
    lines += [f"paper: {note}" for note in numbers.notes]
    lines.append(
        f"paper: {numbers.rendered} numbers in the rendered text, {numbers.published} in the published one; "
        f"figures drawn identical: {numbers.figures[0]} of {numbers.figures[1]}; "
        + (
            f"claims failing on the published records: {', '.join(numbers.failed_claims)}"
            if numbers.failed_claims
            else "every claim holds"
        )
    )
    if numbers.reworded[1]:
        lines.append(
            f"paper: {numbers.reworded[1]} numbers lie in sentences the published paper words otherwise; "
            f"{numbers.reworded[0]} of them are printed in the published sentences those replace"
        )
    for theirs, ours, sentence in numbers.differing[:limit]:
        lines.append(f"  number differs: published {theirs}, rendered {ours}, in: {sentence}")
    for label, found in (("published only", numbers.only_published), ("rendered only", numbers.only_rendered)):
        for sentence in found[:limit]:
            lines.append(f"  {label}: {sentence}")
        if len(found) > limit:
            lines.append(f"  ... and {len(found) - limit} more {label} sentences")
    return lines


def verdict(rows: Sequence[Row], numbers: NumbersCheck | None) -> tuple[bool, str]:
    failed = [f"{row.dataset} {row.model} seed {row.seed} {row.comparison.verdict}" for row in rows if not row.comparison.passed]
    if numbers is not None and not numbers.passed:
        reasons = []
        if numbers.differing:
            reasons.append(f"{len(numbers.differing)} numbers differ")
        if numbers.only_published or numbers.only_rendered:
            reasons.append(
                f"{len(numbers.only_published)} published sentences are not the code's text "
                f"({len(numbers.only_rendered)} rendered ones not published): the published paper was built from other "
                "text; refresh it (python -m convlab.report.report --refresh-published) or check out its commit"
            )
        failed.append("paper: " + ", ".join(reasons or [numbers.summary()]))
    if failed:
        return False, "FAIL: " + "; ".join(failed) + "."
    parts = [f"{len(rows)} retrained models agree with their published records"] if rows else []
    if numbers is not None:
        parts.append(f"every number the paper prints ({numbers.rendered}) is recomputed from the published records")
    return True, "PASS: " + "; ".join(parts) + "."


def sample_item(value: str) -> tuple[str, str, int]:
    """One training of the sample, `dataset:model:seed` (argparse's type for --sample)."""
    parts = value.split(":")
    if len(parts) != 3 or parts[0] not in config.DATASETS or not parts[2].isdigit():
        raise argparse.ArgumentTypeError(f"{value!r}: give dataset:model:seed, the dataset one of {', '.join(config.DATASETS)}")
    return parts[0], parts[1], int(parts[2])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers-only", action="store_true", help="only recompute the paper's numbers (quick)")
    parser.add_argument("--published", type=Path, default=PUBLISHED_DIR, help="the published run (default: reports/published)")
    parser.add_argument("--page", type=Path, help="the published paper to compare (default: <published>/report.html)")
    parser.add_argument(
        "--sample",
        nargs="+",
        type=sample_item,
        metavar="DATASET:MODEL:SEED",
        help="the trainings to retrain (default: " + " ".join(f"{d}:{m}:{s}" for d, m, s in SAMPLE) + ")",
    )
    parser.add_argument(
        "--scratch", type=Path, help="keep the retrained runs here (reused when identical); default: a temporary folder, removed"
    )
    parser.add_argument("--workers", type=int, help="trainings at once (default and most: the number of cores)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows: list[Row] = []
    if not args.numbers_only:
        sample = tuple(args.sample or SAMPLE)
        for protected in (PUBLISHED_DIR, args.published, paths.REPORTS_DIR):
            if args.scratch and args.scratch.resolve().is_relative_to(protected.resolve()):
                parser.error(f"--scratch {args.scratch} lies in {protected}: give a folder outside the reports")
        scratch = args.scratch or Path(tempfile.mkdtemp(prefix="convlab-verify-"))
        print(
            f"Retraining {len(sample)} published trainings into {scratch}: "
            + ", ".join(f"{d} {m} seed {s}" for d, m, s in sample),
            flush=True,
        )
        try:
            rows = check_trainings(sample, args.published, scratch, args.workers)
        except records.MissingResultError as error:
            print(f"ERROR: the sample names a training the published run does not hold: {error}")
            return 1
        finally:
            if args.scratch is None:
                shutil.rmtree(scratch, ignore_errors=True)
        print(f"Retrained and compared in {time.perf_counter() - started:.0f} s.", flush=True)
    print("Rendering the paper from the published records.", flush=True)
    numbers_started = time.perf_counter()
    numbers = check_numbers(args.published, args.page)
    numbers.notes.append(f"rendered and compared in {time.perf_counter() - numbers_started:.0f} s")
    passed, line = verdict(rows, numbers)
    print()
    print(table(rows, numbers))
    print()
    for note in details(rows, numbers):
        print(note)
    print()
    print(f"{line} ({time.perf_counter() - started:.0f} s)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""What a full run of the current design will cost in training FLOP, planned from an earlier run's records.

Each stored model of the earlier run gives its mean FLOP per seed (`analysis.costs.training_flops`); the design gives
the seeds it trains on each dataset (`hypotheses.seeds_for_model` over the full profile's seeds, as the power plan
counts them) and leaves out the both-layer kernels it only costs (`design.BOTH_LAYER_SIZES_TRAINED`). A model the
earlier run lacks is planned from the nearest one it holds (the locally connected twin from the CNN: the same
multiply-accumulates). The protocol's runs are planned from their settings: one long-patience run per family, which
trains `REFERENCE_PATIENCE − PATIENCE` epochs past where the earlier run's rule stopped (at most the cap), and the
literal protocol exactly 15 epochs on 60,000 images. `epoch_factor` scales the trainings that early stopping ends,
for a stopping rule other than the earlier run's. `trained`: a report tree whose protocol runs have already trained
(`12_training_protocol` of the full profile): where it holds every run of a protocol part, that part counts their
recorded FLOP instead of a plan, and a shift-augmented model, which trains by the long runs' own rule, is planned at its
long run's epochs.

    python -m convlab.tools.budget [reports/published] [--epoch-factor 1.3] [--trained reports]
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from convlab.analysis import costs
from convlab.experiments import design, literal, protocol
from convlab.store import records
from convlab.study import config, hypotheses, identities, profiles

STAND_INS = {"cnn_local1": "cnn"}  # a model the earlier run may lack, and the stored model that plans it
REFERENCE_MODELS = (identities.FC, identities.CNN)  # families whose long runs the earlier run holds


def _per_seed(results: Path) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = defaultdict(list)
    for relative, record in costs.training_records(results):
        found[relative.rsplit("-seed", 1)[0]].append(record)
    return found


def costed_only(name: str) -> bool:
    """A both-layer kernel variant the design costs but does not train ("cnn_k7-7")."""
    both = re.fullmatch(r"cnn_k(\d+)-\1", name)
    return bool(both) and int(both.group(1)) not in design.BOTH_LAYER_SIZES_TRAINED


LONG_RUNS = "long-patience runs (one per family)"
LITERAL = "the studies' literal protocol"


def trained_protocol(root: Path, dataset: str) -> dict[str, list[dict]]:
    """The protocol's runs a report tree holds for a dataset, by part (`LONG_RUNS`, `LITERAL`)."""
    found: dict[str, list[dict]] = {LONG_RUNS: [], LITERAL: []}
    for relative, record in costs.training_records(root / dataset / "results"):
        if relative.startswith(f"{literal.FOLDER}/"):
            found[LITERAL].append(record)
        elif relative.startswith(f"{protocol.FOLDER}/"):
            found[LONG_RUNS].append(record)
    return found


def plan(root: Path, datasets=config.DATASETS, epoch_factor: float = 1.0, trained: Path | None = None) -> pd.DataFrame:
    """One row per part of the planned full run and dataset: trainings and training FLOP."""
    seeds = profiles.PROFILES["full"].seeds
    rows = []
    for dataset in datasets:
        stored = _per_seed(root / dataset / "results")
        if not stored:
            continue

        def mean_flops(name: str, stored=stored) -> float:
            return float(np.mean([costs.training_flops(r) for r in stored[STAND_INS.get(name, name)]]))

        models = [name for name in stored if "/" not in name and not costed_only(name)]
        models += [n for n in STAND_INS if n not in stored]
        for name in models:
            count = len(hypotheses.seeds_for_model(name, seeds, dataset))
            part = "primary models" if name in hypotheses.primary_models() else "exploratory models"
            per_run = mean_flops(name) * epoch_factor
            long_run = trained and long_rule_epochs(trained, dataset, name)
            if long_run:  # trains by the long runs' own rule: as many epochs as its long run
                group = stored[STAND_INS.get(name, name)]
                per_run = long_run * np.mean([costs.training_flops(r) / r["epochs_run"] for r in group])
            rows.append({"dataset": dataset, "part": part, "trainings": count, "FLOP": count * per_run})
        for name, group in stored.items():
            if name.startswith(design.CURVES_FOLDER + "/"):
                rows.append(
                    {
                        "dataset": dataset,
                        "part": "learning curves",
                        "trainings": len(group),
                        "FLOP": sum(map(costs.training_flops, group)) * epoch_factor,
                    }
                )
        part, planned = LONG_RUNS, len(rows)
        for name in REFERENCE_MODELS:
            rows.append({"dataset": dataset, "part": part, "trainings": 1, "FLOP": mean_flops(f"{protocol.FOLDER}/{name}")})
        families = protocol.family_configs(dataset)
        extra = [(c.name, 1) for c in families.values()]
        extra.append((families[design.CNN_GAP].name, len(protocol.GAP_LEARNING_RATES)))
        longer = protocol.REFERENCE_PATIENCE - profiles.PATIENCE
        for name, count in extra:
            group = stored[STAND_INS.get(name, name)]
            epochs = np.mean(
                [min(r["parameters"]["epochs"], max(protocol.STUDIES_EPOCHS, r["epochs_run"] + longer)) for r in group]
            )
            per_epoch = np.mean([costs.training_flops(r) / r["epochs_run"] for r in group])
            rows.append({"dataset": dataset, "part": part, "trainings": count, "FLOP": count * epochs * per_epoch})
        for name in REFERENCE_MODELS:
            macs = stored[name][0]["macs_per_image"]
            count = len(profiles.exploratory_seeds(seeds))
            flops = costs.TRAINING_FLOPS_PER_MAC * macs * config.SPLIT_SIZES["train_size"] * protocol.STUDIES_EPOCHS
            rows.append({"dataset": dataset, "part": LITERAL, "trainings": count, "FLOP": count * flops})
        if trained is not None:
            rows[planned:] = measured_protocol(rows[planned:], trained_protocol(trained, dataset), dataset)
    frame = pd.DataFrame(rows).groupby("part", sort=False)[["trainings", "FLOP"]].sum()
    frame.loc["all"] = frame.sum()
    return frame.astype({"trainings": int})


def long_rule_epochs(trained: Path, dataset: str, name: str) -> int | None:
    """The epochs of a shift-augmented model's long run in a report tree (it trains by that run's rule), or None."""
    path = trained / dataset / "results" / protocol.FOLDER / f"{name}-seed0.json"
    if not path.is_file():
        return None
    record = records.read_json(path)
    return int(record["epochs_run"]) if record["model"].get("shift_augmentation") else None


def measured_protocol(planned: list[dict], trained: dict[str, list[dict]], dataset: str) -> list[dict]:
    """The protocol's planned rows, each part replaced by the recorded FLOP of its trained runs where all are there."""
    rows = []
    for part in (LONG_RUNS, LITERAL):
        mine = [row for row in planned if row["part"] == part]
        if len(trained[part]) >= sum(row["trainings"] for row in mine):
            flops = sum(map(costs.training_flops, trained[part]))
            mine = [{"dataset": dataset, "part": f"{part}, trained", "trainings": len(trained[part]), "FLOP": flops}]
        rows += mine
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A full run's training FLOP, planned from the records of an earlier run.")
    parser.add_argument("root", nargs="?", type=Path, default=Path("reports/published"), help="the earlier run's reports root")
    parser.add_argument("--epoch-factor", type=float, default=1.0, help="epochs per run over the earlier run's")
    parser.add_argument("--trained", type=Path, help="a report tree whose protocol runs (notebook 12) have trained")
    arguments = parser.parse_args(argv)
    root = arguments.root
    table = plan(root, epoch_factor=arguments.epoch_factor, trained=arguments.trained)
    total = float(table.loc["all", "FLOP"])
    print(f"A full run of this design, planned from the records under {root} (seeds {profiles.PROFILES['full'].seeds}):")
    print(table.to_string(formatters={"FLOP": "{:.3g}".format}))
    verdict = "within" if total <= costs.FULL_RUN_FLOP_BUDGET else "over"
    ratio = total / costs.FULL_RUN_FLOP_BUDGET
    print(f"Planned {total:.3g} training FLOP: {verdict} the budget of {costs.FULL_RUN_FLOP_BUDGET:.3g} ({ratio:.2f}×).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

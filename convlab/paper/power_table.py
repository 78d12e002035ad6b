"""The seeds each primary hypothesis needs, from an earlier run's spread: the power calculation of the methods.

For each hypothesis of `study.hypotheses.PRIMARY` and each dataset, the earlier run's seeds give the two groups'
standard deviations, the per-seed differences' standard deviation (the pairing) and the correlation between the
groups' seeds, and the planning effect: the observed difference for a superiority or interaction hypothesis, and
for an equivalence hypothesis the observed difference as the true one. Seeds are planned at Holm's first step,
α/m over the whole primary family, for 80% power (`analysis.power`).

    python -m convlab.paper.power_table [reports/published]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from convlab.analysis import power
from convlab.paper import family, runs
from convlab.study import config, hypotheses

ALPHA = 0.05


def _by_seed(run: runs.DatasetRun, name: str, metric: str) -> dict[int, float]:
    if metric == "shifted":
        probes = sorted(run.translation.get(name, []), key=lambda probe: probe["seed"])
        values = family.shifted_accuracies(run, name)
        return {probe["seed"]: float(value) for probe, value in zip(probes, values, strict=False)}
    return {record["seed"]: 100 * record["test"]["accuracy"] for record in run.groups.get(name, [])}


def per_seed_effect(run: runs.DatasetRun, hypothesis: hypotheses.Hypothesis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two samples on their shared seeds, and each seed's effect (for an interaction, the difference of the
    two differences)."""
    changed, original = (
        _by_seed(run, hypothesis.changed, hypothesis.metric),
        _by_seed(run, hypothesis.original, hypothesis.metric),
    )
    seeds = sorted(set(changed) & set(original))
    if hypothesis.kind == "interaction":
        control = _by_seed(run, hypothesis.changed_control, hypothesis.metric)
        baseline = _by_seed(run, hypothesis.original_control, hypothesis.metric)
        seeds = sorted(set(seeds) & set(control) & set(baseline))
        effect = np.array([(changed[s] - original[s]) - (control[s] - baseline[s]) for s in seeds])
        first = np.array([changed[s] - original[s] for s in seeds])
        second = np.array([control[s] - baseline[s] for s in seeds])
        return first, second, effect
    first, second = np.array([changed[s] for s in seeds]), np.array([original[s] for s in seeds])
    return first, second, first - second


def power_table(loaded: dict[str, runs.DatasetRun], alpha: float = ALPHA) -> pd.DataFrame:
    """One row per primary hypothesis and dataset: the earlier run's seeds, spreads, pairing, and the seeds needed."""
    level = alpha / hypotheses.FAMILY_SIZE
    rows = []
    for hypothesis in hypotheses.PRIMARY:
        for name, run in loaded.items():
            first, second, effect = per_seed_effect(run, hypothesis)
            row = {"hypothesis": hypothesis.key, "dataset": config.DATASET_TITLES[name], "earlier seeds": len(effect)}
            if len(effect) < 2:
                rows.append(row | {"seeds needed": "no earlier records"})
                continue
            delta = float(effect.mean()) * hypothesis.direction
            sd_paired = float(effect.std(ddof=1))
            correlation = float(np.corrcoef(first, second)[0, 1]) if first.std() > 0 and second.std() > 0 else float("nan")
            # pair by seed where the seeds share their stream and the earlier run shows it helps (a positive correlation)
            use_pairing = hypothesis.kind == "interaction" or (hypothesis.paired and correlation > 0)

            def at(
                n: int, hypothesis=hypothesis, delta=delta, paired=sd_paired if use_pairing else None, first=first, second=second
            ) -> float:
                se, df = power.standard_error(float(first.std(ddof=1)), float(second.std(ddof=1)), n, paired)
                if hypothesis.kind == "equivalence":
                    return power.equivalence_power(delta, se, df, level, hypothesis.margin)
                return power.superiority_power(delta, se, df, level)

            needed = power.seeds_needed(at)
            rows.append(
                row
                | {
                    "planning effect (points)": round(delta, 2),
                    "SD per seed, changed": round(float(first.std(ddof=1)), 2),
                    "SD per seed, original": round(float(second.std(ddof=1)), 2),
                    "SD of paired differences": round(sd_paired, 2),
                    "correlation of seeds": round(correlation, 2),
                    "test": "paired" if use_pairing else "Welch",
                    "seeds needed": needed if needed is not None else f"more than {power.MOST_SEEDS}",
                }
            )
    return pd.DataFrame(rows)


# The plan of the next run, written from the earlier run's records before that run trains (`--write`), so that the
# paper's methods show the calculation that chose its seeds, not one made from its own results.
PLAN_FILE = Path(__file__).resolve().parents[1] / "study" / "power_plan.json"


def write_plan(table: pd.DataFrame, source: Path, path: Path = PLAN_FILE) -> None:
    """The power table as the plan of the next run: its rows, where they came from, and the level they hold at."""
    import json
    from datetime import UTC, datetime

    from convlab.store import records

    rows = json.loads(table.to_json(orient="records"))
    written = datetime.now(UTC).isoformat(timespec="seconds")
    plan = {"source": source.as_posix(), "written": written, "alpha": ALPHA, "family_size": hypotheses.FAMILY_SIZE, "rows": rows}
    records.write_json(path, plan)


def written_at(path: Path = PLAN_FILE) -> str:
    """When the plan was written (ISO 8601, UTC): a run whose trainings all started later was planned by it."""
    import json

    return str(json.loads(path.read_text(encoding="utf-8"))["written"])


def read_plan(path: Path = PLAN_FILE) -> pd.DataFrame:
    """The power table that planned the run (`write_plan`)."""
    import json

    return pd.DataFrame(json.loads(path.read_text(encoding="utf-8"))["rows"])


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    write = "--write" in arguments
    arguments = [argument for argument in arguments if argument != "--write"]
    root = Path((arguments or ["reports/published"])[0])
    table = power_table(runs.load_all(root, config.DATASETS))
    print(f"Seeds for 80% power at α = {ALPHA}/{hypotheses.FAMILY_SIZE} (Holm's first step), from the records under {root}:")
    print(table.to_string(index=False))
    if write:
        write_plan(table, root)
        print(f"Written to {PLAN_FILE.relative_to(PLAN_FILE.parents[2])}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Claims checked against their numbers: each interpretive sentence is paired with the rule it rests on.

A function of `narrative` that words a finding calls `check(statement, rule, holds, values, otherwise)`: it
returns `statement` when the rule holds on the values and `otherwise` when it does not, and adds the claim to
the notebook's ledger. `notebook.setup` points the ledger at `results/claims/<notebook>.json` (kept up to date,
atomically, after every check, by `records.write_json`); the report gathers every ledger into its "Claims
checked" table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from convlab.store import records

CLAIMS_FOLDER = "claims"  # under a notebook's results/


@dataclass(frozen=True)
class Claim:
    """One checked claim: the wording it has when it holds, the rule, the values it was evaluated on, whether the
    rule held, and the wording printed (the statement when it held, else its alternative)."""

    statement: str
    rule: str
    values: dict
    holds: bool
    printed: str = ""

    @property
    def printed_rule(self) -> str:
        """The rule the printed wording rests on: the claim's own, or its negation where the alternative was printed."""
        return self.rule if self.holds else f"not: {self.rule}"


_ledger: list[Claim] = []
_target: list[Path] = []  # the file the ledger is written to, once `start` named it


def start(results_dir: str | Path, notebook: str) -> None:
    """Begin a notebook's ledger, written to results/claims/<notebook>.json (an earlier run's ledger is replaced)."""
    _ledger.clear()
    _target[:] = [Path(results_dir) / CLAIMS_FOLDER / f"{notebook}.json"]
    _write()


def check(statement: str, rule: str, holds: bool, values: Mapping[str, object], otherwise: str) -> str:
    """`statement` if `holds`, else `otherwise`; either way the claim, its rule and values go into the ledger."""
    printed = statement if holds else otherwise
    _ledger.append(Claim(statement, rule, {key: _plain(value) for key, value in values.items()}, bool(holds), printed))
    _write()
    return printed


def checked() -> list[Claim]:
    """The claims checked since `start`."""
    return list(_ledger)


def _plain(value: object) -> object:
    """A JSON-safe form of a value: numbers rounded to 4 significant digits, NaN as None."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) or hasattr(value, "item"):
        number = float(value)
        return None if math.isnan(number) else float(f"{number:.4g}")
    if isinstance(value, Sequence):
        return [_plain(item) for item in value]
    return str(value)


def _write() -> None:
    if _target:
        records.write_json(_target[0], [asdict(claim) for claim in _ledger])


def read(path: str | Path) -> list[Claim]:
    """A ledger written by a notebook run."""
    return [Claim(**entry) for entry in json.loads(Path(path).read_text(encoding="utf-8"))]


def ledgers(folder: str | Path) -> dict[str, list[Claim]]:
    """Every notebook's ledger in a report folder (reports/<dataset>), by notebook name."""
    claims_dir = Path(folder) / "results" / CLAIMS_FOLDER
    return {path.stem: read(path) for path in sorted(claims_dir.glob("*.json"))}


def describe_values(values: Mapping[str, object]) -> str:
    """The values a rule was evaluated on, in one line: "CNN 91.2, FC 88.1"."""
    return ", ".join(f"{key} {'—' if value is None else value}" for key, value in values.items())

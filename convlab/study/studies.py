"""The two studies' published figures (`studies.json`): their models' accuracies and parameter counts."""

from __future__ import annotations

import json
from pathlib import Path

FILE = Path(__file__).resolve().parent / "studies.json"


def published() -> dict:
    """Each dataset's study: its models' published figures and whether it gave them approximately."""
    return json.loads(FILE.read_text(encoding="utf-8"))["studies"]

"""The ledger of checked claims: wording by outcome, the rule and values kept, the file a notebook's run leaves."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from known_inputs import group

from convlab.analysis import claims, narrative_probes
from convlab.experiments import design


def test_check_returns_the_wording_of_the_outcome_and_keeps_the_claim(tmp_path):
    claims.start(tmp_path, "03_cnn")
    assert claims.check("A is ahead.", "A − B > 0", True, {"A": 91.234567, "B": float("nan")}, "A is not ahead.") == "A is ahead."
    assert claims.check("C is ahead.", "C − B > 0", False, {"C": 1}, "C is not ahead.") == "C is not ahead."
    ledger = json.loads((tmp_path / "claims" / "03_cnn.json").read_text())
    assert ledger == [
        {
            "statement": "A is ahead.",
            "rule": "A − B > 0",
            "values": {"A": 91.23, "B": None},
            "holds": True,
            "printed": "A is ahead.",
        },
        {"statement": "C is ahead.", "rule": "C − B > 0", "values": {"C": 1.0}, "holds": False, "printed": "C is not ahead."},
    ]
    claims.start(tmp_path, "03_cnn")
    assert json.loads((tmp_path / "claims" / "03_cnn.json").read_text()) == [], "a new run replaces the old ledger"
    assert not list((tmp_path / "claims").glob(".*.tmp")), "written through a temporary file, then renamed"


def test_ledgers_of_a_report_folder(tmp_path):
    claims.start(tmp_path / "results", "07_translation")
    claims.check("X.", "x", True, {}, "not X.")
    claims.start(tmp_path / "results", "11_learning_curves")
    claims.check("Y.", "y", False, {"n": 3}, "not Y.")
    found = claims.ledgers(tmp_path)
    assert list(found) == ["07_translation", "11_learning_curves"]
    assert found["11_learning_curves"][0] == claims.Claim("Y.", "y", {"n": 3.0}, False, "not Y.")
    assert found["11_learning_curves"][0].printed_rule == "not: y" and found["07_translation"][0].printed_rule == "x"
    assert claims.describe_values({"n": 3.0, "p": None}) == "n 3.0, p —"


@pytest.mark.parametrize("drop, holds", [(5.0, True), (0.5, False)])
def test_translation_invariance_is_stated_only_when_the_numbers_show_it(tmp_path, drop, holds):
    rows = [
        {"model": model, "seed": 0, "direction": "horizontal", "shift": shift, "accuracy": 90.0 - drop * shift / 4}
        for model in (design.FC, design.CNN)
        for shift in range(5)
    ]
    claims.start(tmp_path, "07_translation")
    text = narrative_probes.describe_translation(pd.DataFrame(rows), 4)
    assert ("The CNN is **not** translation invariant" in text) == holds
    assert ("Over these shifts the CNN's accuracy hardly moves" in text) == (not holds)
    assert [claim.holds for claim in claims.checked()] == [holds]


def test_pooling_claim_is_ledgered_with_its_numbers(tmp_path):
    from test_narrative import POOLING_FRAME

    claims.start(tmp_path, "07_translation")
    narrative_probes.describe_pooling(
        POOLING_FRAME, {design.CNN: group(0.910, 0.912, 0.914), design.CNN_AVERAGE_POOLING: group(0.900, 0.902, 0.904)}
    )
    (claim,) = claims.checked()
    assert claim.holds and claim.rule == "the Welch interval of average − max pooling accuracy lies below 0"
    assert claim.values == {"difference (points)": -1.0, "half-width (points)": 0.4534}

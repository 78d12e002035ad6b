"""`make verify`: the published paper's numbers recomputed from its records, a tampered number caught, and the verdict
on a retrained model against its published record (bit for bit on the same kind of processor, else the seed spread)."""

from __future__ import annotations

import copy
import os
import re
import subprocess

import pytest

from convlab.study import paths
from convlab.tools import paper_numbers, verify

PUBLISHED = paths.REPORTS_DIR / "published"


@pytest.fixture(scope="module")
def rendered(shared_data):
    """The paper rendered once from the published records, with the test images where the report finds them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(paths.DATA_DIR_ENV, str(shared_data))
        return paper_numbers.render_published(PUBLISHED)


@pytest.fixture
def from_rendered(rendered, monkeypatch):
    """`check_numbers` without rendering the paper again."""
    monkeypatch.setattr(paper_numbers, "render_published", lambda root: rendered)


def test_the_numbers_of_the_published_paper_are_recomputed_from_its_records(from_rendered):
    check = paper_numbers.check_numbers(PUBLISHED)
    assert check.rendered > 300 and not check.failed_claims
    if check.only_published or check.only_rendered:
        pytest.skip(
            f"reports/published/report.html words {len(check.only_published)} sentences otherwise than this code "
            "(built from other text): refresh it with `python -m convlab.report.report --refresh-published`"
        )
    assert check.passed, check.differing
    assert check.summary() == f"{check.rendered} of {check.rendered} numbers match"


def test_a_paper_rendered_from_the_records_matches_itself_number_for_number(rendered):
    check = paper_numbers.compare_texts(rendered.html, rendered.html)
    assert check.passed and check.matching == check.rendered > 300
    assert check.figures[0] == check.figures[1] > 0


def _tamperable(page: str, rendered: str) -> str:
    """A decimal number of a sentence the two texts print alike, which occurs once in the page's whole source."""
    alike = set(paper_numbers.sentences(page)) & set(paper_numbers.sentences(rendered))
    for sentence in paper_numbers.sentences(page):
        for number in re.findall(r"\d+\.\d\d", sentence):
            if sentence in alike and page.count(number) == 1:
                return number
    raise AssertionError("no number of a sentence printed alike occurs once in the published paper")


def test_a_tampered_published_number_is_reported(from_rendered, rendered, tmp_path):
    page = (PUBLISHED / "report.html").read_text(encoding="utf-8")
    number = _tamperable(page, rendered.html)
    changed = number[:-1] + str((int(number[-1]) + 1) % 10)
    (tmp_path / "report.html").write_text(page.replace(number, changed), encoding="utf-8")
    untouched = paper_numbers.check_numbers(PUBLISHED)
    check = paper_numbers.check_numbers(PUBLISHED, tmp_path / "report.html")
    assert not check.passed
    assert [(theirs, ours) for theirs, ours, _ in check.differing if (theirs, ours) not in _pairs(untouched)] == [
        (changed, number)
    ]
    assert check.matching == untouched.matching - 1
    passed, line = verify.verdict([], check)
    assert not passed and "numbers differ" in line
    assert f"number differs: published {changed}, rendered {number}" in "\n".join(verify.details([], check))


def _pairs(check: paper_numbers.NumbersCheck) -> list[tuple[str, str]]:
    return [(theirs, ours) for theirs, ours, _ in check.differing]


def test_a_reworded_sentence_is_listed_not_counted_as_a_match():
    stamp = '<p class="stamp">Built 2026-01-01 from commit abc.</p>'
    published = f"<main>{stamp}<p>The CNN reaches 90.70%. It costs 37 times more.</p></main>"
    rendered = "<main><p>The CNN reaches 90.70%. It needs 37 times the arithmetic.</p></main>"
    check = paper_numbers.compare_texts(published, rendered)
    assert check.matching == 1 and check.rendered == 2 and not check.passed
    assert check.only_published == ["It costs 37 times more."] and check.only_rendered == ["It needs 37 times the arithmetic."]
    assert check.reworded == [1, 1], "the reworded sentence's number is printed in the one it replaces"
    assert "2026" not in " ".join(paper_numbers.sentences(published)), "the build stamp is no number of the paper"


# ---- the verdict on a retrained model, on hand-made records

AMX = {"cpu": "Intel Xeon", "cpu_isa": ["avx2", "avx512f", "amx_bf16"]}
AVX2 = {"cpu": "AMD EPYC", "cpu_isa": ["avx2", "fma"]}
SPREAD = verify.Spread((0.8729, 0.8803, 0.8731))  # the published FC network's seeds on Fashion-MNIST


def record(environment: dict, precision: str = "float32", accuracy: float = 0.8729) -> dict:
    predictions = [1, 2, 3, 4]
    return {
        "environment": environment,
        "parameters": {"precision": precision},
        "test": {"predictions": predictions, "accuracy": accuracy},
    }


def with_accuracy(base: dict, accuracy: float) -> dict:
    """The record with one prediction changed and another accuracy."""
    changed = copy.deepcopy(base)
    changed["test"]["predictions"][0] = 0
    changed["test"]["accuracy"] = accuracy
    return changed


def test_equal_predictions_are_identical_on_any_processor():
    published = record(AMX)
    assert verify.compare(published, record(AMX), SPREAD).verdict == verify.IDENTICAL
    assert verify.compare(published, record(AVX2), SPREAD).verdict == verify.IDENTICAL


def test_on_the_same_kind_of_processor_any_difference_fails():
    published = record(AMX)
    retrained = with_accuracy(record(AMX), 0.8730)  # inside the spread, yet not bit for bit
    comparison = verify.compare(published, retrained, SPREAD)
    assert comparison.same_kind and comparison.verdict == verify.NOT_IDENTICAL and not comparison.passed


def test_on_another_processor_or_precision_the_seed_spread_decides():
    published = record(AMX, "bfloat16")
    for other in (record(AVX2, "bfloat16"), record(AMX, "float32")):  # another CPU; the same CPU in another precision
        inside = verify.compare(published, with_accuracy(other, 0.8790), SPREAD)
        assert not inside.same_kind and inside.verdict == verify.WITHIN and inside.passed
        assert round(100 * inside.difference, 2) == 0.61
        outside = verify.compare(published, with_accuracy(other, 0.90), SPREAD)
        assert outside.verdict == verify.OUTSIDE and not outside.passed
    assert verify.compare(published, with_accuracy(record(AVX2), 0.87), verify.Spread((0.87,))).verdict == verify.NO_SPREAD


def test_the_seed_spread_is_the_papers_prediction_interval():
    low, high = SPREAD.interval
    assert low < min(SPREAD.accuracies) and high > max(SPREAD.accuracies)
    assert SPREAD.in_interval(0.8790) and not SPREAD.in_range(0.8810) and SPREAD.in_interval(0.8810)
    assert "3 seeds" in SPREAD.describe() and f"sd {100 * SPREAD.sd:.2f}" in SPREAD.describe()


def test_a_bfloat16_record_trains_in_float32_on_a_cpu_without_native_bfloat16():
    published = verify.published_record(PUBLISHED, "fashion_mnist", "cnn", 0)
    assert published["parameters"]["precision"] == "bfloat16"
    _, settings, note = verify.settings_here(published, isa=["avx2", "fma"], environment={})
    assert settings.precision == "float32" and "does not compute bfloat16 natively" in note
    _, settings, note = verify.settings_here(published, isa=["avx512_bf16"], environment={})
    assert settings.precision == "bfloat16" and note == ""
    fc = verify.published_record(PUBLISHED, "fashion_mnist", "fc_baseline", 0)
    _, settings, note = verify.settings_here(fc, isa=["avx2"], environment={})
    assert settings.precision == "float32" and note == ""
    assert settings.epochs == fc["parameters"]["epochs"] and settings.patience == fc["parameters"]["patience"]


def test_the_table_has_a_row_per_model_and_the_numbers_row_and_one_verdict():
    comparison = verify.compare(record(AMX), record(AVX2), SPREAD)
    rows = [verify.Row("fashion_mnist", "fc_baseline", 0, comparison, ["a note"])]
    numbers = paper_numbers.NumbersCheck(rendered=3, published=3, matching=3)
    text = verify.table(rows, numbers)
    assert text.splitlines()[2].split(" | ")[-1] == "identical"
    assert text.splitlines()[3].endswith("3 of 3 numbers match")
    assert verify.verdict(rows, numbers)[0]
    failing = [verify.Row("mnist", "cnn", 0, verify.compare(record(AMX), with_accuracy(record(AMX), 0.5), SPREAD))]
    passed, line = verify.verdict(failing, numbers)
    assert not passed and line.startswith("FAIL: mnist cnn seed 0 not identical")


def test_make_verify_runs_everything_and_part_numbers_the_numbers_alone():
    environment = {
        key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL")
    }

    def make(*arguments: str) -> str:
        done = subprocess.run(
            ["make", "-n", *arguments], cwd=paths.PROJECT_DIR, capture_output=True, text=True, timeout=60, env=environment
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "-m convlab.tools.verify" in make("verify") and "--numbers-only" not in make("verify")
    assert "-m convlab.tools.verify --numbers-only" in make("verify", "PART=numbers")

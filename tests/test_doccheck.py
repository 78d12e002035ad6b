"""The built document's check: a sound page passes, and each defect it looks for is found, case by case."""

from __future__ import annotations

import json

import pytest

from convlab.report import doccheck

FIGURE = (
    '<figure id="figure-{n}" class="panels-1"><div class="panel"><img src="data:image/png;base64,iVBORw0K" alt="A chart.">'
    "</div><figcaption><strong>Figure {n}.</strong> What it shows.</figcaption></figure>"
)
CLAIMS = (  # as `build.Built.claims_table` writes it
    '<h3 id="paper-claims">The paper\'s claims</h3><table class="paper-claims"><thead><tr><th>claim</th>'
    "<th>predicate, in words</th><th>holds</th></tr></thead><tbody>{rows}</tbody></table>"
)
HOLDS = "<tr><td>gap_keeps_more</td><td>GAP head &gt; flatten head at 3 px</td><td>{}</td></tr>"
CODE = '<details class="code"><summary>Code</summary><pre><code>print(f"{dataset}") # /work/main/x</code></pre></details>'


def page(body: str = "", *, claim: str = "yes") -> str:
    figures = FIGURE.format(n=1) + FIGURE.format(n=2)
    claims = CLAIMS.format(rows=HOLDS.format(claim))
    head = "<!DOCTYPE html><html><head><style>a { color: red }</style></head>"
    text = '<p>As <a href="#figure-1">Figure 1</a> and <a href="#figure-2">Figure 2</a> show.</p>'
    return f"{head}<body>{text}{CODE}{figures}{body}{claims}</body></html>"


def test_a_sound_page_passes_and_code_and_styles_are_not_read_as_prose():
    assert doccheck.html_problems(page(), own_paths=["/srv/checkout"]) == []
    labels = '<p class="dataset-label">Fashion-MNIST</p><p class="dataset-label">MNIST</p><table><tr><td>NaN</td></tr></table>'
    assert doccheck.html_problems(page(labels)) == [], "two dataset labels, and a case named NaN, are no leak"
    assert doccheck.claims_problems(page()) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<script>alert(1)</script>", "the page has a script"),
        ('<img src="https://example.org/a.png">', "reaches the network"),
        ('<a href="//cdn.example.org/x.css">x</a>', "reaches the network"),
        ("<style>@import 'x.css';</style>", "reaches the network"),
        (
            "<p>Reusing cnn: stored in /work/main/reports/mnist/results/cnn-seed0.json.</p>",
            "a path of the build machine: /work/main",
        ),
        ("<p>written to /srv/checkout/reports</p>", "a path of the build machine: /srv/checkout"),
        ("<p>The CNN ran at most {epochs} epochs.</p>", "an unfilled placeholder: {epochs}"),
        ("<p>at most epochs epochs</p>", "a doubled word: 'epochs epochs'"),
        ("<table><tr><td>None</td></tr></table>", "a table cell holds None"),
        ("<table><tr><td>nan</td></tr></table>", "a table cell holds nan"),
        ('<p><img src="data:image/png;base64,AAAA" alt="x"></p>', "1 image(s) outside a numbered figure"),
        (
            '<figure id="figure-3"><div class="panel"><img src="data:image/png;base64,AA" alt="x"></div>'
            '<figcaption><strong>Figure 3.</strong> <span class="missing-caption">no caption</span></figcaption></figure>',
            "figure 3 has no caption",
        ),
        (
            '<figure id="figure-3"><div class="panel"><img src="data:image/png;base64,AA"></div>'
            "<figcaption><strong>Figure 3.</strong> Shown.</figcaption></figure>",
            "figure 3 has an image without alt text",
        ),
        (FIGURE.format(n=5), "figures are not numbered 1 to 3 in order: [1, 2, 5]"),
        (FIGURE.format(n=3), "figures not referenced from the text: 3"),
        ('<p>See <a href="#fig-nonesuch">the figure</a>.</p>', "references to no figure of their chapter: nonesuch"),
    ],
)
def test_each_defect_is_found(body, expected):
    problems = doccheck.html_problems(page(body), own_paths=["/srv/checkout"])
    assert any(expected in problem for problem in problems), problems


def test_the_claims_table_must_exist_and_in_a_full_run_every_claim_must_hold():
    for without in (page().replace('id="paper-claims"', 'id="other"'), page().replace('class="paper-claims"', 'class="x"')):
        assert "no table of the paper's claims" in doccheck.html_problems(without)
    assert doccheck.claims_problems(page(claim="no")) == [
        "a claim does not hold: gap_keeps_more: GAP head > flatten head at 3 px"
    ]
    other = '<table class="findings"><tr><td>x</td><td>y</td><td>no</td></tr></table>'
    assert doccheck.claims_problems(page(other)) == [], "only the table of claims is read"


PAPER = (
    '<!DOCTYPE html><html><body><p>As <a href="#figure-1">Figure 1</a> shows, '
    '<span class="claim" data-claim="cnn_wins">the CNN wins</span>.</p>' + FIGURE.format(n=1) + "</body></html>"
)


def write_report(root, html: str, about: dict, paper: str = PAPER) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "supplement.html").write_text(html, encoding="utf-8")
    (root / "report.html").write_text(paper, encoding="utf-8")
    (root / "report.json").write_text(json.dumps({"pdf_pages": 9} | about), encoding="utf-8")


def test_the_command_fails_on_a_broken_report_and_names_every_problem(tmp_path, capsys):
    write_report(tmp_path / "sound", page(), {"pdf_pages_past_margin": []})
    assert doccheck.main(["--root", str(tmp_path / "sound"), "--full"]) == 0
    write_report(tmp_path / "broken", page(f"<p>in {tmp_path}/reports</p>", claim="no"), {"pdf_pages_past_margin": [4]})
    assert doccheck.main(["--root", str(tmp_path / "broken")]) == 1, "a machine path and a PDF margin fail the subset check"
    error = capsys.readouterr().err
    assert "supplement: a path of the build machine" in error and "PDF pages with content past a margin: [4]" in error
    assert "does not hold" not in error, "a subset run's claims may fail"
    assert doccheck.main(["--root", str(tmp_path / "broken"), "--full"]) == 1
    assert "a claim does not hold: gap_keeps_more" in capsys.readouterr().err
    assert doccheck.main(["--root", str(tmp_path / "missing")]) == 1
    assert "run `make report` first" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("paper", "about", "expected"),
    [
        (PAPER, {"paper": {"failed_claims": ["cnn_wins"]}}, "claims of the paper that fail on this run: cnn_wins"),
        (PAPER, {"pdf_pages": 21}, "the paper has 21 PDF pages; at most 20"),
        (PAPER, {"pdf_pages": None}, "the paper was not printed"),
        (
            PAPER.replace("</body>", "".join(FIGURE.format(n=n) for n in range(2, 14)) + "</body>"),
            {},
            "the paper has 13 figures; at most 12",
        ),
        (PAPER.replace("<p>", "<p>Read /work/main/reports ", 1), {}, "paper: a path of the build machine"),
    ],
)
def test_a_published_paper_keeps_its_limits(tmp_path, paper, about, expected):
    write_report(tmp_path, page(), about, paper)
    full = doccheck.check(tmp_path, full=True)
    assert any(expected in problem for problem in full), full
    if "claims of the paper" in expected or "PDF pages" in expected:
        assert not any(expected in problem for problem in doccheck.check(tmp_path, full=False)), "a subset run may fail them"


@pytest.mark.parametrize("printed", ["nan", "n/a", "nan%", "[claim “cnn_wins” fails on this run]"])
def test_a_missing_value_in_the_paper_fails_every_check_subset_included(tmp_path, printed):
    write_report(tmp_path, page(), {}, PAPER.replace("the CNN wins", f"the CNN wins by {printed} points"))
    for full in (False, True):
        assert any("missing value" in problem for problem in doccheck.check(tmp_path, full=full)), printed
    write_report(tmp_path, page(), {}, PAPER.replace("the CNN wins", "the CNN wins by 3.2 points, a nano-scale change"))
    assert not any("missing value" in problem for problem in doccheck.check(tmp_path, full=False))


def test_the_supplements_prose_is_held_to_its_length_and_to_few_code_names():
    from convlab.report import doccheck as check

    short = '<div class="prose"><p>The CNN reaches 90% on the test images.</p></div><pre>model_config = 1</pre>'
    assert check.prose_problems(short) == [], "code outside the prose is not counted"
    long = '<div class="prose"><p>' + "word " * (check.SUPPLEMENT_WORDS + 1) + "</p></div>"
    assert any("words of prose" in problem for problem in check.prose_problems(long))
    names = " ".join(f"name_{index}" for index in range(check.SUPPLEMENT_IDENTIFIERS + 1))
    found = check.prose_problems(f'<div class="output findings prose"><p>{names}</p></div>')
    assert found and "code names in prose" in found[0] and "name_0" in found[0]
    linked = '<div class="prose"><p><a href="#fig-accuracy_by_kernel">Figure 3</a> shows it.</p></div>'
    assert check.prose_problems(linked) == [], "a link's target is not prose"

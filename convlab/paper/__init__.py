"""The paper: the reader's document, written as prose over the records of one run.

`paper.md` is the text, Markdown with Jinja2 fields: each number is a named value (`values`), each qualitative
sentence stands in `{% if holds("key") %}` with what the run shows instead, its predicate (`claims`) checked on the
run's records, and a chapter the run lacks is guarded by what it holds (`holding`). `runs` loads those records once
and `context` gathers what the text reads; `findings.md` and `notebook_findings` give each notebook's paragraph from
the same context; `family` holds every comparison the paper reports,
corrected together with Holm's method; `figures` draws the paper's figures from the records at print size, in
`figure_style`'s look; `build` renders the HTML (`convlab.report.report` prints it to PDF).

May import every package below it (`study` to `run`: records, statistics, tables, the experiments' design).
Nothing outside this folder imports it except `convlab.report.report`.
"""

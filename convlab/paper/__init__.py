"""The paper: the reader's document, written as prose over the records of one run.

`paper.md` is the text, Markdown with Jinja2 fields: each number is a named value (`values`), each qualitative
sentence sits in a `claim` block whose predicate (`claims`) the build checks on the run's records. `runs` loads
those records once; `family` holds every comparison the paper reports, corrected together with Holm's method;
`figures` draws the paper's figures from the records at print size; `build` renders the HTML and the PDF.

May import: the layers below the report (config, paths, records, stats, protocol, curves, tables, costs) and
`document` for the PDF. Nothing outside this folder imports it except `convlab.report.report`.
"""

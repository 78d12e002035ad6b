"""The printed report: whether a PDF can be made here (WeasyPrint and Pango), printing it, and checking its pages."""

from __future__ import annotations

import os
from pathlib import Path

from convlab.store import records
from convlab.study import config

PDF_ENV = "PDF"  # "required": a missing PDF renderer is an error; "auto" (default): HTML only, with the reason; "off"


PDF_HELP = (
    "the PDF needs WeasyPrint and the system's Pango: `python -m pip install -e .[pdf]` (or `make setup`), "
    "and on Debian or Ubuntu `apt-get install libpango-1.0-0 libpangoft2-1.0-0`"
)


class PdfUnavailable(RuntimeError):
    """The PDF was required, and WeasyPrint or Pango is missing."""


def pdf_renderer_problem() -> str:
    """Why no PDF can be printed here (WeasyPrint or Pango missing), or "" when it can."""
    try:
        import weasyprint  # noqa: F401  (importing it loads Pango)
    except ImportError as error:
        return f"WeasyPrint is not installed ({error})"
    except OSError as error:
        return f"WeasyPrint cannot load the system's Pango ({error})"
    return ""


def pdf_wanted(no_pdf: bool, mode: str | None = None) -> bool:
    """Whether to print the PDF: not with --no-pdf or PDF=off; where the renderer is missing, only if PDF=required."""
    mode = (mode if mode is not None else os.environ.get(PDF_ENV, "auto")).strip().lower() or "auto"
    if mode not in ("auto", "required", "off"):
        raise config.ParameterError(f"{PDF_ENV}={mode!r} is not understood; use auto (default), required or off.")
    if no_pdf or mode == "off":
        return False
    problem = pdf_renderer_problem()
    if problem and mode == "required":
        raise PdfUnavailable(f"{PDF_ENV}=required, but {problem}; {PDF_HELP}.")
    if problem:
        print(f"No PDF: {problem}. The HTML report is built. To get the PDF, {PDF_HELP}.")
    return not problem


def to_pdf(source: Path, target: Path) -> dict:
    """The HTML page `source` as a PDF (WeasyPrint), written atomically.

    Returns its number of pages and the pages on which something (a wide table, a tall figure) reaches past the
    right or bottom margin, where the printed page cuts it off.
    """
    import weasyprint

    document = weasyprint.HTML(filename=str(source)).render()
    with records.atomic_path(target) as temporary:
        document.write_pdf(temporary)
    return {"pdf_pages": len(document.pages), "pdf_pages_past_margin": pages_past_margin(document)}


def pages_past_margin(document, tolerance: float = 1.0) -> list[int]:
    """Numbers of the pages of a rendered WeasyPrint document with a box ending right of, or below, the page's
    content area (a wide table cut off at the side, a figure running into the footer)."""

    def far_edges(box) -> tuple[float, float]:
        if getattr(box, "element_tag", "") in ("html", "body"):  # the page's own boxes: only what they hold counts
            right = bottom = 0.0  # (their height takes in the last paragraph's bottom margin, which prints nothing)
        else:
            right = box.position_x + box.margin_width() if hasattr(box, "margin_width") else 0.0
            # the border box: a bottom margin may run into the page's margin, where it is truncated at the break
            bottom = box.position_y + box.margin_top + box.border_height() if hasattr(box, "border_height") else 0.0
        for child in getattr(box, "children", ()):
            if type(child).__name__ != "MarginBox":
                child_right, child_bottom = far_edges(child)
                right, bottom = max(right, child_right), max(bottom, child_bottom)
        return right, bottom

    past = []
    for number, page in enumerate(document.pages, start=1):
        page_box = page._page_box  # WeasyPrint's layout tree (pinned version): the page and everything on it
        right_limit = page_box.content_box_x() + page_box.width
        bottom_limit = page_box.content_box_y() + page_box.height
        content = [child for child in page_box.children if type(child).__name__ != "MarginBox"]
        edges = [far_edges(child) for child in content]
        if any(right > right_limit + tolerance or bottom > bottom_limit + tolerance for right, bottom in edges):
            past.append(number)
    return past

"""The evaluation report: one self-contained HTML page (and its Markdown twin) a reader can trust at a glance.

Why one page with everything embedded: the report is mailed, archived and opened on
machines without network; images are base64 PNGs inside ``index.html`` and nothing is
fetched. Why numbers come straight from the files: every figure in the report is read
from ``metrics.json`` (and the agreement files, the learning curve, ``framing score``
output, its ``timeline.csv`` read with ``model.timeline.read_timeline``) and printed with a
fixed rounding, so a test can check the page against its sources, and a reader can trace
each number back.

Pipeline, one module a step: ``data.gather`` (read and validate inputs, compute kappa and
same-story groups) -> ``figures.make_figures`` (matplotlib, Agg) -> ``render.render_html`` /
``render.render_markdown`` -> ``render.write_report``. ``formatting`` holds the rounding
rule, names and colours all three share.

May import: ``model``, ``training`` (data paths, provenance), ``eval.evaluate`` and the other
``eval`` metrics modules. Never ``serving``: the report reads ``framing score`` output files,
not its code.
"""

from eval.report.data import Inputs, gather
from eval.report.figures import Figure, expected_figure_ids, make_figures
from eval.report.formatting import ReportError, fmt, fmt_ci, fmt_signed, model_label
from eval.report.render import render_html, render_markdown, write_report

__all__ = [
    "Figure",
    "Inputs",
    "ReportError",
    "expected_figure_ids",
    "fmt",
    "fmt_ci",
    "fmt_signed",
    "gather",
    "make_figures",
    "model_label",
    "render_html",
    "render_markdown",
    "write_report",
]

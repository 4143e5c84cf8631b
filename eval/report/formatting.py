"""One rounding rule for HTML, Markdown and tests; model and label names and colours; the report's error."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Okabe-Ito: colour-blind safe. One colour per frame everywhere (bars, chips, tables).
OKABE_ITO = ["#0072B2", "#D55E00", "#CC79A7", "#009E73", "#E69F00", "#999999", "#56B4E9", "#F0E442", "#000000"]
FRAME_COLOURS_BY_NAME = {
    "anti_terror": "#0072B2",
    "aggression": "#D55E00",
    "ethnic_cleansing": "#CC79A7",
    "humanitarian": "#009E73",
    "diplomacy": "#E69F00",
    "background": "#999999",
}
ATTRIBUTION_COLOURS = ["#332288", "#56B4E9", "#F0E442"]  # authorial dark, attributed sky blue, distanced yellow
MODEL_NAMES = {
    "finetuned": "fine-tuned MiniLM",
    "tfidf_lr": "TF-IDF word+char + LR",
    "minilm_lr": "frozen MiniLM + LR",
    "majority": "majority class",
}
MODEL_STYLE = {"finetuned": "#000000", "tfidf_lr": "#E69F00", "minilm_lr": "#0072B2", "majority": "#999999"}


class ReportError(ValueError):
    """An input of the report is missing or malformed; the message says what to run or fix."""


# ------------------------------------------------------------------ formatting (one rounding rule for HTML, MD, tests)
def fmt(x: float | None, digits: int = 3) -> str:
    """How every metric is displayed: fixed decimals, an en dash for a missing value."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}f}"


def fmt_signed(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:+.{digits}f}"


def fmt_ci(ci: Sequence[float | None] | None, digits: int = 3) -> str:
    if not ci or len(ci) != 2:
        return "–"
    return f"[{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"


def model_label(key: str) -> str:
    """'finetuned@seed+synthetic' -> 'fine-tuned MiniLM (seed+synthetic)'."""
    model, _, data = key.partition("@")
    return f"{MODEL_NAMES.get(model, model)} ({data})" if data else MODEL_NAMES.get(model, model)

"""Framing over time: per source and period, the profile ``source_profiles`` gives, and its CSV form.

Why here, next to ``profiles``: batch scoring writes ``timeline.csv``, the report plots it and the
service can answer the same question; all three must count the same way, so there is one function
(``source_timeline``) and one reader (``read_timeline``).

Why every (source, period) row *is* ``source_profiles`` over that row's sentences, called with
the same ``n_boot`` and ``seed``: slant, adopted slant, their 95% percentile-bootstrap CIs and the
frame shares then mean exactly what they mean in ``sources.csv``, and a period holding all of a
source's sentences reproduces that source's profile (the point estimates always; the CIs too when
the profile is computed for that source alone, since the bootstrap draws depend on the seed and
on which sources were drawn before).

Periods: ``day``, ``week`` (ISO weeks, Monday to Sunday) or ``month``, each labelled by its first
day (``period_start``, ISO ``YYYY-MM-DD``). A row with fewer than ``LOW_N`` sentences is flagged
``low_n``: its CI is wide, and one article can swing it. Sentences whose article has no date (or a
date that is not ISO ``YYYY-MM-DD...``) are left out of the timeline, never out of ``sources.csv``,
and counted in ``Timeline.undated_articles`` / ``unreadable_dates`` so a reader knows what the
timeline does not show.
"""

from __future__ import annotations

import calendar
import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from model.profiles import source_profiles
from model.schema import Schema

PERIODS = ("day", "week", "month")
DEFAULT_PERIOD = "week"
LOW_N = 20  # fewer sentences than this in a (source, period) row: flagged low_n, too few to read a trend from
_ISO_DATE_RE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})")
ID_COLUMNS = ("source", "period", "period_start", "period_end", "n_articles", "n_sentences", "low_n")
STAT_KEYS = ("slant", "adopted_slant")


class TimelineError(ValueError):
    """A bad period, or a timeline.csv that is not one."""


def parse_date(value: Any) -> date | None:
    """The calendar date of ``published``: an ISO ``YYYY-MM-DD`` (optionally followed by a time), or None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    match = _ISO_DATE_RE.match(value)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def period_bounds(day: date, period: str) -> tuple[date, date]:
    """First and last day of the ``period`` holding ``day`` (weeks start on Monday, as ISO weeks do)."""
    if period == "day":
        return day, day
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if period == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    raise TimelineError(f"period must be one of {list(PERIODS)}, got {period!r}")


@dataclass
class Timeline:
    """Rows (one per source and period with sentences, sorted by source then period) and what was left out."""

    period: str
    rows: list[dict[str, Any]]
    low_n: int = LOW_N
    undated_articles: int = 0
    undated_sentences: int = 0
    unreadable_dates: int = 0  # of the undated articles: those whose date was given but is not ISO
    unreadable_examples: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The counts a manifest or a report note shows."""
        return {
            "period": self.period,
            "rows": len(self.rows),
            "low_n_threshold": self.low_n,
            "low_n_rows": sum(bool(r["low_n"]) for r in self.rows),
            "undated_articles": self.undated_articles,
            "undated_sentences": self.undated_sentences,
            "unreadable_dates": self.unreadable_dates,
            "unreadable_examples": self.unreadable_examples,
        }

    def note(self, profiles: str = "sources.csv") -> str | None:
        """One sentence on the articles the timeline leaves out, or None when it shows everything.

        ``profiles``: where the per-source profiles that still count them are (a file, or the
        service response's ``sources``).
        """
        if not self.undated_articles:
            return None
        one = self.undated_articles == 1
        text = (
            f"{self.undated_articles} article{'' if one else 's'} ({self.undated_sentences} sentences) without a "
            f"date {'is' if one else 'are'} left out of the timeline ({'it' if one else 'they'} still count"
            f"{'s' if one else ''} in {profiles})"
        )
        if self.unreadable_dates:
            examples = ", ".join(repr(e) for e in self.unreadable_examples)
            text += (
                f"; {self.unreadable_dates} of them have a date that is not ISO YYYY-MM-DD (e.g. {examples}): "
                "rewrite the date column as YYYY-MM-DD to include them"
            )
        return text


def timeline_columns(schema: Schema) -> list[str]:
    """The columns of timeline.csv, in order."""
    cols = list(ID_COLUMNS)
    for key in STAT_KEYS:
        if key == "adopted_slant" and "authorial" not in schema.attribution_names:
            continue
        cols += [key, f"{key}_lo", f"{key}_hi"]
    return cols + [f"frame_share.{f}" for f in schema.frame_names]


def source_timeline(
    sources: Sequence[str],
    published: Sequence[Any],
    article_ids: Sequence[str],
    frame_probs: np.ndarray,
    attribution_probs: np.ndarray,
    schema: Schema,
    *,
    period: str = DEFAULT_PERIOD,
    n_boot: int = 1000,
    seed: int = 0,
    low_n: int = LOW_N,
) -> Timeline:
    """One row per (source, period) with sentences: counts, ``source_profiles``' slant, adopted slant, CIs, shares.

    Inputs have one entry per sentence, as for ``source_profiles``; ``published`` is the
    sentence's article date and ``article_ids`` its article (to count articles).
    """
    if period not in PERIODS:
        raise TimelineError(f"period must be one of {list(PERIODS)}, got {period!r}")
    n = len(sources)
    if not (len(published) == len(article_ids) == len(frame_probs) == len(attribution_probs) == n):
        raise TimelineError(
            f"sources ({n}), published ({len(published)}), article_ids ({len(article_ids)}), frame_probs "
            f"({len(frame_probs)}) and attribution_probs ({len(attribution_probs)}) must have one entry per sentence"
        )
    frame_probs = np.asarray(frame_probs, dtype=float)
    attribution_probs = np.asarray(attribution_probs, dtype=float)
    groups: dict[tuple[str, date], list[int]] = {}
    undated: set[str] = set()
    unreadable: dict[str, str] = {}
    undated_sentences = 0
    parsed: dict[Any, date | None] = {}
    for i, (src, when, art) in enumerate(zip(sources, published, article_ids, strict=True)):
        key = when if isinstance(when, (str, type(None))) else str(when)
        if key not in parsed:
            parsed[key] = parse_date(when)
        day = parsed[key]
        if day is None:
            undated.add(str(art))
            undated_sentences += 1
            if when is not None and str(when).strip():
                unreadable.setdefault(str(art), str(when))
            continue
        groups.setdefault((str(src), period_bounds(day, period)[0]), []).append(i)
    columns = timeline_columns(schema)
    rows: list[dict[str, Any]] = []
    for (src, start), idx in sorted(groups.items()):
        rows_ = np.asarray(idx)
        profile = source_profiles(
            [src] * len(idx), frame_probs[rows_], attribution_probs[rows_], schema, n_boot=n_boot, seed=seed
        )[src]
        row: dict[str, Any] = {
            "source": src,
            "period": period,
            "period_start": start.isoformat(),
            "period_end": period_bounds(start, period)[1].isoformat(),
            "n_articles": len({str(article_ids[i]) for i in idx}),
            "n_sentences": len(idx),
            "low_n": len(idx) < low_n,
        }
        for key in STAT_KEYS:
            if key in profile:
                row[key] = profile[key]
                row[f"{key}_lo"], row[f"{key}_hi"] = (None if _nan(v) else v for v in profile[f"{key}_ci"])
        for f in schema.frame_names:
            row[f"frame_share.{f}"] = profile["frame_share"][f]
        rows.append({c: row.get(c) for c in columns})
    return Timeline(
        period=period,
        rows=rows,
        low_n=low_n,
        undated_articles=len(undated),
        undated_sentences=undated_sentences,
        unreadable_dates=len(unreadable),
        unreadable_examples=sorted(set(unreadable.values()))[:3],
    )


def _nan(v: Any) -> bool:
    return isinstance(v, float) and not np.isfinite(v)


# ------------------------------------------------------------ CSV form
def timeline_to_rows(timeline: Timeline) -> list[dict[str, Any]]:
    """Rows as ``timeline.csv`` holds them: ``low_n`` as ``true``/``false``, a missing value as an empty cell."""
    return [{k: ("true" if v else "false") if k == "low_n" else v for k, v in row.items()} for row in timeline.rows]


def read_timeline(path: Path) -> list[dict[str, Any]]:
    """``timeline.csv`` back as typed rows (ints, floats or None, ``low_n`` a bool); a TimelineError names the problem.

    Why a reader here: the report must read the file the way batch scoring wrote it.
    """
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            raw = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TimelineError(f"{path} could not be read ({exc}); re-run 'framing score'") from None
    missing = [c for c in (*ID_COLUMNS, "slant", "slant_lo", "slant_hi") if c not in header]
    if missing:
        raise TimelineError(
            f"{path} lacks the column(s) {missing}; expected the timeline.csv written by 'framing score' "
            f"(columns {list(ID_COLUMNS)}, slant, slant_lo, slant_hi, ...)"
        )

    def num(v: str | None) -> float | None:
        return None if v is None or v == "" else float(v)

    rows: list[dict[str, Any]] = []
    for k, r in enumerate(raw, start=2):
        try:
            row: dict[str, Any] = {
                "source": r["source"],
                "period": r["period"],
                "period_start": date.fromisoformat(r["period_start"]).isoformat(),
                "period_end": date.fromisoformat(r["period_end"]).isoformat(),
                "n_articles": int(r["n_articles"]),
                "n_sentences": int(r["n_sentences"]),
                "low_n": {"true": True, "false": False}[r["low_n"].strip().lower()],
            }
            row.update({c: num(r[c]) for c in header if c not in row})
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise TimelineError(f"{path} line {k} is not a timeline row ({exc!r}); re-run 'framing score'") from None
        rows.append(row)
    return rows

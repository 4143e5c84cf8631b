"""Framing over time (``model/timeline.py``): buckets, CIs, the low-n flag, agreement with ``source_profiles``,
undated articles; ``framing score --period`` writing timeline.csv; ``framing report`` plotting it.

The statistics tests use the real label schema and seeded random probabilities (fast); the
batch and report tests use the session's tiny trained model.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from report_cells import Cells
from typer.testing import CliRunner

from eval.report import fmt_signed
from model.profiles import source_profiles
from model.schema import Schema
from model.timeline import (
    LOW_N,
    TimelineError,
    period_bounds,
    read_timeline,
    source_timeline,
    timeline_columns,
    timeline_to_rows,
)
from serving.cli import app

ROOT = Path(__file__).resolve().parent.parent


def random_probs(schema: Schema, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.dirichlet(np.ones(len(schema.frame_names)) * 0.6, size=n),
        rng.dirichlet(np.ones(len(schema.attribution_names)), size=n),
    )


# ------------------------------------------------------------------ periods
@pytest.mark.parametrize(
    ("day", "period", "start", "end"),
    [
        ("2023-09-20", "day", "2023-09-20", "2023-09-20"),
        ("2023-09-18", "week", "2023-09-18", "2023-09-24"),  # a Monday starts its own week
        ("2023-09-24", "week", "2023-09-18", "2023-09-24"),  # a Sunday ends it (ISO weeks)
        ("2023-01-01", "week", "2022-12-26", "2023-01-01"),  # ISO week 52 of 2022
        ("2023-09-30", "month", "2023-09-01", "2023-09-30"),
        ("2024-02-10", "month", "2024-02-01", "2024-02-29"),  # a leap year
    ],
)
def test_periods_are_labelled_by_their_first_day(day: str, period: str, start: str, end: str):
    first, last = period_bounds(date.fromisoformat(day), period)
    assert (first.isoformat(), last.isoformat()) == (start, end)
    if period == "week":
        assert first.weekday() == 0 and first.isocalendar()[1] == date.fromisoformat(day).isocalendar()[1]


def test_an_unknown_period_is_refused(schema):
    fp, ap = random_probs(schema, 2, 0)
    with pytest.raises(TimelineError, match=r"day.*week.*month.*fortnight"):
        source_timeline(["a", "a"], ["2023-09-01"] * 2, ["x", "y"], fp, ap, schema, period="fortnight")


# ------------------------------------------------------------------ rows
def test_rows_bucket_sentences_with_ordered_cis_and_a_low_n_flag(schema):
    # source a: 30 sentences in week 38 (3 articles) and 5 in week 39; source b: 12 on one day
    days = ["2023-09-18"] * 10 + ["2023-09-20"] * 10 + ["2023-09-24T23:00:00+04:00"] * 10 + ["2023-09-25"] * 5
    days += ["2023-09-19"] * 12
    sources = ["a"] * 35 + ["b"] * 12
    articles = [f"a{i // 10}" for i in range(35)] + ["b0"] * 12
    fp, ap = random_probs(schema, len(sources), 1)
    for period, expected in (
        ("week", [("a", "2023-09-18", 30, 3), ("a", "2023-09-25", 5, 1), ("b", "2023-09-18", 12, 1)]),
        (
            "day",
            [
                ("a", "2023-09-18", 10, 1),
                ("a", "2023-09-20", 10, 1),
                ("a", "2023-09-24", 10, 1),
                ("a", "2023-09-25", 5, 1),
                ("b", "2023-09-19", 12, 1),
            ],
        ),
        ("month", [("a", "2023-09-01", 35, 4), ("b", "2023-09-01", 12, 1)]),
    ):
        tl = source_timeline(sources, days, articles, fp, ap, schema, period=period)
        assert [(r["source"], r["period_start"], r["n_sentences"], r["n_articles"]) for r in tl.rows] == expected
        for r in tl.rows:
            assert list(r) == timeline_columns(schema)
            assert r["period"] == period and r["low_n"] == (r["n_sentences"] < LOW_N)
            for key in ("slant", "adopted_slant"):
                assert r[f"{key}_lo"] <= r[key] <= r[f"{key}_hi"], (period, r)
            assert sum(r[f"frame_share.{f}"] for f in schema.frame_names) == pytest.approx(1.0, abs=1e-3)
    assert tl.undated_articles == 0 and tl.note() is None


def test_a_period_holding_all_of_a_source_agrees_with_source_profiles(schema):
    n_a, n_b = 40, 25
    fp, ap = random_probs(schema, n_a + n_b, 2)
    sources = ["a"] * n_a + ["b"] * n_b
    days = [(date(2023, 9, 4) + timedelta(days=i % 5)).isoformat() for i in range(n_a + n_b)]  # Mon..Fri
    articles = [f"{s}{i % 7}" for i, s in enumerate(sources)]
    tl = source_timeline(sources, days, articles, fp, ap, schema, period="week", n_boot=500, seed=3)
    assert [r["source"] for r in tl.rows] == ["a", "b"]
    together = source_profiles(sources, fp, ap, schema, n_boot=500, seed=3)
    for row in tl.rows:
        rows = [i for i, s in enumerate(sources) if s == row["source"]]
        alone = source_profiles([row["source"]] * len(rows), fp[rows], ap[rows], schema, n_boot=500, seed=3)
        for profile in (alone[row["source"]], together[row["source"]]):  # point estimates: always equal
            assert row["n_sentences"] == profile["n_sentences"]
            assert row["slant"] == profile["slant"] and row["adopted_slant"] == profile["adopted_slant"]
            assert all(row[f"frame_share.{f}"] == profile["frame_share"][f] for f in schema.frame_names)
        p = alone[row["source"]]  # CIs: the same bootstrap draws as the source profiled alone
        assert [row["slant_lo"], row["slant_hi"]] == p["slant_ci"]
        assert [row["adopted_slant_lo"], row["adopted_slant_hi"]] == p["adopted_slant_ci"]
    assert [tl.rows[0]["slant_lo"], tl.rows[0]["slant_hi"]] == together["a"]["slant_ci"]  # first source drawn first


def test_articles_without_a_date_are_left_out_but_counted(schema):
    sources = ["a"] * 8
    days = ["2023-09-19"] * 3 + [None] * 2 + ["19 Sept 2023"] * 2 + [""]
    articles = ["dated"] * 3 + ["none"] * 2 + ["prose"] * 2 + ["blank"]
    fp, ap = random_probs(schema, len(sources), 4)
    tl = source_timeline(sources, days, articles, fp, ap, schema)
    assert [(r["n_sentences"], r["n_articles"]) for r in tl.rows] == [(3, 1)]
    assert (tl.undated_articles, tl.undated_sentences, tl.unreadable_dates) == (3, 5, 1)
    assert tl.unreadable_examples == ["19 Sept 2023"]
    note = tl.note() or ""
    assert "3 articles (5 sentences) without a date" in note and "sources.csv" in note and "YYYY-MM-DD" in note
    summary = tl.summary()
    assert summary["undated_articles"] == 3 and summary["low_n_rows"] == 1 and summary["low_n_threshold"] == LOW_N
    empty = source_timeline(["a"], [None], ["x"], fp[:1], ap[:1], schema)
    assert empty.rows == [] and empty.undated_articles == 1


def test_timeline_csv_round_trips_and_a_broken_file_is_named(schema, tmp_path):
    days = ["2023-09-19"] * 25 + ["2023-10-02"] * 4
    fp, ap = random_probs(schema, len(days), 5)
    tl = source_timeline(["a"] * len(days), days, ["x"] * 25 + ["y"] * 4, fp, ap, schema, period="month")
    path = tmp_path / "timeline.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=timeline_columns(schema), lineterminator="\n")
        writer.writeheader()
        writer.writerows(timeline_to_rows(tl))
    assert "low_n" in path.read_text().splitlines()[0] and ",false," in path.read_text()
    assert read_timeline(path) == tl.rows
    path.write_text("source,n\nx,1\n")
    with pytest.raises(TimelineError, match=r"lacks the column\(s\).*period_start.*framing score"):
        read_timeline(path)


# ------------------------------------------------------------------ batch and report (slow)
@pytest.fixture(scope="module")
def dated_scores(trained_model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``framing score`` run of plain-text articles with dates over three weeks (one undated)."""
    model_dir = trained_model[0]
    work = tmp_path_factory.mktemp("timeline")
    texts = sorted((ROOT / "seeds" / "corpus" / "articles").glob("*.txt"))[::17][:12]  # team-written, all camps
    assert len(texts) == 12
    rows: list[dict[str, Any]] = []
    for i, path in enumerate(texts):
        text = path.read_text(encoding="utf-8")
        day = date(2023, 9, 18) + timedelta(days=3 * i)
        rows.append({"id": f"d{i}", "source": f"outlet-{i % 2}", "text": text[:1500], "published": day.isoformat()})
    rows[-1]["published"] = None
    corpus = work / "dated.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = work / "scores"
    res = CliRunner().invoke(
        app, ["score", str(corpus), "--out", str(out), "--model", str(model_dir), "--period", "week", "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.slow
def test_framing_score_writes_the_timeline_of_its_sentences(dated_scores: Path, schema):
    out = dated_scores
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["outputs"]["timeline"] == "timeline.csv" and "extracted" not in manifest["outputs"]
    assert not (out / "extracted").exists() and not (out / "extracted.csv").exists()  # plain text: nothing extracted
    assert manifest["counts"]["timeline"]["undated_articles"] == 1
    with open(out / "articles.csv", encoding="utf-8") as fh:  # the articles.csv columns are unchanged
        header = fh.readline().strip().split(",")
    assert header == [
        "article_id",
        "source",
        "title",
        "published",
        "url",
        "file",
        "record",
        "n_sentences",
        "non_english",
        "language_note",
        "top_frame",
        *[f"frame_share.{f}" for f in schema.frame_names],
    ]
    # timeline.csv is source_timeline over sentences.parquet, with the service's bootstrap size
    from serving.scoring import N_BOOT

    table = pq.read_table(out / "sentences.parquet").to_pylist()
    fp = np.array([[r[f"frame_p.{f}"] for f in schema.frame_names] for r in table])
    ap = np.array([[r[f"attribution_p.{a}"] for a in schema.attribution_names] for r in table])
    expected = source_timeline(
        [r["source"] for r in table],
        [r["published"] for r in table],
        [r["article_id"] for r in table],
        fp,
        ap,
        schema,
        period="week",
        n_boot=N_BOOT,
    )
    assert read_timeline(out / "timeline.csv") == expected.rows
    assert len(expected.rows) >= 4 and {r["period_start"] for r in expected.rows} >= {"2023-09-18", "2023-09-25"}


@pytest.mark.slow
def test_the_report_plots_the_timeline_of_a_scored_corpus(dated_scores: Path, tmp_path: Path):
    metrics = tmp_path / "metrics.json"
    shutil.copy(ROOT / "reports" / "eval" / "metrics.json", metrics)
    out = tmp_path / "html"
    res = CliRunner().invoke(
        app, ["report", "--out", str(out), "--metrics", str(metrics), "--scores", str(dated_scores), "--model", "none"]
    )
    assert res.exit_code == 0, res.output
    html = (out / "index.html").read_text(encoding="utf-8")
    parser = Cells()
    parser.feed(html)
    assert "fig-corpus-timeline" in parser.ids
    figure = html.split('id="fig-corpus-timeline"')[1].split("</figure>")[0]
    assert 'src="data:image/png;base64,' in figure and "Hollow markers" in figure
    assert "1 articles" in html.split('id="corpus-timeline"')[1].split("</details>")[0]  # the undated one
    for row in read_timeline(dated_scores / "timeline.csv"):
        key = f"timeline:{row['source']}:{row['period_start']}"
        assert parser.cells[(key, "slant")] == fmt_signed(row["slant"])
        assert parser.cells[(key, "low_n")] == ("low n" if row["low_n"] else "")
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "(figures/fig-corpus-timeline.png)" in md and "#### Over time" in md
    assert (out / "figures" / "fig-corpus-timeline.png").stat().st_size > 5000

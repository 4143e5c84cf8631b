"""`framing report`: real inputs in, a self-contained page out, checked in headless Chromium and against its sources.

The report is built once per module from a copy of the committed metrics.json, the real agreement files, the committed
learning curve and a `framing score` folder produced by the session's real tiny model on the seed articles.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from report_cells import Cells
from typer.testing import CliRunner

from eval.agreement import agreement_summary
from eval.report import fmt, fmt_ci, fmt_signed
from serving.cli import app
from training.dataset import SEEDS_DIR

ROOT = Path(__file__).resolve().parent.parent
METRICS = ROOT / "reports/eval/metrics.json"
ARTIFACTS = ROOT / "artifacts/test-report"  # gitignored: the screenshot a reviewer can open

ALL_FIGURES = [
    "fig-data-labels",
    "fig-articles",
    "fig-quality-models",
    "fig-confusion-frame",
    "fig-confusion-attribution",
    "fig-reliability",
    "fig-learning-curve",
    "fig-active-learning",  # reports/eval/active_learning.json ('framing annotate curve'), read when present
    "fig-seed-frames",
    "fig-seed-slant",
    "fig-seed-mix",
    "fig-corpus-frames",
    "fig-corpus-slant",
    "fig-corpus-mix",
]


def score_seed_articles(model_dir: Path, out: Path) -> Path:
    """A real `framing score` run of the seed articles (sources from seeds/sources.csv) into ``out``."""
    with (SEEDS_DIR / "sources.csv").open(encoding="utf-8") as fh:
        outlet = {row["doc_id"]: row["source"] for row in csv.DictReader(fh)}
    corpus = out.parent / "seed_articles.jsonl"
    with corpus.open("w", encoding="utf-8") as fh:
        for path in sorted((SEEDS_DIR / "articles").glob("*.txt")):
            record = {"id": path.stem, "source": outlet[path.stem], "text": path.read_text(encoding="utf-8")}
            fh.write(json.dumps(record) + "\n")
    result = CliRunner().invoke(
        app, ["score", str(corpus), "--out", str(out), "--model", str(model_dir), "--format", "csv", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "sources.csv").is_file() and (out / "sentences.csv").is_file()
    return out


@pytest.fixture(scope="module")
def built(trained_model, tmp_path_factory: pytest.TempPathFactory) -> dict:
    model_dir, _tag = trained_model
    work = tmp_path_factory.mktemp("report")
    metrics = work / "metrics.json"
    shutil.copy(METRICS, metrics)
    scores = score_seed_articles(model_dir, work / "scores")
    out = work / "html"
    result = CliRunner().invoke(
        app,
        ["report", "--out", str(out), "--metrics", str(metrics), "--scores", str(scores), "--model", str(model_dir)],
    )
    assert result.exit_code == 0, result.output
    parser = Cells()
    html = (out / "index.html").read_text(encoding="utf-8")
    parser.feed(html)
    return {
        "out": out,
        "html": html,
        "md": (out / "report.md").read_text(encoding="utf-8"),
        "cells": parser.cells,
        "ids": parser.ids,
        "metrics": json.loads(metrics.read_text()),
        "scores": scores,
        "model_dir": model_dir,
    }


@pytest.mark.slow
def test_page_loads_offline_without_errors_and_shows_every_figure(built: dict, chromium, tmp_path: Path) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    console, errors, requests = [], [], []
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((built["out"] / "index.html").as_uri(), wait_until="load")
    assert errors == []
    assert [m for m in console if m[0] == "error"] == []
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), requests
    for fid in ALL_FIGURES:
        figure = page.locator(f"figure#{fid}")
        assert figure.count() == 1, f"figure {fid} missing"
        img = figure.locator("img")
        assert img.get_attribute("alt"), f"{fid} has no alt text"
        assert img.get_attribute("src").startswith("data:image/png;base64,")
        assert page.evaluate(f"document.querySelector('figure#{fid} img').naturalWidth") > 200
        assert figure.locator("figcaption").inner_text().strip()
    assert page.locator("img").count() == len(ALL_FIGURES)
    for section in ("data", "articles", "quality", "sources", "same-story", "errors", "provenance"):
        assert page.locator(f"section#{section} h2").is_visible()
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == 1280 and 5000 < height < 40000, (width, height)
    assert len(png) > 300_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "screenshot.png")


@pytest.mark.slow
def test_quality_table_and_kappa_equal_their_sources(built: dict) -> None:
    cells, metrics = built["cells"], built["metrics"]
    assert len(metrics["models"]) == 8
    for key, result in metrics["models"].items():
        for task in ("frame", "attribution"):
            m = result[task]
            assert cells[(key, f"{task}.macro_f1")] == fmt(m["macro_f1"])
            assert cells[(key, f"{task}.macro_f1_ci")] == fmt_ci(m["macro_f1_ci"])
            assert cells[(key, f"{task}.accuracy")] == fmt(m["accuracy"])
            assert cells[(key, f"{task}.ece")] == fmt(m["ece"])
    primary = metrics["primary"]
    for task in ("frame", "attribution"):
        for lab, v in metrics["models"][primary][task]["per_label"].items():
            for what in ("precision", "recall", "f1"):
                assert cells[(f"per-label:{primary}", f"{task}.{lab}.{what}")] == fmt(v[what])
    agreement = agreement_summary()
    assert {"seed", "synthetic", "synthetic multivoice", "synthetic multivoice2"} <= set(agreement)
    for check in agreement:
        for task in ("frame", "attribution"):
            assert cells[("kappa", f"{check}.{task}")] == fmt(agreement[check][task]["kappa"])
    assert cells[("kappa", "seed.frame")] == "0.889"
    assert cells[("kappa", "synthetic multivoice.attribution")] == "0.817"


@pytest.mark.slow
def test_corpus_profiles_equal_sources_csv(built: dict) -> None:
    with (built["scores"] / "sources.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5
    for row in rows:
        src = row["source"]
        assert built["cells"][(src, "slant")] == fmt_signed(float(row["slant"]))
        assert built["cells"][(src, "adopted_slant")] == fmt_signed(float(row["adopted_slant"]))
        assert built["cells"][(src, "frame_mean.anti_terror")] == fmt(float(row["frame_mean.anti_terror"]))


@pytest.mark.slow
def test_markdown_carries_the_same_numbers(built: dict) -> None:
    md, metrics = built["md"], built["metrics"]
    lines = md.splitlines()
    for key, r in metrics["models"].items():
        f, a = r["frame"], r["attribution"]
        expected = (
            f"| {r['training_data']} | {fmt(f['macro_f1'])} | {fmt_ci(f['macro_f1_ci'])} | {fmt(f['accuracy'])} | "
            f"{fmt(f['ece'])} | {fmt(a['macro_f1'])} | {fmt_ci(a['macro_f1_ci'])} | {fmt(a['accuracy'])} | "
            f"{fmt(a['ece'])} |"
        )
        assert any(line.endswith(expected) for line in lines), (key, expected)
    assert "| seed | 70 | 0.889 | 91.4% | 0.972 | 98.6% |" in md
    assert "| synthetic multivoice | 231 | 0.863 | 88.7% | 0.817 | 89.2% |" in md
    assert "| synthetic multivoice2 | 130 | 0.962 | 96.9% | 0.960 | 97.7% |" in md
    for fid in ALL_FIGURES:  # figures referenced from the Markdown exist beside it
        assert f"(figures/{fid}.png)" in md
        assert (built["out"] / "figures" / f"{fid}.png").stat().st_size > 5000


@pytest.mark.slow
def test_whole_article_protocols_are_shown_with_their_numbers(built: dict) -> None:
    """The page and the Markdown carry reports/eval/articles.json's figures for both protocols and every model."""
    import json

    articles = json.loads((ROOT / "reports" / "eval" / "articles.json").read_text())
    for key in ("seeds", "camp"):
        for name, r in articles["protocols"][key]["models"].items():
            for task in ("frame", "attribution"):
                assert built["cells"][(f"{key}:{name}", f"{task}.macro_f1")] == fmt(r[task]["macro_f1"])
    md = built["md"]
    assert "## Quality on whole articles (closest to real outlets)" in md
    assert md.index("## Quality on whole articles") < md.index("## Quality\n")
    best = articles["protocols"]["camp"]["models"]["ensemble_context"]["frame"]
    assert f"| ensemble_context | {best['macro_f1']:.3f} [{best['macro_f1_ci'][0]:.2f}" in md


@pytest.mark.slow
def test_sections_hold_real_content(built: dict) -> None:
    html, metrics = built["html"], built["metrics"]
    # provenance names the model folder and the evaluation's commit and checksums
    assert f"folder {built['model_dir']}" in html
    assert metrics["git_commit"] in html
    for digest in metrics["data_checksums"].values():
        assert digest in html
    # same story: the landmine deaths reported by several sources land in one group
    assert 'id="story-1"' in html and "landmine" in html.split('id="errors"')[0].split('id="same-story"')[1]
    # errors: the most confident frame mistake of the out-of-fold predictions is listed first
    wrong = [o for o in metrics["oof_predictions"] if o["gold_frame"] != o["pred_frame"]]
    top = max(wrong, key=lambda o: o["frame_confidence"])
    first_row = html.split('id="table-errors-frame"')[1].split("<tbody>")[1].split("</tr>")[0]
    assert f"<code>{top['sentence_id']}</code>" in first_row
    # the learning curve states which models it covers
    assert "Models on the curve" in html and "TF-IDF word+char + LR" in html
    # the synthetic voices are labelled as synthetic
    assert "Synthetic test sentences" in html


@pytest.mark.slow
def test_report_without_model_or_scores(tmp_path: Path) -> None:
    out = tmp_path / "html"
    result = CliRunner().invoke(app, ["report", "--out", str(out), "--model", "none", "--curve", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    html = (out / "index.html").read_text(encoding="utf-8")
    parser = Cells()
    parser.feed(html)
    assert "no model" in html.split('id="prov-model"')[1][:200]
    assert "fig-corpus-frames" not in parser.ids and "fig-learning-curve" not in parser.ids
    assert "fig-seed-slant" in parser.ids
    assert "Not computed: run <code>framing learning-curve</code>" in html
    assert "Not computed: run `framing learning-curve`" in (out / "report.md").read_text()


def _bad_metrics(tmp_path: Path, **changes) -> Path:
    data = json.loads(METRICS.read_text())
    data.update(changes)
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "metrics.json not found"),
        ("version", "metrics_schema_version 99"),
        ("not-json", "is not valid JSON"),
        ("incomplete", "lacks ['oof_predictions']"),
        ("no-sources-csv", "has no sources.csv"),
        ("bad-model", "not a saved model folder"),
    ],
)
def test_bad_inputs_exit_2_with_a_clear_message(case: str, message: str, tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    extra: list[str] = []
    if case == "version":
        metrics = _bad_metrics(tmp_path, metrics_schema_version=99)
    elif case == "not-json":
        metrics.write_text("{ this is not json")
    elif case == "incomplete":
        data = json.loads(METRICS.read_text())
        del data["oof_predictions"]
        metrics.write_text(json.dumps(data))
    elif case != "missing":
        shutil.copy(METRICS, metrics)
    if case == "no-sources-csv":
        (tmp_path / "scores").mkdir()
        (tmp_path / "scores" / "sentences.csv").write_text("source,text,frame,attribution\n")
        extra = ["--scores", str(tmp_path / "scores")]
    if case == "bad-model":
        extra = ["--model", str(tmp_path / "no-such-model")]
    out = tmp_path / "html"
    result = CliRunner().invoke(app, ["report", "--out", str(out), "--metrics", str(metrics), *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (out / "index.html").exists()

"""``framing annotate``: Label Studio tasks out, labels back in as a seeds folder, and the loop for a new conflict.

Fast tests check the pieces on the team-written second conflict (``tests/data/other_conflict``:
a fictional river dispute with its own four-frame schema): the labeling config, the
uncertainty order, the export (the same inputs and rejects as ``framing score``), the import's
validation (unknown label, span mismatch, duplicate, missing field), kappa, adjudication, and
that nothing is written half. The slow test runs the real tool: Label Studio in its own
environment (``make labelstudio``), driven through label-studio-sdk by two annotators, its
export imported, a model trained on it with ``framing train --seeds`` and served.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from model.schema import load_schema
from serving.cli import app
from training.annotations import AnnotationError, load_seed_annotations
from training.dataset import SeedPaths, compute_checksums, read_checksums
from training.labelstudio import (
    ATTRIBUTION,
    FRAME,
    LabelStudioError,
    Unit,
    build_tasks,
    cohen_kappa,
    import_annotations,
    label_config,
    safe_doc_ids,
    spread_order,
    uncertainty_margin,
)

REPO = Path(__file__).resolve().parents[1]
OTHER = REPO / "tests" / "data" / "other_conflict"
runner = CliRunner()


# --------------------------------------------------------------------------- helpers
def gold() -> dict[tuple[str, int, int], dict[str, Any]]:
    """The fixture's gold labels by (doc_id, start, end)."""
    lines = (OTHER / "annotations.jsonl").read_text(encoding="utf-8").splitlines()
    return {(r["doc_id"], r["start"], r["end"]): r for r in map(json.loads, filter(str.strip, lines))}


def articles_folder(tmp: Path) -> Path:
    """The fixture's articles as a user would pass them to 'framing score': a folder with a sources.csv sidecar."""
    folder = tmp / "in" / "articles"
    shutil.copytree(OTHER / "articles", folder)
    shutil.copy(OTHER / "sources.csv", folder / "sources.csv")
    return folder


def cli(*args: str) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def export_fixture(tmp: Path, *extra: str) -> Path:
    out = tmp / "export"
    result = cli("annotate", "export", articles_folder(tmp), "--out", out, "--schema", OTHER / "schema.yaml", *extra)
    assert result.exit_code == 0, result.output
    return out


def choice(name: str, value: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": "sentence", "type": "choices", "value": {"choices": [value]}}


def ls_export(tasks: list[dict[str, Any]], people: dict[Any, dict[str, tuple[str, str]]]) -> list[dict[str, Any]]:
    """A Label Studio JSON export (the layout a real 1.23 snapshot export has) of ``people``'s labels.

    ``people``: completed_by value (user id or {id, email}) -> task_id -> (frame, attribution).
    """
    out = []
    for n, t in enumerate(tasks, start=1):
        anns = []
        for k, (who, labels) in enumerate(people.items()):
            if t["data"]["task_id"] in labels:
                fr, at = labels[t["data"]["task_id"]]
                anns.append(
                    {
                        "id": 100 * n + k,
                        "completed_by": who if not isinstance(who, tuple) else {"id": who[0], "email": who[1]},
                        "result": [choice(FRAME, fr), choice(ATTRIBUTION, at)],
                        "was_cancelled": False,
                        "lead_time": 3.0,
                    }
                )
        out.append({"id": n, "annotations": anns, "drafts": [], "predictions": [], "data": t["data"], "meta": {}})
    return out


def gold_labels(tasks: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    g = gold()
    return {
        t["data"]["task_id"]: (
            g[(t["data"]["doc_id"], t["data"]["start"], t["data"]["end"])]["frame"],
            g[(t["data"]["doc_id"], t["data"]["start"], t["data"]["end"])]["attribution"],
        )
        for t in tasks
    }


def run_import(export_dir: Path, inputs: list[Path], out: Path, **kw: Any):
    return import_annotations(inputs, articles_dir=export_dir, schema_path=export_dir / "schema.yaml", out=out, **kw)


# --------------------------------------------------------------------------- label config
def test_label_config_is_valid_xml_with_every_label_and_its_description_as_hint(tmp_path):
    schema = load_schema(OTHER / "schema.yaml")
    root = ET.fromstring(label_config(schema))
    controls = {c.get("name"): c for c in root.iter("Choices")}
    assert set(controls) == {"frame", "attribution", "secondary_frames"}
    assert [c.get("value") for c in controls["frame"]] == schema.frame_names
    assert [c.get("value") for c in controls["attribution"]] == schema.attribution_names
    assert controls["frame"].get("required") == "true" and controls["secondary_frames"].get("choice") == "multiple"
    water_security = controls["frame"][0]
    assert water_security.get("hint").startswith("[VEL] The dam as lawful development")
    assert {t.get("name") for t in root.iter("Text")} == {"sentence", "context"}
    assert all(c.get("toName") == "sentence" for c in controls.values())
    # a description with XML's special characters stays one attribute
    raw = (OTHER / "schema.yaml").read_text().replace("Talks, the Meren", 'Talks & "quotes" <b>, the Meren')
    (tmp_path / "s.yaml").write_text(raw)
    hint = ET.fromstring(label_config(load_schema(tmp_path / "s.yaml"))).find(".//Choice[@value='mediation']")
    assert hint is not None and 'Talks & "quotes" <b>, the Meren' in hint.get("hint")


# --------------------------------------------------------------------------- ordering
def test_uncertainty_margin_is_the_smaller_of_both_heads_top_two_margins():
    frame_p = np.array([[0.5, 0.4, 0.1], [0.9, 0.05, 0.05]])
    attr_p = np.array([[0.8, 0.2], [0.55, 0.45]])
    assert np.allclose(uncertainty_margin(frame_p, attr_p), [0.1, 0.1])
    assert np.allclose(uncertainty_margin(frame_p, np.array([[1.0, 0.0], [1.0, 0.0]])), [0.1, 0.85])


def test_spread_order_takes_sources_in_turn_and_caps_each_article_per_round():
    # source A: article a1 has the four least certain sentences; a2 two more; source B one article
    sources = ["A"] * 6 + ["B"] * 3
    articles = ["a1", "a1", "a1", "a1", "a2", "a2", "b1", "b1", "b1"]
    keys = [0.01, 0.02, 0.03, 0.04, 0.30, 0.40, 0.10, 0.20, 0.50]
    order = spread_order(sources, articles, keys, per_article=2)
    assert sorted(order) == list(range(9))
    assert [sources[i] for i in order[:6]] == ["A", "B", "A", "B", "A", "B"]  # turns, least sure source first
    a_seq = [i for i in order if sources[i] == "A"]
    # round 1: a1's two least sure + a2's two, by margin; round 2: the rest of a1
    assert a_seq == [0, 1, 4, 5, 2, 3]
    assert spread_order(sources, articles, keys, per_article=4)[:2] == [0, 6]
    with pytest.raises(ValueError):
        spread_order(sources, articles, keys, per_article=0)


def _units(n_docs: int = 3, per_doc: int = 4) -> list[Unit]:
    return [
        Unit(f"d{d}", f"src{d % 2}", i, per_doc, 10 * i, 10 * i + 8, f"sentence {d}.{i}", f"ctx {d}.{i}")
        for d in range(n_docs)
        for i in range(per_doc)
    ]


def test_build_tasks_pre_annotates_with_model_labels_and_ranks_least_sure_first():
    schema = load_schema(OTHER / "schema.yaml")
    units = _units()
    rng = np.random.default_rng(3)
    frame_p = rng.dirichlet(np.ones(4), len(units))
    attr_p = rng.dirichlet(np.ones(3), len(units))
    tasks, rows = build_tasks(units, schema, frame_p=frame_p, attr_p=attr_p, model_version="m:1", limit=5)
    assert len(tasks) == len(rows) == 5
    margins = uncertainty_margin(frame_p, attr_p)
    first = tasks[0]
    assert first["predictions"][0]["score"] == pytest.approx(margins.min(), abs=1e-4)
    assert first["predictions"][0]["model_version"] == "m:1"
    result = {r["from_name"]: r["value"]["choices"] for r in first["predictions"][0]["result"]}
    assert set(result) == {"frame", "attribution"} and result["frame"][0] in schema.frame_names
    assert [t["data"]["rank"] for t in tasks] == [1, 2, 3, 4, 5]
    assert rows[0]["task_id"] == first["data"]["task_id"] and rows[0]["frame"] == "" and rows[0]["annotator"] == ""
    assert rows[0]["margin"] == first["predictions"][0]["score"]
    doc, _ = build_tasks(units, schema, order="document")
    assert [t["data"]["task_id"] for t in doc][:2] == ["d0:0-8", "d0:10-18"] and "predictions" not in doc[0]
    with pytest.raises(LabelStudioError, match="needs the model's predictions"):
        build_tasks(units, schema, order="uncertainty")


def test_safe_doc_ids_are_file_names_and_unique():
    assert safe_doc_ids(["a/b.txt", "a:b.txt", "x", "../..", "X"]) == ["a_b.txt", "a_b.txt-2", "x", "article", "X-2"]


# --------------------------------------------------------------------------- export
def test_export_reads_what_framing_score_reads_and_cuts_the_gold_sentences(tmp_path):
    out = export_fixture(tmp_path, "--no-predictions")
    tasks = json.loads((out / "tasks.json").read_text())
    g = gold()
    assert len(tasks) == len(g) == 106
    for t in tasks:
        d = t["data"]
        key = (d["doc_id"], d["start"], d["end"])
        assert key in g, key
        assert d["sentence"] == g[key]["text"]
        assert d["source"] == g[key]["source"]  # from the sources.csv sidecar, as framing score reads it
        assert d["context"] and d["sentence"] not in d["context"]
        assert (out / "articles" / f"{d['doc_id']}.txt").read_text()[d["start"] : d["end"]] == d["sentence"]
    with open(out / "tasks.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 106 and rows[0]["doc_id"] == tasks[0]["data"]["doc_id"]
    assert {"frame", "attribution", "annotator", "predicted_frame", "margin"} <= set(rows[0])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["order"] == "document" and manifest["counts"]["tasks"] == 106 and manifest["model"] is None
    assert (out / "schema.yaml").read_text() == (OTHER / "schema.yaml").read_text()
    ET.fromstring((out / "label_config.xml").read_text())


def test_export_rejects_records_like_framing_score_and_refuses_a_full_out_folder(tmp_path):
    table = tmp_path / "articles.jsonl"
    lines = [
        {"id": "ok-1", "source": "river-wire", "text": "The Meren fell to a record low.\nTalks resume in Lisk."},
        {"id": "empty", "source": "river-wire", "text": "   "},
        {"id": "ok-2", "text": "Dastan accused Veloria of a water blockade."},
    ]
    table.write_text("\n".join(json.dumps(x) for x in lines) + "\n{bad json\n")
    out = tmp_path / "export"
    result = cli("annotate", "export", table, "--out", out, "--schema", OTHER / "schema.yaml", "--no-predictions")
    assert result.exit_code == 1, result.output  # exported, with rejects (as framing score exits)
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    reasons = " | ".join(r["reason"] for r in rejects)
    assert "empty text" in reasons and "missing source" in reasons and "bad JSON" in reasons
    assert len(json.loads((out / "tasks.json").read_text())) == 2
    again = cli("annotate", "export", table, "--out", out, "--schema", OTHER / "schema.yaml", "--no-predictions")
    assert again.exit_code == 2 and "already holds files" in again.output
    bad_col = cli("annotate", "export", table, "--out", tmp_path / "x", "--text-col", "body", "--no-predictions")
    assert bad_col.exit_code == 2
    assert not (tmp_path / "x").exists()
    strict = cli(
        "annotate", "export", table, "--out", tmp_path / "s", "--schema", OTHER / "schema.yaml", "--no-predictions",
        "--strict",
    )  # fmt: skip
    assert strict.exit_code == 2 and not (tmp_path / "s").exists()


def test_export_refuses_a_model_of_another_schema_and_uncertainty_without_predictions(tmp_path):
    folder = articles_folder(tmp_path)
    model = tmp_path / "karabakh-model"
    model.mkdir()
    (model / "schema.json").write_text(json.dumps(load_schema(REPO / "seeds" / "schema.yaml").to_dict()))
    result = cli("annotate", "export", folder, "--out", tmp_path / "o", "--schema", OTHER / "schema.yaml", "--model",
                 model)  # fmt: skip
    assert result.exit_code == 2
    assert "cannot pre-annotate" in result.output and "--no-predictions" in result.output
    result = cli("annotate", "export", folder, "--out", tmp_path / "o", "--schema", OTHER / "schema.yaml",
                 "--no-predictions", "--order", "uncertainty")  # fmt: skip
    assert result.exit_code == 2 and "drop --no-predictions" in result.output
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- import
def test_import_writes_a_seeds_folder_the_loader_reads_with_kappa_and_disagreements_set_aside(tmp_path):
    out = export_fixture(tmp_path, "--no-predictions")
    tasks = json.loads((out / "tasks.json").read_text())
    first = gold_labels(tasks)
    second = {}
    changed = []
    for k, (tid, (fr, at)) in enumerate(first.items()):
        if k % 3 == 0:
            if k % 12 == 0:
                fr = "mediation" if fr != "mediation" else "background"
                changed.append(tid)
            second[tid] = (fr, at)
    export = tmp_path / "ls.json"
    export.write_text(json.dumps(ls_export(tasks, {(1, "ana@example.org"): first, 2: second})))
    seeds = tmp_path / "seeds"
    result = run_import(out, [export], seeds, annotator_names={"2": "ben@example.org"})
    assert result.problems == [] and result.exit_code == 0
    assert result.n_records == 106 - len(changed) and len(result.disagreements) == len(changed)
    records = [json.loads(x) for x in (seeds / "annotations.jsonl").read_text().splitlines()]
    g = gold()
    for r in records:
        assert (r["frame"], r["attribution"]) == (g[(r["doc_id"], r["start"], r["end"])]["frame"],
                                                  g[(r["doc_id"], r["start"], r["end"])]["attribution"])  # fmt: skip
        assert r["annotator"] in ("ana@example.org", "ana@example.org, ben@example.org")
    assert not {task for task in changed} & {f"{r['doc_id']}:{r['start']}-{r['end']}" for r in records}
    # the seed loader and the checksum check accept it as they are
    schema = load_schema(seeds / "schema.yaml")
    examples = load_seed_annotations(seeds / "annotations.jsonl", seeds / "articles", schema)
    assert len(examples) == result.n_records and examples[0].annotator
    assert read_checksums(SeedPaths(seeds)) == compute_checksums(SeedPaths(seeds))
    # kappa: sklearn's, on the doubly labelled sentences
    from sklearn.metrics import cohen_kappa_score

    a = [first[t][0] for t in second]
    b = [second[t][0] for t in second]
    assert result.kappa["pooled"]["frame"]["kappa"] == pytest.approx(cohen_kappa_score(a, b), abs=1e-4)
    assert result.kappa["pooled"]["attribution"]["kappa"] == 1.0
    assert result.kappa["pairs"][0]["annotators"] == ["ana@example.org", "ben@example.org"]
    dis = [json.loads(x) for x in (seeds / "agreement" / "disagreements.jsonl").read_text().splitlines()]
    assert {d["task_id"] for d in dis} == set(changed) and all(d["differs"] == ["frame"] for d in dis)
    assert {lab["annotator"] for lab in dis[0]["labels"]} == {"ana@example.org", "ben@example.org"}
    # eval.agreement reads the two passes the import writes
    from eval.agreement import seed_agreement

    assert seed_agreement(SeedPaths(seeds))["frame"]["kappa"] == result.kappa["pooled"]["frame"]["kappa"]
    # the CLI: same folder refused without --overwrite; an adjudication decides the set-aside sentences
    decided = tmp_path / "decided.jsonl"
    decided.write_text("".join(json.dumps(d | {"frame": "mediation", "attribution": "attributed",
                                               "adjudicator": "cleo@example.org"}) + "\n" for d in dis))  # fmt: skip
    res = cli("annotate", "import", export, "--articles", out, "--out", seeds, "--annotator-name", "2=ben@example.org")
    assert res.exit_code == 2 and "already holds files" in res.output
    res = cli("annotate", "import", export, "--articles", out, "--out", seeds, "--annotator-name", "2=ben@example.org",
              "--adjudication", decided, "--overwrite")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "kappa" in res.output and f"{len(changed)} adjudicated" in res.output
    records = [json.loads(x) for x in (seeds / "annotations.jsonl").read_text().splitlines()]
    assert len(records) == 106
    adjudicated = [r for r in records if "adjudicated" in r["annotator"]]
    assert len(adjudicated) == len(changed) and adjudicated[0]["annotator"].startswith("cleo@example.org")
    assert not (seeds / "agreement" / "disagreements.jsonl").exists()
    assert (seeds / "agreement" / "adjudication.jsonl").is_file()


def test_import_lists_bad_labels_by_file_and_task_and_keeps_the_good_ones(tmp_path):
    out = export_fixture(tmp_path, "--no-predictions")
    tasks = json.loads((out / "tasks.json").read_text())
    labels = gold_labels(tasks)
    export = ls_export(tasks, {(1, "ana@example.org"): labels})
    export[0]["annotations"][0]["result"][0] = choice(FRAME, "anti_terror")  # another schema's label
    export[1]["data"] = {**export[1]["data"], "sentence": "A sentence that is not in the article."}  # edited
    export[2]["annotations"][0]["result"] = [choice(FRAME, "mediation")]  # no attribution
    export[3]["annotations"].append({**export[3]["annotations"][0], "id": 9999})  # the same person twice
    export[4]["annotations"][0]["was_cancelled"] = True  # skipped: not an error
    del export[5]["data"]["start"]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(export))
    seeds = tmp_path / "seeds"
    res = cli("annotate", "import", path, "--articles", out, "--out", seeds)
    assert res.exit_code == 1, res.output
    report = json.loads((seeds / "import_report.json").read_text())
    kinds = {p["kind"] for p in report["problems"]}
    assert kinds == {"unknown label", "span mismatch", "missing field", "duplicate"}
    assert len(report["problems"]) == 5 and report["counts"]["skipped_annotations"] == 1
    assert all("ls.json task" in p["where"] for p in report["problems"])
    unknown = next(p for p in report["problems"] if p["kind"] == "unknown label")
    assert "'anti_terror' is not in schema 'meren-dam-2025'" in unknown["problem"]
    assert unknown["task"] == tasks[0]["data"]["task_id"]
    assert "ls.json task 1" in res.output and "unknown label" in res.output
    assert len((seeds / "annotations.jsonl").read_text().splitlines()) == 106 - 5  # 4 bad + 1 skipped
    # --strict: the same input writes nothing
    res = cli("annotate", "import", path, "--articles", out, "--out", tmp_path / "strict", "--strict")
    assert res.exit_code == 2 and "--strict" in res.output and not (tmp_path / "strict").exists()


def test_import_of_an_empty_or_foreign_export_is_an_error_and_writes_nothing(tmp_path):
    out = export_fixture(tmp_path, "--no-predictions")
    tasks = json.loads((out / "tasks.json").read_text())
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    res = cli("annotate", "import", empty, "--articles", out, "--out", tmp_path / "s1")
    assert res.exit_code == 2 and "no labelled task" in res.output
    unlabelled = tmp_path / "unlabelled.json"
    unlabelled.write_text(json.dumps(ls_export(tasks, {})))
    res = cli("annotate", "import", unlabelled, "--articles", out, "--out", tmp_path / "s2")
    assert res.exit_code == 2 and "106 without a submitted annotation" in res.output
    karabakh = {t["data"]["task_id"]: ("anti_terror", "authorial") for t in tasks}
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps(ls_export(tasks, {(1, "ana@example.org"): karabakh})))
    res = cli("annotate", "import", foreign, "--articles", out, "--out", tmp_path / "s3")
    assert res.exit_code == 2
    assert "another project" in res.output and "anti_terror" in res.output
    assert tasks[0]["data"]["task_id"] in res.output  # the first bad task is named
    not_ours = tmp_path / "not_ours.json"
    not_ours.write_text(
        json.dumps(
            [
                {
                    "id": 1,
                    "data": {"text": "x"},
                    "annotations": [
                        {
                            "id": 1,
                            "completed_by": 1,
                            "result": [choice(FRAME, "mediation"), choice(ATTRIBUTION, "authorial")],
                        }
                    ],
                }
            ]
        )
    )
    res = cli("annotate", "import", not_ours, "--articles", out, "--out", tmp_path / "s4")
    assert res.exit_code == 2 and "not made by 'framing annotate export'" in res.output
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    res = cli("annotate", "import", garbage, "--articles", out, "--out", tmp_path / "s5")
    assert res.exit_code == 2 and "not valid JSON" in res.output
    assert not any((tmp_path / f"s{i}").exists() for i in range(1, 6))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".s")]  # no temporary folder left


def test_import_of_articles_changed_since_export_names_the_tasks(tmp_path):
    out = export_fixture(tmp_path, "--no-predictions")
    tasks = json.loads((out / "tasks.json").read_text())
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(ls_export(tasks, {(1, "ana@example.org"): gold_labels(tasks)})))
    article = out / "articles" / "002_dastan-herald.txt"
    article.write_text("Edited: " + article.read_text())
    seeds = tmp_path / "seeds"
    res = cli("annotate", "import", path, "--articles", out, "--out", seeds)
    assert res.exit_code == 1
    problems = json.loads((seeds / "import_report.json").read_text())["problems"]
    n_doc = sum(t["data"]["doc_id"] == "002_dastan-herald" for t in tasks)
    assert len(problems) == n_doc and {p["kind"] for p in problems} == {"span mismatch"}
    assert "002_dastan-herald" in problems[0]["task"] and "no longer matches" in problems[0]["problem"]
    for a in (out / "articles").glob("*.txt"):  # every article edited: nothing usable, nothing written
        a.write_text("x" + a.read_text())
    res = cli("annotate", "import", path, "--articles", out, "--out", tmp_path / "none")
    assert res.exit_code == 2 and "106 span mismatch" in res.output and not (tmp_path / "none").exists()


def test_import_of_the_filled_in_spreadsheet(tmp_path):
    out = export_fixture(tmp_path, "--no-predictions")
    with open(out / "tasks.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    g = gold()
    for r in rows[:40]:
        lab = g[(r["doc_id"], int(r["start"]), int(r["end"]))]
        r["frame"], r["attribution"] = lab["frame"].upper(), lab["attribution"]  # case is forgiven
        r["note"] = "checked in a spreadsheet"
    rows[0]["annotator"] = "dana@example.org"
    filled = tmp_path / "filled.csv"  # saved by a spreadsheet in a comma-decimal locale
    with open(filled, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    seeds = tmp_path / "seeds"
    res = cli("annotate", "import", filled, "--articles", out, "--out", seeds, "--default-annotator", "eli@example.org")
    assert res.exit_code == 0, res.output
    records = [json.loads(x) for x in (seeds / "annotations.jsonl").read_text().splitlines()]
    assert len(records) == 40
    assert {r["annotator"] for r in records} == {"dana@example.org", "eli@example.org"}
    assert all(r["note"] == "checked in a spreadsheet" and r["frame"] in g[(r["doc_id"], r["start"], r["end"])]["frame"]
               for r in records)  # fmt: skip
    # no annotator and no default: those rows are listed, not guessed
    res = cli("annotate", "import", filled, "--articles", out, "--out", tmp_path / "s2")
    assert res.exit_code == 1 and "no annotator" in res.output
    bad = tmp_path / "bad.csv"
    bad.write_text("doc_id,sentence\nx,y\n")
    res = cli("annotate", "import", bad, "--articles", out, "--out", tmp_path / "s3")
    assert res.exit_code == 2 and "no column(s) ['start', 'end', 'frame', 'attribution']" in res.output


def test_spreadsheet_cells_that_look_like_formulas_come_back_unchanged(tmp_path):
    table = tmp_path / "bulletin.jsonl"
    text = "- The flow fell by half at the gauge.\n+ Talks resumed in Lisk on Monday."
    table.write_text(json.dumps({"id": "b1", "source": "@meren-desk", "text": text}) + "\n")
    out = tmp_path / "export"
    result = cli("annotate", "export", table, "--out", out, "--schema", OTHER / "schema.yaml", "--no-predictions")
    assert result.exit_code == 0, result.output
    with open(out / "tasks.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["sentence"][:3] for r in rows] == ["'- ", "'+ "] and rows[0]["source"] == "'@meren-desk"
    for r in rows:
        r["frame"], r["attribution"], r["annotator"] = "background", "authorial", "dana@example.org"
    filled = tmp_path / "filled.csv"
    with open(filled, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    res = cli("annotate", "import", filled, "--articles", out, "--out", tmp_path / "seeds")
    assert res.exit_code == 0, res.output
    records = [json.loads(x) for x in (tmp_path / "seeds" / "annotations.jsonl").read_text().splitlines()]
    assert [r["text"] for r in records] == text.split("\n") and {r["source"] for r in records} == {"@meren-desk"}


def test_a_failure_while_writing_leaves_no_partial_folder(tmp_path, monkeypatch):
    out = export_fixture(tmp_path, "--no-predictions")
    tasks = json.loads((out / "tasks.json").read_text())
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(ls_export(tasks, {(1, "ana@example.org"): gold_labels(tasks)})))
    import training.dataset

    def boom(_paths):
        raise OSError("disk full")

    monkeypatch.setattr(training.dataset, "write_checksums", boom)
    with pytest.raises(OSError, match="disk full"):
        run_import(out, [path], tmp_path / "seeds")
    assert not (tmp_path / "seeds").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".seeds")] == []


def test_seed_loader_accepts_an_annotator_and_rejects_an_empty_one(tmp_path):
    schema = load_schema(OTHER / "schema.yaml")
    line = json.loads((OTHER / "annotations.jsonl").read_text().splitlines()[0])
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(line | {"annotator": "ana@example.org"}) + "\n")
    assert load_seed_annotations(path, OTHER / "articles", schema)[0].annotator == "ana@example.org"
    path.write_text(json.dumps(line | {"annotator": " "}) + "\n")
    with pytest.raises(AnnotationError, match="'annotator' must be a non-empty string"):
        load_seed_annotations(path, OTHER / "articles", schema)


def test_cohen_kappa_matches_eval_agreement_and_is_none_when_undefined():
    from eval.agreement import kappa

    a = ["x", "y", "x", "z", "y", "x"]
    b = ["x", "y", "y", "z", "y", "x"]
    assert cohen_kappa(a, b) == kappa(a, b)["kappa"]
    assert cohen_kappa(["x", "x"], ["x", "x"]) is None


# =========================================================================== the real tool
LS_VENV = Path(os.environ.get("LABEL_STUDIO_VENV", REPO / ".venv-labelstudio"))
LS_READY_TIMEOUT_S = 180.0  # a cold start migrates an empty SQLite database: ~30 s on 2 idle cores
DRIVER = REPO / "tests" / "labelstudio_driver.py"
FRAMING = Path(sys.executable).parent / "framing"
ARTIFACTS = REPO / "artifacts" / "test-annotate"  # gitignored: the commands' output, for a reviewer to read


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    """(base URL, admin e-mail, admin API token) of a real Label Studio on 127.0.0.1 with a SQLite temp data dir."""
    import secrets

    import httpx

    binary = LS_VENV / "bin" / "label-studio"
    assert binary.is_file(), f"Label Studio is missing at {LS_VENV}: run `make labelstudio` (its own venv)"
    data = tmp_path_factory.mktemp("labelstudio")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    email, token = "ana@example.org", secrets.token_hex(20)
    # A whitelisted environment: Label Studio also reads bare HOST, PORT, USERNAME, DEBUG... variables.
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR", "TZ")}
    env |= {
        "HOME": str(data),
        "LABEL_STUDIO_USERNAME": email,
        "LABEL_STUDIO_PASSWORD": "ana-pass-1234",
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",  # 1.23 creates orgs with legacy tokens off
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    log = data / "server.log"
    cmd = [str(binary), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
           "--host", url, "--data-dir", str(data), "--database", str(data / "label_studio.sqlite3")]  # fmt: skip
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + LS_READY_TIMEOUT_S
        with httpx.Client(timeout=2) as client:
            while True:
                assert proc.poll() is None, f"label-studio exited {proc.returncode}:\n{log.read_text()[-3000:]}"
                try:
                    if client.get(f"{url}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"label-studio not ready:\n{log.read_text()[-3000:]}"
                time.sleep(0.5)
        yield url, email, token
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def framing(*args: Any, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real ``framing`` command, as a user runs it; its transcript is kept in ``artifacts/test-annotate/``."""
    done = subprocess.run(
        [str(FRAMING), *map(str, args)],
        cwd=REPO,
        env=(os.environ | (env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "transcript.txt", "a", encoding="utf-8") as fh:
        fh.write(f"$ framing {' '.join(map(str, args))}\n{done.stdout}{done.stderr}(exit {done.returncode})\n\n")
    return done


def drive(command: str, *args: Any) -> dict[str, Any]:
    """One driver subcommand in Label Studio's own environment; its one-line JSON summary."""
    done = subprocess.run(
        [str(LS_VENV / "bin" / "python"), str(DRIVER), command, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"driver {command} failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_label_studio_round_trip_trains_and_serves_a_model_for_a_new_conflict(label_studio, tmp_path):
    """schema.yaml -> tasks -> Label Studio (two annotators) -> export -> import -> train -> serve; no code change."""
    url, admin_email, token = label_studio
    schema = load_schema(OTHER / "schema.yaml")
    (ARTIFACTS / "transcript.txt").unlink(missing_ok=True)
    # 1. export the articles for a first round: a new conflict has no model yet
    folder = articles_folder(tmp_path)
    export_dir = tmp_path / "export"
    done = framing("annotate", "export", folder, "--out", export_dir, "--schema", OTHER / "schema.yaml",
                   "--no-predictions")  # fmt: skip
    assert done.returncode == 0, done.stderr
    tasks = json.loads((export_dir / "tasks.json").read_text())
    assert len(tasks) == 106

    # 2. two annotators label in Label Studio: ana = the gold labels; ben = every third sentence, 4 changed
    first = gold_labels(tasks)
    second, changed = {}, []
    for k, (tid, (fr, at)) in enumerate(first.items()):
        if k % 3:
            continue
        if k in (3, 30, 60) and fr != "mediation":
            fr = "mediation"
            changed.append(tid)
        elif k == 90 and at != "distanced":
            at = "distanced"
            changed.append(tid)
        second[tid] = (fr, at)
    plan = {
        "annotators": [
            {"email": admin_email, "labels": {t: {"frame": f, "attribution": a} for t, (f, a) in first.items()}},
            {"email": "ben@example.org", "password": "ben-pass-5678",
             "labels": {t: {"frame": f, "attribution": a} for t, (f, a) in second.items()}},
        ]
    }  # fmt: skip
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    ls_json = tmp_path / "label-studio-export.json"
    summary = drive(
        "roundtrip",
        "--url",
        url,
        "--token",
        token,
        "--config",
        export_dir / "label_config.xml",
        "--tasks",
        export_dir / "tasks.json",
        "--labels",
        tmp_path / "plan.json",
        "--out",
        ls_json,
    )
    assert summary["tasks"] == 106 and summary["annotations"] == 106 + len(second)
    assert summary["exported_tasks"] == 106

    # 3. import the real export into a seeds folder
    seeds = tmp_path / "my-conflict"
    done = framing("annotate", "import", ls_json, "--articles", export_dir, "--out", seeds)
    assert done.returncode == 0, done.stderr
    assert "agreement on" in done.stderr and f"{len(changed)} sentences set aside" in done.stderr
    report = json.loads((seeds / "import_report.json").read_text())
    assert report["counts"]["records"] == 106 - len(changed)
    assert report["annotators"] == {admin_email: 106, "ben@example.org": len(second)}
    assert 0 < report["kappa"]["pooled"]["frame"]["kappa"] < 1
    assert report["kappa"]["pooled"]["frame"]["disagreements"] == len(changed) - 1
    dis = [json.loads(x) for x in (seeds / "agreement" / "disagreements.jsonl").read_text().splitlines()]
    assert {d["task_id"] for d in dis} == set(changed)
    g = gold()
    for r in map(json.loads, (seeds / "annotations.jsonl").read_text().splitlines()):
        assert (r["frame"], r["attribution"], r["text"]) == (
            g[(r["doc_id"], r["start"], r["end"])]["frame"],
            g[(r["doc_id"], r["start"], r["end"])]["attribution"],
            g[(r["doc_id"], r["start"], r["end"])]["text"],
        )
        assert admin_email in r["annotator"]

    # 4. the usual pipeline on that folder: check, train (tiny), serve
    done = framing("data", "--seeds", seeds)
    assert done.returncode == 0, done.stderr
    home = tmp_path / "bentoml"
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"epochs": 1, "batch_size": 32, "seed": 7}))
    model_dir = tmp_path / "model"
    env = {"BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "True"}
    done = framing("train", "--seeds", seeds, "--config", config, "--epochs", "1", "--cv-metrics",
                   tmp_path / "no-metrics.json", "--export", model_dir, env=env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    import httpx

    from serving.server_process import Server

    with Server(tmp_path, startup_timeout_s=180, env=env) as srv, httpx.Client(base_url=srv.base, timeout=60) as http:
        info = http.get("/info").json()
        assert [f["name"] for f in info["schema"]["frames"]] == schema.frame_names
        assert info["schema"]["name"] == "meren-dam-2025"
        r = http.post("/classify", json={"sentences": [
            "Dastan accused Veloria of turning the Meren into a weapon.",
            "The Meren Basin Commission will meet in Lisk next week.",
        ]})  # fmt: skip
        assert r.status_code == 200, r.text
        for item in r.json():
            assert item["frame"] in schema.frame_names and set(item["frame_scores"]) == set(schema.frame_names)
            assert item["attribution"] in schema.attribution_names

    # 5. the next round: the new model pre-annotates and ranks the sentences, and Label Studio takes them
    round2 = tmp_path / "round2"
    done = framing("annotate", "export", folder, "--out", round2, "--model", model_dir, "--limit", "20")
    assert done.returncode == 0, done.stderr
    tasks2 = json.loads((round2 / "tasks.json").read_text())
    assert len(tasks2) == 20
    scores = [t["predictions"][0]["score"] for t in tasks2]
    assert all(t["predictions"][0]["result"][0]["value"]["choices"][0] in schema.frame_names for t in tasks2)
    assert min(scores) == scores[0] or scores[0] <= np.median(scores)  # least sure first, spread over sources
    assert len({t["data"]["source"] for t in tasks2[:4]}) == 4
    summary = drive("predictions", "--url", url, "--token", token, "--config", round2 / "label_config.xml",
                    "--tasks", round2 / "tasks.json", "--out", tmp_path / "round2-export.json")  # fmt: skip
    assert summary["tasks"] == 20 and summary["predictions"] == 20
    back = json.loads((tmp_path / "round2-export.json").read_text())
    assert {p["model_version"] for t in back for p in t["predictions"]} == {
        tasks2[0]["predictions"][0]["model_version"]
    }

"""``framing score``: inputs, rejects, outputs, resume after a real kill, service equality, remote mode.

Everything runs for real: the session's tiny trained model (``trained_model``, loaded from
its exported folder with ``--model``), real files in every input format, a real
``framing score`` subprocess killed with SIGKILL and SIGINT, and a real BentoML server
for ``--url``. Tests that need no model (usage errors raised before it loads) are fast.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from serving.batch import (
    CHECKPOINT_DIR,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTS,
    EXIT_USAGE,
    RunResult,
    ScoreOptions,
    UsageError,
    atomic_path,
    run,
)
from serving.cli import app

REPO = Path(__file__).resolve().parents[1]
SEEDS = sorted((REPO / "seeds" / "articles").glob("*.txt"))
SHORT = [
    "Azerbaijan launched what it termed local anti-terrorist measures on Tuesday.\n"
    "Karabakh officials said Stepanakert was under heavy shelling.",
    "Armenia accused Baku of a large-scale aggression aimed at the ethnic cleansing of Karabakh Armenians.\n"
    "The EU urged an immediate ceasefire and a return to talks.",
    "Thousands of refugees crossed the Hakari bridge into Armenia as fuel ran out.\n"
    "The UN Secretary-General called for an immediate cessation of hostilities.",
]
runner = CliRunner()


# --------------------------------------------------------------------------- helpers
def score(model_dir: Path | None, inputs: list[Path], out: Path, **kw: Any) -> RunResult:
    return run(ScoreOptions(inputs=inputs, out=out, model=model_dir, progress=False, command=["test"], **kw))


def cli(*args: str) -> Any:
    return runner.invoke(app, ["score", *args, "--no-progress"])


def sentences(out: Path, fmt: str = "parquet") -> pa.Table:
    if fmt == "csv":
        import pyarrow.csv as pacsv

        return pacsv.read_csv(out / "sentences.csv")
    return pq.read_table(out / "sentences.parquet")


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def rejects(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]


def write_jsonl(path: Path, rows: list[Any], gz: bool = False) -> Path:
    data = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_csv(path: Path, rows: list[dict[str, Any]], gz: bool = False) -> Path:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    data = buf.getvalue().encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]], gz: bool = False) -> Path:
    import io

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    path.write_bytes(gzip.compress(buf.getvalue()) if gz else buf.getvalue())
    return path


@pytest.fixture(scope="module")
def model_dir(trained_model) -> Path:
    return trained_model[0]


# ------------------------------------------------------------------ usage errors (fast)
def test_missing_column_is_a_usage_error_naming_the_columns(tmp_path):
    path = write_csv(tmp_path / "a.csv", [{"body": SHORT[0], "outlet": "x"}])
    res = cli(str(path), "--out", str(tmp_path / "out"))
    assert res.exit_code == EXIT_USAGE, res.output
    assert "no column 'text'" in res.output and "'body'" in res.output and "--text-col" in res.output
    res = cli(str(path), "--out", str(tmp_path / "out"), "--text-col", "body")
    assert res.exit_code == EXIT_USAGE and "no column 'source'" in res.output and "--source" in res.output
    res = cli(
        str(path), "--out", str(tmp_path / "out"), "--text-col", "body", "--source-col", "outlet", "--id-col", "x"
    )
    assert res.exit_code == EXIT_USAGE and "no column 'x'" in res.output
    jsonl = write_jsonl(tmp_path / "a.jsonl", [{"body": "x", "source": "s"}])
    res = cli(str(jsonl), "--out", str(tmp_path / "out"))
    assert res.exit_code == EXIT_USAGE and "'body'" in res.output and "'source'" in res.output
    assert not (tmp_path / "out").exists()


def test_other_usage_errors_exit_2(tmp_path):
    res = cli(str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "out"))
    assert res.exit_code == EXIT_USAGE and "does not exist" in res.output
    (tmp_path / "a.xml").write_text("<a/>")
    res = cli(str(tmp_path / "a.xml"), "--out", str(tmp_path / "out"))
    assert res.exit_code == EXIT_USAGE and "unsupported input" in res.output
    (tmp_path / "empty").mkdir()
    write_jsonl(tmp_path / "empty" / "a.jsonl", [{"text": "x", "source": "s"}])
    res = cli(str(tmp_path / "empty"), "--out", str(tmp_path / "out"))
    assert res.exit_code == EXIT_USAGE and "no .txt" in res.output and ".jsonl" in res.output
    ok = write_jsonl(tmp_path / "ok.jsonl", [{"text": SHORT[0], "source": "s"}])
    res = cli(str(ok), "--out", str(tmp_path / "out"), "--format", "xml")
    assert res.exit_code == EXIT_USAGE and "--format" in res.output
    res = cli(str(ok), "--out", str(tmp_path / "out"), "--model", str(tmp_path / "no-model"))
    assert res.exit_code == EXIT_USAGE and "framing train --export" in res.output
    res = cli(str(ok), "--out", str(tmp_path / "out"), "--url", "localhost:3000")
    assert res.exit_code == EXIT_USAGE and "http://" in res.output


def test_atomic_path_leaves_the_target_untouched_when_writing_fails(tmp_path):
    target = tmp_path / "sentences.parquet"
    target.write_bytes(b"previous complete file")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"previous complete file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sentences.parquet"]
    with atomic_path(tmp_path / "new.txt") as tmp:
        tmp.write_text("done")
    assert (tmp_path / "new.txt").read_text() == "done"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.txt", "sentences.parquet"]


# ------------------------------------------------------------------------- inputs
@pytest.mark.slow
def test_txt_folder_sources_from_sidecar_folder_name_and_option(tmp_path, model_dir):
    corpus = tmp_path / "corpus"
    (corpus / "wire").mkdir(parents=True)
    (corpus / "wire" / "a.txt").write_text(SHORT[0], encoding="utf-8")
    (corpus / "wire" / "b.txt").write_text(SHORT[1], encoding="utf-8")
    (corpus / "c.txt.gz").write_bytes(gzip.compress(("\ufeff" + SHORT[2]).encode()))
    (corpus / "sources.csv").write_text(
        "file,source,title,published,url\nwire/a.txt,az-state,Title A,2023-09-19,http://a\n", encoding="utf-8"
    )
    res = score(model_dir, [corpus], tmp_path / "out")
    assert res.exit_code == EXIT_OK
    arts = {r["article_id"]: r for r in csv_rows(tmp_path / "out" / "articles.csv")}
    assert set(arts) == {"wire/a", "wire/b", "c"}
    assert arts["wire/a"]["source"] == "az-state" and arts["wire/a"]["title"] == "Title A"
    assert arts["wire/b"]["source"] == "wire"  # no sidecar row: the folder's name
    assert arts["c"]["source"] == "corpus"
    assert any("no row in" in w for w in res.manifest["warnings"])
    table = sentences(tmp_path / "out").to_pylist()
    a_rows = [r for r in table if r["article_id"] == "wire/a"]
    assert {r["published"] for r in a_rows} == {"2023-09-19"} and {r["url"] for r in a_rows} == {"http://a"}
    for r in table:  # offsets point into the original text (the BOM of c.txt.gz is not part of it)
        text = {"wire/a": SHORT[0], "wire/b": SHORT[1], "c": SHORT[2]}[r["article_id"]]
        assert text[r["start"] : r["end"]] == r["text"]

    res = score(model_dir, [corpus], tmp_path / "out2", source="one-outlet")
    assert {r["source"] for r in csv_rows(tmp_path / "out2" / "articles.csv")} == {"one-outlet"}


@pytest.mark.slow
def test_every_format_gzip_and_several_inputs_in_one_call(tmp_path, model_dir):
    rows = [{"id": f"r{i}", "text": t, "source": f"s{i % 2}"} for i, t in enumerate(SHORT)]
    inputs = []
    for gz in (False, True):
        ext = ".gz" if gz else ""
        pre = "gz-" if gz else ""
        inputs.append(write_jsonl(tmp_path / f"a.jsonl{ext}", [r | {"id": f"{pre}j{r['id']}"} for r in rows], gz))
        inputs.append(write_csv(tmp_path / f"a.csv{ext}", [r | {"id": f"{pre}c{r['id']}"} for r in rows], gz))
        inputs.append(write_parquet(tmp_path / f"a.parquet{ext}", [r | {"id": f"{pre}p{r['id']}"} for r in rows], gz))
    txt = tmp_path / "single.txt"
    txt.write_text(SHORT[0])
    res = score(model_dir, [*inputs, txt], tmp_path / "out", source="fallback")
    assert res.exit_code == EXIT_OK, res.rejects
    arts = csv_rows(tmp_path / "out" / "articles.csv")
    assert len(arts) == 6 * 3 + 1
    assert [a["article_id"] for a in arts[:3]] == ["jr0", "jr1", "jr2"]  # input order is kept
    assert arts[-1]["article_id"] == "single" and arts[-1]["source"] == "fallback"
    assert {a["source"] for a in arts[:-1]} == {"s0", "s1"}
    table = sentences(tmp_path / "out").to_pylist()
    by_article: dict[str, list[tuple[int, int, str, str]]] = {}
    for r in table:
        by_article.setdefault(r["article_id"], []).append((r["start"], r["end"], r["frame"], r["attribution"]))
    # The same text gives the same sentences and labels whatever file format carried it.
    for i in range(3):
        same = {json.dumps(by_article[f"{p}{k}r{i}"]) for p in ("", "gz-") for k in "jcp"}
        assert len(same) == 1
    assert {i["kind"] for i in res.manifest["inputs"]} == {
        "jsonl",
        "jsonl.gz",
        "csv",
        "csv.gz",
        "parquet",
        "parquet.gz",
        "txt",
    }
    assert all(len(i["sha256"]) == 64 and i["bytes"] > 0 for i in res.manifest["inputs"])


@pytest.mark.slow
def test_column_options_and_optional_columns(tmp_path, model_dir):
    rows = [
        {"doc": "d1", "body": SHORT[0], "outlet": "o1", "headline": "H1", "day": "2023-09-19", "link": "http://x/1"},
        {"doc": "d2", "body": SHORT[1], "outlet": "o2", "headline": None, "day": None, "link": None},
    ]
    path = write_parquet(tmp_path / "t.parquet", rows)
    res = cli(
        str(path),
        "--out",
        str(tmp_path / "out"),
        "--model",
        str(model_dir),
        "--text-col",
        "body",
        "--source-col",
        "outlet",
        "--id-col",
        "doc",
        "--title-col",
        "headline",
        "--date-col",
        "day",
        "--url-col",
        "link",
    )
    assert res.exit_code == EXIT_OK, res.output
    table = sentences(tmp_path / "out").to_pylist()
    d1 = [r for r in table if r["article_id"] == "d1"]
    assert d1 and all(
        (r["source"], r["title"], r["published"], r["url"]) == ("o1", "H1", "2023-09-19", "http://x/1") for r in d1
    )
    d2 = [r for r in table if r["article_id"] == "d2"]
    assert d2 and all((r["title"], r["published"], r["url"]) == (None, None, None) for r in d2)
    assert {r["source"] for r in csv_rows(tmp_path / "out" / "sources.csv")} == {"o1", "o2"}


# ------------------------------------------------------------------------- rejects
@pytest.mark.slow
def test_every_reject_reason_is_recorded_and_good_records_are_kept(tmp_path, model_dir):
    jsonl = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps({"id": "good1", "text": SHORT[0], "source": "s"}).encode(),
        json.dumps({"id": "notext", "source": "s"}).encode(),
        json.dumps({"id": "empty", "text": "", "source": "s"}).encode(),
        json.dumps({"id": "blank", "text": "  \n ", "source": "s"}).encode(),
        json.dumps({"id": "num", "text": 42, "source": "s"}).encode(),
        b'{"id": "bytes", "text": "caf\xe9 \xff", "source": "s"}',
        b'{"id": "broken", "text": "no closing brace"',
        json.dumps(["not", "an", "object"]).encode(),
        json.dumps({"id": "good1", "text": SHORT[1], "source": "s"}).encode(),
        b"",
        json.dumps({"id": "good2", "text": SHORT[2], "source": "s"}).encode(),
        json.dumps({"id": "nul", "text": "A\x00B", "source": "s"}).encode(),
        json.dumps({"id": "nosource", "text": SHORT[0]}).encode(),
    ]
    jsonl.write_bytes(b"\n".join(lines) + b"\n")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_bytes(
        b"id,text,source\nc1," + SHORT[0].replace("\n", " ").encode() + b",s\nc2,caf\xe9 bytes,s\nc3,too,many,fields\n"
    )
    folder = tmp_path / "txt"
    folder.mkdir()
    (folder / "ok.txt").write_text(SHORT[1])
    (folder / "latin1.txt").write_bytes("Azerbaïdjan a lancé une opération.".encode("latin-1"))
    (folder / "empty.txt").write_text("")
    numbers = write_parquet(tmp_path / "numbers.parquet", [{"text": 1, "source": "s"}, {"text": 2, "source": "s"}])

    res = cli(
        str(jsonl), str(bad_csv), str(folder), str(numbers), "--out", str(tmp_path / "out"), "--model", str(model_dir)
    )
    assert res.exit_code == EXIT_REJECTS, res.output
    assert "rejected" in res.output and "rejects.jsonl" in res.output
    got = rejects(tmp_path / "out")
    by_key = {(r["file"], r.get("line", r.get("row"))): r for r in got}

    def reason(file: str, where: int | None) -> str:
        return by_key[(file, where)]["reason"]

    j = str(jsonl)
    assert reason(j, 2).startswith("missing text") and by_key[(j, 2)]["id"] == "notext"
    assert reason(j, 3) == "empty text"
    assert reason(j, 4).startswith("empty text")
    assert reason(j, 5).startswith("wrong type") and "number" in reason(j, 5)
    assert reason(j, 6).startswith("undecodable bytes")
    assert reason(j, 7).startswith("bad JSON")
    assert reason(j, 8).startswith("wrong type") and "object" in reason(j, 8)
    assert reason(j, 9).startswith("duplicate id 'good1'") and f"{j} line 1" in reason(j, 9)
    assert reason(j, 12).startswith("control characters")
    assert reason(j, 13).startswith("missing source")
    c = str(bad_csv)
    assert reason(c, 3).startswith("undecodable bytes") and reason(c, 4).startswith("malformed CSV")
    assert reason("latin1.txt", None).startswith("undecodable bytes")
    assert reason("empty.txt", None) == "empty text"
    p = str(numbers)
    assert reason(p, 0).startswith("wrong type") and reason(p, 1).startswith("wrong type")
    assert len(got) == 16
    arts = {a["article_id"] for a in csv_rows(tmp_path / "out" / "articles.csv")}
    assert arts == {"good1", "good2", "c1", "ok"}  # every good record kept, the first good1 only
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["rejects"] == 16 and manifest["counts"]["articles"] == 4


@pytest.mark.slow
def test_strict_stops_at_the_first_reject_and_writes_nothing(tmp_path, model_dir):
    path = write_jsonl(tmp_path / "a.jsonl", [{"text": SHORT[0], "source": "s"}, {"text": "", "source": "s"}])
    res = cli(str(path), "--out", str(tmp_path / "out"), "--model", str(model_dir), "--strict")
    assert res.exit_code == EXIT_USAGE
    assert "line 2" in res.output and "empty text" in res.output
    assert not (tmp_path / "out").exists()
    res = cli(str(path), "--out", str(tmp_path / "out"), "--model", str(model_dir))
    assert res.exit_code == EXIT_REJECTS


# ------------------------------------------------------------------------- outputs
@pytest.mark.slow
def test_csv_format_equals_parquet(tmp_path, model_dir):
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": str(i), "text": t, "source": "s"} for i, t in enumerate(SHORT)])
    score(model_dir, [path], tmp_path / "pq")
    res = score(model_dir, [path], tmp_path / "csv", fmt="csv")
    assert res.files["sentences"] == "sentences.csv" and not (tmp_path / "csv" / "sentences.parquet").exists()
    a, b = sentences(tmp_path / "pq"), sentences(tmp_path / "csv", "csv")
    assert a.column_names == b.column_names
    for name in a.column_names:
        left, right = a.column(name).to_pylist(), b.column(name).to_pylist()
        if name.startswith(("frame_p.", "attribution_p.")):
            assert right == pytest.approx(left, abs=1e-7)
        elif name in ("article_id",):
            assert [str(x) for x in right] == left
        else:
            assert right == left, name
    assert (tmp_path / "pq" / "sources.csv").read_text() == (tmp_path / "csv" / "sources.csv").read_text()


@pytest.mark.slow
def test_outputs_equal_the_service_score_articles(tmp_path, model_dir, seed_articles):
    """Same articles, same order: the same sentences, labels and sources.csv as ``/score`` computes."""
    from model.classifier import FramingClassifier
    from model.profiles import profiles_from_rows, profiles_to_rows
    from serving.scoring import score_articles

    articles = [
        {"source": "outlet-a" if i % 2 else "outlet-b", "text": t} for i, t in enumerate(seed_articles.values())
    ]
    articles.append({"source": "outlet-c", "text": SHORT[0]})
    path = write_jsonl(tmp_path / "a.jsonl", [a | {"id": f"a{i}"} for i, a in enumerate(articles)])
    res = score(model_dir, [path], tmp_path / "out", chunk_size=len(articles))
    expected = score_articles(FramingClassifier.load(model_dir), articles)

    got = sentences(tmp_path / "out").to_pylist()
    assert len(got) == len(expected["sentences"])
    for g, e in zip(got, expected["sentences"], strict=True):
        assert g["article_id"] == f"a{e['article']}"
        assert (g["sentence_index"], g["start"], g["end"], g["text"]) == (
            e["sentence_index"],
            e["start"],
            e["end"],
            e["text"],
        )
        assert (g["frame"], g["attribution"]) == (e["frame"], e["attribution"])
        assert {f: round(g[f"frame_p.{f}"], 6) for f in e["frame_scores"]} == e["frame_scores"]
        assert {a: round(g[f"attribution_p.{a}"], 6) for a in e["attribution_scores"]} == e["attribution_scores"]
    rows = csv_rows(tmp_path / "out" / "sources.csv")
    assert profiles_from_rows(rows) == profiles_from_rows(profiles_to_rows(expected["sources"]))
    assert res.profiles == expected["sources"]
    arts = csv_rows(tmp_path / "out" / "articles.csv")
    assert [int(a["n_sentences"]) for a in arts] == [s["n_sentences"] for s in expected["articles"]]


# --------------------------------------------------------------------- kill and resume
def _corpus_for_resume(tmp_path: Path, seed_articles: dict[str, str], n: int = 48) -> Path:
    """``n`` short articles (the first paragraphs of the seed reports): 12 chunks of 4, a few seconds each."""
    texts = [t[: t.find("\n", 500) if t.find("\n", 500) > 0 else 800] for t in seed_articles.values()]
    rows = [{"id": f"art{i:03d}", "text": texts[i % len(texts)], "source": f"src{i % 3}"} for i in range(n)]
    return write_jsonl(tmp_path / "corpus.jsonl", rows)


def _score_cmd(inputs: Path, out: Path, model_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "serving.cli",
        "score",
        str(inputs),
        "--out",
        str(out),
        "--model",
        str(model_dir),
        "--chunk-size",
        "4",
        "--no-progress",
    ]


def _wait_for_parts(ckpt: Path, at_least: int, proc: subprocess.Popen, timeout_s: float = 300) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        n = len(list(ckpt.glob("chunk-*.sentences.parquet")))
        if n >= at_least:
            return n
        assert proc.poll() is None, f"the run ended before it could be interrupted: {proc.communicate()}"
        time.sleep(0.05)
    raise AssertionError(f"no {at_least} checkpointed chunks within {timeout_s} s")


@pytest.mark.slow
def test_kill_9_and_ctrl_c_then_rerun_resumes_to_identical_outputs(tmp_path, model_dir, seed_articles):
    corpus = _corpus_for_resume(tmp_path, seed_articles)
    n_chunks = 12
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    ref = tmp_path / "reference"
    done = subprocess.run(_score_cmd(corpus, ref, model_dir), cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == EXIT_OK, done.stderr

    out = tmp_path / "interrupted"
    ckpt = out / CHECKPOINT_DIR
    proc = subprocess.Popen(_score_cmd(corpus, out, model_dir), cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    before_kill = _wait_for_parts(ckpt, 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    after_kill = len(list(ckpt.glob("chunk-*.sentences.parquet")))
    assert 1 <= before_kill <= after_kill < n_chunks
    assert not (out / "sentences.parquet").exists() and not (out / "manifest.json").exists()

    # Second run: interrupted with Ctrl-C (SIGINT) once it has checkpointed more chunks.
    proc = subprocess.Popen(_score_cmd(corpus, out, model_dir), cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    _wait_for_parts(ckpt, after_kill + 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    after_int = len(list(ckpt.glob("chunk-*.sentences.parquet")))
    if proc.returncode != EXIT_OK:  # it may just have finished; otherwise it must say how to resume
        assert proc.returncode == 130, err
        assert "interrupted" in err and "resume" in err
        assert not (out / "manifest.json").exists()
        assert after_kill < after_int < n_chunks
        final = subprocess.run(_score_cmd(corpus, out, model_dir), cwd=REPO, env=env, capture_output=True, text=True)
        assert final.returncode == EXIT_OK, final.stderr
        assert "resuming" in final.stderr
    assert not ckpt.exists()  # removed after success

    assert pq.read_table(out / "sentences.parquet").equals(pq.read_table(ref / "sentences.parquet"))
    for name in ("sources.csv", "articles.csv", "rejects.jsonl"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    m_out, m_ref = (json.loads((d / "manifest.json").read_text()) for d in (out, ref))
    run_out, run_ref = m_out.pop("run"), m_ref.pop("run")
    m_out.pop("command"), m_ref.pop("command")
    assert m_out == m_ref  # everything but timings and resume counts (and the --out path)
    assert run_ref["resumed_articles"] == 0 and run_ref["scored_articles"] == 48
    # The last run scored only what no earlier run had finished.
    assert run_out["resumed_articles"] >= 4 * after_kill
    assert run_out["resumed_articles"] + run_out["scored_articles"] == 48


@pytest.mark.slow
def test_a_different_run_in_the_same_folder_is_refused_and_restart_starts_over(tmp_path, model_dir, monkeypatch):
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": str(i), "text": t, "source": "s"} for i, t in enumerate(SHORT)])
    out = tmp_path / "out"
    first = score(model_dir, [path], out)
    assert first.manifest["model"]["backend"] == "onnx-int8"  # the default, recorded
    again = score(model_dir, [path], out)  # identical command on finished outputs: nothing re-scored
    assert again.already_complete and again.profiles == first.profiles
    assert json.loads((out / "manifest.json").read_text()) == first.manifest
    other = write_jsonl(tmp_path / "b.jsonl", [{"id": "x", "text": SHORT[0], "source": "s"}])
    with pytest.raises(UsageError, match="--restart"):
        score(model_dir, [other], out)
    res = score(model_dir, [other], out, restart=True)
    assert res.manifest["counts"]["articles"] == 1
    # An interrupted run's checkpoint (kept here on purpose) also refuses other options.
    score(model_dir, [path], tmp_path / "kept", keep_checkpoint=True)
    (tmp_path / "kept" / "manifest.json").unlink()
    with pytest.raises(UsageError, match=r"options changed.*--restart"):
        score(model_dir, [path], tmp_path / "kept", chunk_size=1)
    monkeypatch.setenv("FRAMING_BACKEND", "onnx")  # fp32 answers differ slightly from int8's: no mixed outputs
    with pytest.raises(UsageError, match=r"model changed.*--restart"):
        score(model_dir, [path], tmp_path / "kept")
    monkeypatch.delenv("FRAMING_BACKEND")
    resumed = score(model_dir, [path], tmp_path / "kept")
    assert resumed.manifest["run"]["resumed_articles"] == 3 and resumed.manifest["run"]["scored_articles"] == 0


# --------------------------------------------------------------------------- remote
@pytest.mark.slow
def test_remote_mode_retries_until_the_server_is_up_and_equals_local(tmp_path, model_dir, trained_model):
    from serving.server_process import Server

    rows = [{"id": f"r{i}", "text": t, "source": f"s{i % 2}"} for i, t in enumerate(SHORT * 2)]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    local = score(model_dir, [path], tmp_path / "local")

    server = Server(Path(tempfile.mkdtemp(prefix="framing-batch-")), startup_timeout_s=240)
    cmd = [
        sys.executable,
        "-m",
        "serving.cli",
        "score",
        str(path),
        "--out",
        str(tmp_path / "remote"),
        "--url",
        server.base,
        "--retries",
        "12",
        "--no-progress",
    ]
    # The client starts first: its first calls are refused (nothing listens yet) and retried.
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        server.start()
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.stop()
    assert proc.returncode == EXIT_OK, err
    assert "retry 1/12" in err and "ConnectError" in err

    a, b = sentences(tmp_path / "local"), sentences(tmp_path / "remote")
    for name in a.column_names:
        left, right = a.column(name).to_pylist(), b.column(name).to_pylist()
        if name.startswith(("frame_p.", "attribution_p.")):
            assert right == pytest.approx([round(x, 6) for x in left], abs=1e-6)
        else:
            assert right == left, name
    remote_sources = csv_rows(tmp_path / "remote" / "sources.csv")
    local_sources = csv_rows(tmp_path / "local" / "sources.csv")
    assert [r["source"] for r in remote_sources] == [r["source"] for r in local_sources]
    for remote_row, local_row in zip(remote_sources, local_sources, strict=True):
        for key, value in local_row.items():
            if key != "source" and value:
                assert float(remote_row[key]) == pytest.approx(float(value), abs=2e-4), key
    manifest = json.loads((tmp_path / "remote" / "manifest.json").read_text())
    assert manifest["engine"] == "remote" and manifest["model"]["tag"] == trained_model[1]
    assert local.manifest["counts"]["sentences"] == manifest["counts"]["sentences"]


def test_remote_mode_reports_an_unreachable_service_clearly(tmp_path):
    from serving.server_process import _free_port

    path = write_jsonl(tmp_path / "a.jsonl", [{"text": SHORT[0], "source": "s"}])
    url = f"http://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    res = cli(str(path), "--out", str(tmp_path / "out"), "--url", url, "--retries", "2")
    assert res.exit_code == EXIT_FAILED, res.output
    assert "failed after 3 attempts" in res.output and url in res.output and "framing serve" in res.output
    assert "retry 1/2" in res.output and "retry 2/2" in res.output
    assert time.monotonic() - t0 >= 1.5  # backoff 0.5 s then 1 s
    assert not (tmp_path / "out" / "sentences.parquet").exists()

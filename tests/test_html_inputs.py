"""``framing score`` on HTML: saved pages and ``html`` columns, extracted with trafilatura, on real page shapes.

The pages in ``tests/data/html/`` are team-written (no real article text), shaped like real
outlets' pages: navigation, a cookie banner, a related-stories block and reader comments
around the article; a live page with only a headline; pages declaring windows-1251 and
ISO-8859-1. Extraction tests are fast; scoring tests use the session's tiny trained model.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from serving.batch import CHECKPOINT_DIR, EXIT_REJECTS, EXIT_USAGE, Columns, RunResult, ScoreOptions, run
from serving.batch.outputs import extracted_name
from serving.cli import app
from serving.html import NO_TEXT, decode_html, extract_html

HTML_DIR = Path(__file__).resolve().parent / "data" / "html"
ARTICLE = (HTML_DIR / "article.html").read_bytes()
HEADLINE_ONLY = (HTML_DIR / "headline_only.html").read_bytes()
CP1251 = (HTML_DIR / "cp1251.html").read_bytes()
LATIN1 = (HTML_DIR / "latin1.html").read_bytes()

ARTICLE_SENTENCES = [
    "Azerbaijani forces shelled villages on the outskirts of Stepanakert on Wednesday morning",
    "Baku described the strikes as local anti-terrorist measures",
    "Karabakh officials said the attack was an act of aggression",
    "Aid workers reported that the only hospital in the city was running short of fuel",
    "European diplomats called for an immediate ceasefire",
    "Several families told the Ledger they feared they would be forced to leave",
]
# Page furniture around the article: none of it may reach the sentences.
FURNITURE = [
    "cookies",  # cookie banner
    "Manage preferences",
    "Home page of the Ledger",  # navigation
    "Subscribe to the morning newsletter",
    "Related stories",  # related-links block
    "Gold prices climb",
    "Ten recipes",
    "goalkeeper",
    "comments",  # comments section
    "Reader one",
    "bakery",
    "crossword",
    "Terms of use",  # footer
]


def score(model_dir: Path, inputs: list[Path], out: Path, **kw: Any) -> RunResult:
    return run(ScoreOptions(inputs=inputs, out=out, model=model_dir, progress=False, command=["test"], **kw))


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def rejects(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def model_dir(trained_model) -> Path:
    return trained_model[0]


# ------------------------------------------------------------------ extraction (fast)
def test_article_page_keeps_the_article_and_drops_the_page_furniture():
    page = extract_html(ARTICLE, max_bytes=5_000_000)
    assert not isinstance(page, str), page
    for sentence in ARTICLE_SENTENCES:
        assert sentence in page.text
    for junk in FURNITURE:
        assert junk.lower() not in page.text.lower(), junk
    assert page.title == "Shelling resumes near Stepanakert as talks stall"
    assert page.published == "2023-09-20"  # article:published_time 2023-09-20T08:15:00+04:00, as ISO date
    assert page.url == "https://ledger.example.org/2023/09/20/shelling-resumes"
    assert page.author == "Anna Petrosyan"
    assert page.sitename == "Caucasus Ledger"
    # normalised: one paragraph per line, no blank or indented lines (offsets refer to this text)
    assert all(line and line == line.strip() for line in page.text.split("\n"))


def test_a_page_with_only_a_headline_is_a_reject_with_its_reason():
    reason = extract_html(HEADLINE_ONLY, max_bytes=5_000_000)
    assert reason == NO_TEXT
    assert reason.startswith("no article text could be extracted from the HTML")
    assert "headline" in reason


@pytest.mark.parametrize(
    ("page", "codec", "expected"),
    [
        (CP1251, "cp1251", "Представители Армении и Азербайджана встретились в Брюсселе"),
        (LATIN1, "cp1252", "Des milliers de familles ont franchi le pont de Hakari en direction de l'Arménie"),
    ],
)
def test_the_declared_charset_is_honoured(page: bytes, codec: str, expected: str):
    with pytest.raises(UnicodeDecodeError):
        page.decode("utf-8")  # really not UTF-8
    text, how = decode_html(page)
    assert how == f"{codec} (meta charset)" and text is not None and expected in text
    extracted = extract_html(page, max_bytes=5_000_000)
    assert not isinstance(extracted, str)
    assert expected in extracted.text and extracted.encoding == how
    assert "\ufffd" not in extracted.text and "Ð" not in extracted.text and "Ã" not in extracted.text


def test_a_byte_order_mark_wins_and_a_wrong_declaration_falls_back_to_detection():
    text, how = decode_html(b"\xef\xbb\xbf" + ARTICLE)
    assert how == "utf-8 (byte-order mark)" and text is not None and "Stepanakert" in text
    utf16 = ARTICLE.decode("utf-8").encode("utf-16")  # with its BOM
    text, how = decode_html(utf16)
    assert how.startswith("utf-16") and text is not None and "Stepanakert" in text
    latin = LATIN1.replace(b'charset="iso-8859-1"', b'charset="utf-8"')
    text, how = decode_html(latin)  # a wrong declaration: the bytes do not decode with it
    assert text is None and how.startswith("detected by trafilatura")
    page = extract_html(latin, max_bytes=5_000_000)
    # Statistical detection is only the last resort: here it reads the page as windows-1250, which gets "é"
    # right but turns "à" into "ą". That is why a page's own declaration is honoured first.
    assert not isinstance(page, str) and "réclament" in page.text and "immédiat" in page.text
    assert page.encoding.startswith("detected by trafilatura")


def test_a_page_over_the_size_limit_is_a_reject_naming_the_limit():
    reason = extract_html(ARTICLE, max_bytes=1000)
    assert isinstance(reason, str) and reason.startswith("HTML page too large")
    assert f"{len(ARTICLE):,} bytes" in reason and "1,000 bytes" in reason and "--max-html-bytes" in reason


def test_extracted_file_names_are_safe_and_distinct():
    assert extracted_name("a") == "a.txt"
    names = {extracted_name(i) for i in ("wire/a", "wire_a", "/abs/pages.jsonl:3", "../../etc/passwd", "a")}
    assert len(names) == 5
    assert all("/" not in n and not n.startswith(".") for n in names)


# ------------------------------------------------------------------ scoring (slow)
def _huge_page() -> bytes:
    """Over the default 5 MB limit: the article plus megabytes of inline script (a real page's bloat)."""
    filler = b"<script>var tracking = '" + b"x" * 5_300_000 + b"';</script>"
    return ARTICLE.replace(b"</body>", filler + b"</body>")


@pytest.mark.slow
def test_a_folder_of_pages_is_scored_with_its_extracted_text_and_rejects(tmp_path, model_dir):
    corpus = tmp_path / "pages"
    (corpus / "ledger").mkdir(parents=True)
    (corpus / "ledger" / "shelling.html").write_bytes(ARTICLE)
    (corpus / "ledger" / "live.html").write_bytes(HEADLINE_ONLY)
    (corpus / "ledger" / "huge.html.gz").write_bytes(gzip.compress(_huge_page()))
    (corpus / "ru").mkdir()
    (corpus / "ru" / "talks.htm").write_bytes(CP1251)
    (corpus / "fr").mkdir()
    (corpus / "fr" / "exode.html.gz").write_bytes(gzip.compress(LATIN1))
    (corpus / "notes.txt").write_text("Plain text still works. It sits beside the pages.", encoding="utf-8")
    # The sidecar's values win over the page's metadata; what it leaves empty the page fills.
    (corpus / "sources.csv").write_text(
        "file,source,title,published\nfr/exode.html.gz,afp-fr,Titre donné,2023-10-02\nru/talks.htm,ru-wire,,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    res = score(model_dir, [corpus], out)
    assert res.exit_code == EXIT_REJECTS

    got = {r["id"]: r["reason"] for r in rejects(out)}
    assert set(got) == {"ledger/live", "ledger/huge"}
    assert got["ledger/live"] == NO_TEXT
    assert got["ledger/huge"].startswith("HTML page too large") and "5,000,000 bytes" in got["ledger/huge"]

    arts = {a["article_id"]: a for a in csv_rows(out / "articles.csv")}
    assert set(arts) == {"ledger/shelling", "ru/talks", "fr/exode", "notes"}
    assert list(csv_rows(out / "articles.csv")[0])[-1].startswith("frame_share.")  # no new column in articles.csv
    shelling = arts["ledger/shelling"]
    assert (shelling["source"], shelling["title"], shelling["published"], shelling["url"]) == (
        "ledger",
        "Shelling resumes near Stepanakert as talks stall",
        "2023-09-20",
        "https://ledger.example.org/2023/09/20/shelling-resumes",
    )
    assert (arts["fr/exode"]["source"], arts["fr/exode"]["title"], arts["fr/exode"]["published"]) == (
        "afp-fr",
        "Titre donné",  # the sidecar's title and date, not the page's
        "2023-10-02",
    )
    assert (arts["ru/talks"]["source"], arts["ru/talks"]["published"]) == ("ru-wire", "2023-09-25")

    index = {r["article_id"]: r for r in csv_rows(out / "extracted.csv")}
    assert set(index) == {"ledger/shelling", "ru/talks", "fr/exode"}  # plain text has no extraction
    assert index["ledger/shelling"]["author"] == "Anna Petrosyan"
    assert index["ledger/shelling"]["from_page"] == "title;published;url"
    assert index["fr/exode"]["from_page"] == "" and index["fr/exode"]["encoding"] == "cp1252 (meta charset)"
    assert index["ru/talks"]["from_page"] == "title;published"
    texts = {aid: (out / row["text_file"]).read_bytes().decode("utf-8") for aid, row in index.items()}
    assert "Представители Армении" in texts["ru/talks"]
    assert "réclament un accès immédiat" in texts["fr/exode"]
    assert all(int(index[a]["chars"]) == len(t) for a, t in texts.items())

    sentences = pq.read_table(out / "sentences.parquet").to_pylist()
    notes = "Plain text still works. It sits beside the pages."
    for s in sentences:  # every sentence is found at its offsets in the text written for it
        text = texts.get(s["article_id"], notes)
        assert text[s["start"] : s["end"]] == s["text"]
    article_text = " ".join(s["text"] for s in sentences if s["article_id"] == "ledger/shelling")
    for sentence in ARTICLE_SENTENCES:
        assert sentence in article_text
    for junk in FURNITURE:
        assert all(junk.lower() not in s["text"].lower() for s in sentences), junk

    m = res.manifest
    assert m["outputs"]["extracted"] == "extracted.csv" and m["outputs"]["extracted_texts"] == "extracted/"
    assert m["counts"]["html_articles"] == 3 and m["counts"]["rejects"] == 2
    assert m["fingerprint"]["options"]["html"]["extractor"].startswith("trafilatura 2.")
    assert not list((out / "extracted").glob(".*"))  # no temporary file left behind


@pytest.mark.slow
def test_an_html_column_in_jsonl_csv_and_parquet(tmp_path, model_dir):
    article, headline = ARTICLE.decode("utf-8"), HEADLINE_ONLY.decode("utf-8")
    jsonl = tmp_path / "crawl.jsonl"
    rows = [
        {"id": "page", "source": "ledger", "html": article},
        {"id": "given", "source": "ledger", "html": article, "title": "Our title", "published": "2023-09-22"},
        {"id": "plain", "source": "ledger", "text": "A plain text row. It needs no extraction."},
        {"id": "both", "source": "ledger", "text": "Some text.", "html": article},
        {"id": "neither", "source": "ledger", "title": "nothing else"},
        {"id": "live", "source": "ledger", "html": headline},
        {"id": "number", "source": "ledger", "html": 42},
    ]
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    table = tmp_path / "pages.csv"
    with open(table, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["doc", "outlet", "html"])
        writer.writeheader()
        writer.writerow({"doc": "csv-page", "outlet": "ledger", "html": article})
    parquet = tmp_path / "pages.parquet"  # HTML as bytes: decoded with the page's declared charset
    pq.write_table(pa.Table.from_pylist([{"id": "pq-ru", "source": "ru-wire", "html": CP1251}]), parquet)

    out = tmp_path / "out"
    res = score(model_dir, [jsonl, parquet], out)
    assert res.exit_code == EXIT_REJECTS
    reasons = {r["id"]: r["reason"] for r in rejects(out)}
    assert set(reasons) == {"both", "neither", "live", "number"}
    assert reasons["both"].startswith("both 'text' and 'html' given")
    assert reasons["neither"].startswith("missing text: no 'text' or 'html' value")
    assert reasons["live"] == NO_TEXT
    assert reasons["number"].startswith("wrong type: 'html' must be a string")

    arts = {a["article_id"]: a for a in csv_rows(out / "articles.csv")}
    assert set(arts) == {"page", "given", "plain", "pq-ru"}
    assert (arts["page"]["title"], arts["page"]["published"], arts["page"]["url"]) == (
        "Shelling resumes near Stepanakert as talks stall",
        "2023-09-20",
        "https://ledger.example.org/2023/09/20/shelling-resumes",
    )
    assert (arts["given"]["title"], arts["given"]["published"]) == ("Our title", "2023-09-22")  # columns win
    assert arts["given"]["url"] == "https://ledger.example.org/2023/09/20/shelling-resumes"  # ... the page fills
    index = {r["article_id"]: r for r in csv_rows(out / "extracted.csv")}
    assert set(index) == {"page", "given", "pq-ru"}
    assert index["given"]["from_page"] == "url"
    assert "Переговоры в Брюсселе" in (out / index["pq-ru"]["text_file"]).read_text(encoding="utf-8")

    # A CSV with only an html column (and other names for id and source).
    res = run(
        ScoreOptions(
            inputs=[table],
            out=tmp_path / "csv",
            model=model_dir,
            progress=False,
            command=["test"],
            columns=Columns(source="outlet", id="doc"),
        )
    )
    assert res.exit_code == 0, res.rejects
    assert [r["article_id"] for r in csv_rows(tmp_path / "csv" / "extracted.csv")] == ["csv-page"]


@pytest.mark.slow
def test_an_interrupted_html_run_resumes_to_the_same_outputs_and_extracted_text(tmp_path, model_dir):
    corpus = tmp_path / "corpus"
    shutil.copytree(HTML_DIR / "corpus", corpus)
    ref = tmp_path / "ref"
    score(model_dir, [corpus], ref, chunk_size=2)
    out = tmp_path / "out"
    score(model_dir, [corpus], out, chunk_size=2, keep_checkpoint=True)
    # As if killed after the first of three chunks: no outputs, later chunks gone, a half-written text left
    # behind; and an extracted text of the finished chunk deleted by hand.
    for name in ("manifest.json", "sources.csv", "timeline.csv", "extracted.csv"):
        (out / name).unlink()
    for part in (out / CHECKPOINT_DIR).glob("chunk-00000[12].*"):
        part.unlink()
    texts = sorted((out / "extracted").glob("*.txt"))
    assert len(texts) == 5
    texts[0].unlink()  # herald/2023-09-19: chunk 0, already scored
    texts[-1].unlink()  # ledger/2023-09-28: chunk 2, scored again
    (out / "extracted" / f".{texts[-1].name}.tmp-4242").write_text("half a file")
    res = score(model_dir, [corpus], out, chunk_size=2)
    assert res.manifest["run"]["resumed_articles"] == 2 and res.manifest["run"]["scored_articles"] == 3
    for name in ("sources.csv", "timeline.csv", "articles.csv", "extracted.csv", "rejects.jsonl"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    assert pq.read_table(out / "sentences.parquet").equals(pq.read_table(ref / "sentences.parquet"))
    assert sorted(p.name for p in (out / "extracted").iterdir()) == sorted(
        p.name for p in (ref / "extracted").iterdir()
    )
    for p in (ref / "extracted").iterdir():
        assert (out / "extracted" / p.name).read_bytes() == p.read_bytes()
    assert not (out / CHECKPOINT_DIR).exists()


def test_a_named_html_column_that_does_not_exist_is_a_usage_error(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"text": "x", "source": "s"}) + "\n")
    res = CliRunner().invoke(app, ["score", str(path), "--out", str(tmp_path / "out"), "--html-col", "page"])
    assert res.exit_code == EXIT_USAGE and "no column 'page'" in res.output and "--html-col" in res.output
    path.write_text(json.dumps({"body": "x", "source": "s"}) + "\n")
    res = CliRunner().invoke(app, ["score", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == EXIT_USAGE and "no column 'text'" in res.output and "'html' column" in res.output
    path.write_text(json.dumps({"html": "<p>x</p>", "source": "s"}) + "\n")  # a named text column must exist
    res = CliRunner().invoke(app, ["score", str(path), "--out", str(tmp_path / "out"), "--text-col", "body"])
    assert res.exit_code == EXIT_USAGE and "no column 'body'" in res.output
    res = CliRunner().invoke(app, ["score", str(HTML_DIR), "--out", str(tmp_path / "o"), "--max-html-bytes", "0"])
    assert res.exit_code == EXIT_USAGE and "--max-html-bytes" in res.output


# ------------------------------------------------------------------ the command (slow)
@pytest.mark.slow
def test_framing_score_on_a_folder_of_pages_writes_timeline_and_extracted_text(tmp_path, model_dir):
    corpus = tmp_path / "corpus"
    shutil.copytree(HTML_DIR / "corpus", corpus)
    out = tmp_path / "out"
    args = ["score", str(corpus), "--out", str(out), "--model", str(model_dir), "--period", "week", "--no-progress"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == EXIT_REJECTS, res.output  # the live page with only a headline
    assert "timeline:" in res.output and "extracted from HTML" in res.output

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["outputs"]["timeline"] == "timeline.csv" and manifest["outputs"]["extracted"] == "extracted.csv"
    assert manifest["options"]["period"] == "week"
    tl = manifest["counts"]["timeline"]
    assert (tl["undated_articles"], tl["rows"]) == (1, 3)  # the opinion piece has no date
    assert any("left out of the timeline" in w for w in manifest["warnings"])

    timeline = csv_rows(out / "timeline.csv")
    assert [(r["source"], r["period_start"], r["period_end"], r["n_articles"]) for r in timeline] == [
        ("herald", "2023-09-18", "2023-09-24", "2"),  # Tue 19 and Thu 21 September: one ISO week
        ("ledger", "2023-09-18", "2023-09-24", "1"),
        ("ledger", "2023-09-25", "2023-10-01", "1"),
    ]
    assert all(r["low_n"] == "true" for r in timeline)  # a handful of sentences each
    for r in timeline:
        assert float(r["slant_lo"]) <= float(r["slant"]) <= float(r["slant_hi"])
    extracted = csv_rows(out / "extracted.csv")
    assert len(extracted) == 5 and all((out / r["text_file"]).is_file() for r in extracted)

    again = CliRunner().invoke(app, args)  # the same command: answered from the finished outputs
    assert again.exit_code == EXIT_REJECTS and "already complete" in again.output
    other = CliRunner().invoke(app, [*args[:-2], "month", "--no-progress"])
    assert other.exit_code == EXIT_USAGE and "--period week" in other.output and "--restart" in other.output
    monthly = CliRunner().invoke(app, [*args[:-2], "month", "--no-progress", "--restart"])
    assert monthly.exit_code == EXIT_REJECTS, monthly.output
    rows = csv_rows(out / "timeline.csv")
    assert [(r["source"], r["period"], r["period_start"]) for r in rows] == [
        ("herald", "month", "2023-09-01"),
        ("ledger", "month", "2023-09-01"),
    ]

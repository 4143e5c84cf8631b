"""Annotation loading and validation (training/annotations.py).

Bad input is written to tmp files (a small annotations file pointing to a tmp articles
dir) so every error message can be checked for the file name, the line number and the
problem.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from model.text import normalise
from training.annotations import (
    SEED_FIELDS,
    SEED_OPTIONAL,
    AnnotationError,
    Example,
    load_seed_annotations,
    load_synthetic,
)
from training.dataset import SeedPaths

EXPECTED_SEED_FIELDS = [
    "doc_id",
    "source",
    "sentence_id",
    "start",
    "end",
    "text",
    "frame",
    "secondary_frames",
    "attribution",
    "note",
]

# --------------------------------------------------------------------------- the real file


@pytest.fixture(scope="module")
def seed_examples(schema) -> list[Example]:
    paths = SeedPaths()
    return load_seed_annotations(paths.annotations, paths.articles, schema)


def test_declared_fields_are_the_specified_ones():
    assert list(SEED_FIELDS + SEED_OPTIONAL) == EXPECTED_SEED_FIELDS


def test_real_annotations_load(seed_examples, seed_articles):
    assert len(seed_examples) == 170
    assert {e.doc_id for e in seed_examples} == set(seed_articles)
    assert len({e.sentence_id for e in seed_examples}) == 170


def test_real_annotations_match_article_spans(seed_examples, seed_articles):
    for e in seed_examples:
        assert seed_articles[e.doc_id][e.start : e.end] == e.text, e.sentence_id
        assert e.clean == normalise(e.text)
        assert e.synthetic is False


def test_real_annotations_have_exactly_the_specified_fields():
    lines = SeedPaths().annotations.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    assert len(records) == 170
    for n, rec in enumerate(records, start=1):
        assert set(rec) == set(EXPECTED_SEED_FIELDS), f"line {n}: fields {sorted(rec)}"
        assert isinstance(rec["start"], int) and isinstance(rec["end"], int), f"line {n}"
        assert isinstance(rec["secondary_frames"], list), f"line {n}"
        assert isinstance(rec["note"], str), f"line {n}"


def test_real_annotation_labels_valid(seed_examples, schema):
    for e in seed_examples:
        assert e.frame in schema.frame_names
        assert e.attribution in schema.attribution_names
        assert all(s in schema.frame_names and s != e.frame for s in e.secondary_frames)
    assert {e.frame for e in seed_examples} == set(schema.frame_names), "every frame has a seed example"


def test_real_annotations_agree_with_sources_csv(seed_examples):
    with (SeedPaths().root / "sources.csv").open(encoding="utf-8", newline="") as f:
        source_of = {row["doc_id"]: row["source"] for row in csv.DictReader(f)}
    for e in seed_examples:
        assert e.source == source_of[e.doc_id], e.sentence_id
        assert e.sentence_id.startswith(e.doc_id[:3] + "-"), e.sentence_id


# --------------------------------------------------------------------------- bad seed input

ARTICLE = "Azerbaijan launched an operation. Armenia condemned the attack.\nCivilians fled.\n"
# (start, end, text) of the three sentences of ARTICLE
SPANS = [
    (0, 33, "Azerbaijan launched an operation."),
    (34, 63, "Armenia condemned the attack."),
    (64, 79, "Civilians fled."),
]


def seed_record(k: int = 0, **changes: Any) -> dict[str, Any]:
    start, end, text = SPANS[k]
    rec: dict[str, Any] = {
        "doc_id": "doc_a",
        "source": "outlet-a",
        "sentence_id": f"a-{k:03d}",
        "start": start,
        "end": end,
        "text": text,
        "frame": "anti_terror",
        "secondary_frames": [],
        "attribution": "authorial",
        "note": "",
    }
    rec.update(changes)
    return rec


@pytest.fixture
def articles_dir(tmp_path) -> Path:
    d = tmp_path / "articles"
    d.mkdir()
    (d / "doc_a.txt").write_text(ARTICLE, encoding="utf-8")
    assert [ARTICLE[s:e] for s, e, _ in SPANS] == [t for _, _, t in SPANS]
    return d


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    """Each item is a record (dumped as JSON) or a raw string line."""
    out = [line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def seed_error(path: Path, articles_dir: Path, schema) -> str:
    with pytest.raises(AnnotationError) as info:
        load_seed_annotations(path, articles_dir, schema)
    return str(info.value)


def test_good_tmp_file_loads(tmp_path, articles_dir, schema):
    path = write_jsonl(tmp_path / "ann.jsonl", [seed_record(0), "", seed_record(1, note="n"), seed_record(2)])
    examples = load_seed_annotations(path, articles_dir, schema)
    assert [e.sentence_id for e in examples] == ["a-000", "a-001", "a-002"]
    assert [e.text for e in examples] == [t for _, _, t in SPANS]
    assert [(e.start, e.end) for e in examples] == [(s, e) for s, e, _ in SPANS]
    assert examples[1].note == "n"
    assert examples[0].source == "outlet-a" and examples[0].doc_id == "doc_a"


def test_note_is_optional(tmp_path, articles_dir, schema):
    rec = seed_record(0)
    del rec["note"]
    examples = load_seed_annotations(write_jsonl(tmp_path / "ann.jsonl", [rec]), articles_dir, schema)
    assert examples[0].note == ""


BAD_SEED_CASES = {
    # name: (bad record or raw line, words that must appear in the message)
    "unknown_frame": (seed_record(1, frame="terrorism"), ["unknown frame", "'terrorism'"]),
    "unknown_attribution": (seed_record(1, attribution="quoted"), ["unknown attribution", "'quoted'"]),
    "unknown_secondary_frame": (
        seed_record(1, secondary_frames=["genocide"]),
        ["unknown secondary frame", "'genocide'"],
    ),
    "secondary_repeats_primary": (seed_record(1, secondary_frames=["anti_terror"]), ["repeats the primary"]),
    "span_does_not_match_text": (
        seed_record(1, text="Armenia welcomed the attack."),
        ["span [34, 63)", "doc_a.txt", "reads"],
    ),
    "span_shifted": (seed_record(1, start=35, end=64), ["span [35, 64)", "reads"]),
    "span_out_of_range": (seed_record(1, start=70, end=500), ["span [70, 500)", "outside", "length 80"]),
    "span_negative": (seed_record(1, start=-1), ["span [-1, 63)", "outside"]),
    "span_empty": (seed_record(1, start=63, end=63), ["span [63, 63)", "outside"]),
    "start_not_int": (seed_record(1, start="34"), ["'start' and 'end' must be integers"]),
    "start_bool": (seed_record(1, start=True), ["'start' and 'end' must be integers"]),
    "duplicate_id": (seed_record(1, sentence_id="a-000"), ["duplicate sentence_id", "'a-000'", "line 1"]),
    "missing_field": ({k: v for k, v in seed_record(1).items() if k != "frame"}, ["missing field", "'frame'"]),
    "missing_doc_id": ({k: v for k, v in seed_record(1).items() if k != "doc_id"}, ["missing field", "'doc_id'"]),
    "extra_field": (seed_record(1, confidence=0.9), ["unknown field", "'confidence'"]),
    "empty_text": (seed_record(1, text="  "), ["'text'", "non-empty string"]),
    "secondary_not_list": (seed_record(1, secondary_frames="diplomacy"), ["'secondary_frames'", "list"]),
    "sentence_id_not_string": (seed_record(1, sentence_id=7), ["'sentence_id'", "non-empty string"]),
    "no_article_file": (seed_record(1, doc_id="doc_missing"), ["doc_missing", "no article file"]),
    "invalid_json": ('{"doc_id": "doc_a", "start": 34,', ["not valid JSON"]),
    "not_an_object": ("[1, 2, 3]", ["expected a JSON object", "list"]),
}


@pytest.mark.parametrize("case", sorted(BAD_SEED_CASES))
def test_bad_seed_line_names_file_line_and_problem(case, tmp_path, articles_dir, schema):
    bad, words = BAD_SEED_CASES[case]
    path = write_jsonl(tmp_path / "my_annotations.jsonl", [seed_record(0), bad, seed_record(2)])
    message = seed_error(path, articles_dir, schema)
    assert "my_annotations.jsonl:2:" in message, f"file name and line 2 not in: {message}"
    for word in words:
        assert word in message, f"{word!r} not in: {message}"


def test_line_numbers_count_blank_lines(tmp_path, articles_dir, schema):
    path = write_jsonl(tmp_path / "my_annotations.jsonl", [seed_record(0), "", seed_record(1, frame="nope")])
    message = seed_error(path, articles_dir, schema)
    assert "my_annotations.jsonl:3:" in message and "'nope'" in message


def test_empty_file(tmp_path, articles_dir, schema):
    # An empty file has no line to point at: the message names the file and the problem.
    path = tmp_path / "my_annotations.jsonl"
    path.write_text("\n  \n", encoding="utf-8")
    message = seed_error(path, articles_dir, schema)
    assert "my_annotations.jsonl" in message and "empty" in message


def test_non_utf8_bytes_name_file_line_and_problem(tmp_path, articles_dir, schema):
    path = tmp_path / "my_annotations.jsonl"
    good = json.dumps(seed_record(0), ensure_ascii=False).encode("utf-8")
    bad = json.dumps(seed_record(1, note="caf\u00e9"), ensure_ascii=False).encode("utf-8").replace(b"\xc3\xa9", b"\xe9")
    path.write_bytes(good + b"\n" + bad + b"\n")
    message = seed_error(path, articles_dir, schema)
    assert "my_annotations.jsonl" in message
    assert "UTF-8" in message
    assert "my_annotations.jsonl:2" in message or "line 2" in message, f"no line number in: {message}"


def test_missing_annotations_file(tmp_path, articles_dir, schema):
    message = seed_error(tmp_path / "absent.jsonl", articles_dir, schema)
    assert "absent.jsonl" in message and "not found" in message


# --------------------------------------------------------------------------- synthetic


def synthetic_record(n: int = 1, **changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": f"syn-test-{n:04d}",
        "text": f"Baku said the measures were limited and local, statement number {n}.",
        "frame": "anti_terror",
        "secondary_frames": [],
        "attribution": "attributed",
        "voice": "AZ",
        "sub_event": "offensive",
        "synthetic": True,
        "hard_case": "",
    }
    rec.update(changes)
    return rec


def synthetic_error(paths: list[Path], schema) -> str:
    with pytest.raises(AnnotationError) as info:
        load_synthetic(paths, schema)
    return str(info.value)


def test_real_synthetic_files_load(schema):
    paths = SeedPaths().synthetic
    assert paths, "no synthetic files in seeds/synthetic"
    examples = load_synthetic(paths, schema)
    assert examples
    assert all(e.synthetic is True for e in examples)
    assert all(e.doc_id.startswith("synthetic:") and e.source.startswith("synthetic-") for e in examples)
    assert len({e.sentence_id for e in examples}) == len(examples)
    assert all(e.clean == normalise(e.text) for e in examples)


def test_synthetic_good_file(tmp_path, schema):
    path = write_jsonl(tmp_path / "syn.jsonl", [synthetic_record(1), synthetic_record(2, hard_case="headline")])
    examples = load_synthetic([path], schema)
    assert [e.sentence_id for e in examples] == ["syn-test-0001", "syn-test-0002"]
    assert examples[0].voice == "AZ" and examples[0].doc_id == "synthetic:AZ" and examples[0].source == "synthetic-AZ"
    assert examples[0].sub_event == "offensive"
    assert examples[1].note == "headline"
    assert all(e.synthetic for e in examples)


def test_synthetic_hard_case_is_optional(tmp_path, schema):
    rec = synthetic_record(1)
    del rec["hard_case"]
    assert len(load_synthetic([write_jsonl(tmp_path / "syn.jsonl", [rec])], schema)) == 1


def test_no_synthetic_files_gives_nothing(schema):
    assert load_synthetic([], schema) == []


@pytest.mark.parametrize("value", [False, "true", 1, None])
def test_synthetic_flag_must_be_true(tmp_path, schema, value):
    path = write_jsonl(tmp_path / "syn_flag.jsonl", [synthetic_record(1), synthetic_record(2, synthetic=value)])
    message = synthetic_error([path], schema)
    assert "syn_flag.jsonl:2:" in message and "'synthetic' must be true" in message


def test_synthetic_flag_missing(tmp_path, schema):
    rec = synthetic_record(2)
    del rec["synthetic"]
    path = write_jsonl(tmp_path / "syn_flag.jsonl", [synthetic_record(1), rec])
    message = synthetic_error([path], schema)
    assert "syn_flag.jsonl:2:" in message and "missing field" in message and "'synthetic'" in message


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"frame": "terrorism"}, ["unknown frame", "'terrorism'"]),
        ({"attribution": "quoted"}, ["unknown attribution", "'quoted'"]),
        ({"secondary_frames": ["genocide"]}, ["unknown secondary frame", "'genocide'"]),
    ],
)
def test_synthetic_unknown_label(tmp_path, schema, changes, words):
    path = write_jsonl(tmp_path / "syn_labels.jsonl", [synthetic_record(1), synthetic_record(2, **changes)])
    message = synthetic_error([path], schema)
    assert "syn_labels.jsonl:2:" in message
    for word in words:
        assert word in message


def test_synthetic_extra_field(tmp_path, schema):
    path = write_jsonl(tmp_path / "syn_extra.jsonl", [synthetic_record(1, start=0)])
    message = synthetic_error([path], schema)
    assert "syn_extra.jsonl:1:" in message and "unknown field" in message and "'start'" in message


def test_synthetic_duplicate_id_across_files(tmp_path, schema):
    first = write_jsonl(tmp_path / "syn_one.jsonl", [synthetic_record(1), synthetic_record(2)])
    second = write_jsonl(
        tmp_path / "syn_two.jsonl", [synthetic_record(3), synthetic_record(2, text="Another sentence.")]
    )
    message = synthetic_error([first, second], schema)
    assert "syn_two.jsonl:2:" in message, message
    assert "duplicate id" in message and "'syn-test-0002'" in message
    assert "syn_one.jsonl:2" in message, "the message should say where the first copy is"


def test_synthetic_duplicate_id_within_file(tmp_path, schema):
    path = write_jsonl(tmp_path / "syn_dup.jsonl", [synthetic_record(1), synthetic_record(1, text="Other text.")])
    message = synthetic_error([path], schema)
    assert "syn_dup.jsonl:2:" in message and "duplicate id" in message


def test_synthetic_invalid_json(tmp_path, schema):
    path = write_jsonl(tmp_path / "syn_json.jsonl", [synthetic_record(1), "{not json"])
    message = synthetic_error([path], schema)
    assert "syn_json.jsonl:2:" in message and "not valid JSON" in message


def test_non_utf8_article_file(tmp_path, articles_dir, schema):
    """An article that is not UTF-8 must be reported like any other bad input, not as a bare
    UnicodeDecodeError: the message names the annotation file and line and the article."""
    (articles_dir / "doc_a.txt").write_bytes(ARTICLE.encode("utf-8") + b"caf\xe9\n")
    path = write_jsonl(tmp_path / "my_annotations.jsonl", [seed_record(0)])
    message = seed_error(path, articles_dir, schema)
    assert "my_annotations.jsonl:1" in message and "doc_a" in message and "UTF-8" in message

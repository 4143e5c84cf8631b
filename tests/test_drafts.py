"""Labelled drafts -> article files and seed-format annotations that load through the seed path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.annotations import (
    SEED_FIELDS,
    SEED_OPTIONAL,
    AnnotationError,
    load_article_meta,
    load_seed_annotations,
)
from training.drafts import DraftError, parse_draft, write_corpus

HEADER = """---
doc_id: az-relay-001
outlet: Caspian Wire
camp: AZ
genre: agency_relay
writer: writer-az
date: 2023-09-19
title: Ministry announces measures
---
"""
BODY = """Ministry announces measures {{anti_terror/authorial}}
~ Baku, 19 September, Caspian Wire
The ministry said in a statement: {{anti_terror/attributed}}
"1. All illegal armed formations lay down their arms. {{anti_terror/attributed | numbered term}}
2. Heavy weapons are handed over to
the peacekeepers." {{anti_terror+diplomacy/attributed}}
~ Related: Baku denies blockade
"""


def _draft(tmp_path: Path, body: str = BODY, header: str = HEADER, name: str = "d.txt") -> Path:
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


def test_parse_gives_exact_offsets_and_strips_tags_and_markers(tmp_path, schema):
    draft = parse_draft(_draft(tmp_path), schema)
    assert "{{" not in draft.article and "\n~ " not in draft.article
    assert draft.article.splitlines()[1] == "Baku, 19 September, Caspian Wire"
    texts = [s.text for s in draft.sentences]
    assert texts == [
        "Ministry announces measures",
        "The ministry said in a statement:",
        '"1. All illegal armed formations lay down their arms.',
        '2. Heavy weapons are handed over to\nthe peacekeepers."',
    ]
    for s in draft.sentences:
        assert draft.article[s.start : s.end] == s.text
    assert draft.sentences[3].secondary_frames == ["diplomacy"]
    assert draft.sentences[2].note == "numbered term"
    assert draft.source == "caspian-wire"


def test_written_corpus_loads_through_the_seed_loader(tmp_path, schema):
    drafts = [parse_draft(_draft(tmp_path), schema)]
    out = tmp_path / "corpus"
    assert write_corpus(drafts, out) == {"articles": 1, "sentences": 4}
    examples = load_seed_annotations(out / "annotations.jsonl", out / "articles", schema)
    examples, meta = load_article_meta(out / "articles.csv", examples)
    assert [e.sentence_id for e in examples] == [f"az-relay-001-{i:03d}" for i in range(4)]
    assert {(e.camp, e.genre, e.writer) for e in examples} == {("AZ", "agency_relay", "writer-az")}
    assert meta["az-relay-001"]["synthetic"] == "true"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("A sentence. {{anti_terror/nobody}}\n", "unknown attribution 'nobody'"),
        ("A sentence. {{terror/authorial}}\n", "unknown frame 'terror'"),
        ("A sentence. {{anti_terror}}\n", "needs 'frame/attribution'"),
        ("A sentence. {{diplomacy+diplomacy/authorial}}\n", "repeats a frame"),
        ("Tagged. {{diplomacy/authorial}} Untagged tail.\n", "text after the last tag"),
        ("Half a sentence\n~ Related: x\nrest. {{diplomacy/authorial}}\n", "furniture line inside"),
        ("{{diplomacy/authorial}}\n", "a tag with no sentence"),
    ],
)
def test_bad_drafts_name_line_and_fix(tmp_path, schema, body, message):
    with pytest.raises(DraftError, match=message):
        parse_draft(_draft(tmp_path, body), schema)


def test_bad_front_matter(tmp_path, schema):
    with pytest.raises(DraftError, match="camp='XX'"):
        parse_draft(_draft(tmp_path, header=HEADER.replace("camp: AZ", "camp: XX")), schema)
    with pytest.raises(DraftError, match="lacks"):
        parse_draft(_draft(tmp_path, header=HEADER.replace("writer: writer-az\n", "")), schema)


def test_duplicate_doc_id_refused(tmp_path, schema):
    a = parse_draft(_draft(tmp_path, name="a.txt"), schema)
    b = parse_draft(_draft(tmp_path, name="b.txt"), schema)
    with pytest.raises(DraftError, match="used twice"):
        write_corpus([a, b], tmp_path / "out")


def test_article_meta_must_agree_with_annotations(tmp_path, schema):
    out = tmp_path / "corpus"
    write_corpus([parse_draft(_draft(tmp_path), schema)], out)
    examples = load_seed_annotations(out / "annotations.jsonl", out / "articles", schema)
    csv_text = (out / "articles.csv").read_text()
    (out / "articles.csv").write_text(csv_text.replace(",4,true", ",5,true"))
    with pytest.raises(AnnotationError, match="says 5 sentences, annotations have 4"):
        load_article_meta(out / "articles.csv", examples)
    (out / "articles.csv").write_text(csv_text.splitlines()[0] + "\n")
    with pytest.raises(AnnotationError, match="no row for annotated article 'az-relay-001'"):
        load_article_meta(out / "articles.csv", examples)


def test_shipped_corpus_is_large_and_covers_every_camp_and_genre():
    from training.dataset import load_corpus

    corpus = load_corpus(with_synthetic=False)
    docs = {e.doc_id for e in corpus.articles}
    assert len(docs) >= 200 and len(corpus.articles) >= 3000
    assert {e.camp for e in corpus.articles} == {"AZ", "ARM", "RU", "TR", "WEST", "INTL"}
    assert len({e.genre for e in corpus.articles}) == 9
    writers = {}
    for e in corpus.articles:
        writers.setdefault(e.camp, set()).add(e.writer)
    assert all(len(w) == 1 for w in writers.values()) and len(set().union(*writers.values())) == 6
    from training.dataset import SeedPaths

    line = json.loads((SeedPaths().corpus / "annotations.jsonl").read_text().splitlines()[0])
    assert set(line) == {*SEED_FIELDS, *SEED_OPTIONAL}  # the seed format, read by the seed loader

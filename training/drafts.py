"""Turn a writer's tagged draft into an article file plus seed-format annotations.

Why a draft format: writers of training articles label as they write, sentence by
sentence in document order, the way an annotator reads. Typing character offsets by hand
would be error-prone; here each sentence is followed by its label tag and the offsets are
computed, so the article and its annotations can never disagree.

A draft is a UTF-8 text file::

    ---
    doc_id: az-relay-001
    outlet: Caspian Wire
    camp: AZ
    genre: agency_relay
    writer: writer-az
    date: 2023-09-19
    title: Ministry of Defence announces local anti-terror measures
    ---
    Ministry of Defence announces local anti-terror measures {{anti_terror/authorial}}
    ~ 19 September 2023, 13:05
    The ministry said in a statement: {{anti_terror/attributed}} "1. All illegal armed
    formations lay down their arms." {{anti_terror/attributed | numbered term}}

* ``{{frame/attribution}}`` closes the sentence before it; ``{{frame+secondary+secondary/
  attribution | note}}`` adds secondary frames and a note. The tag and the blank space
  before it are removed from the article.
* A sentence runs from the end of the previous tag to its own tag, across line breaks
  (a syndicated copy broken mid-sentence keeps its breaks).
* A line starting with ``~ `` is page furniture (byline, timestamp, caption, "Related"
  block, repeated headline): it is written to the article without the marker and is not
  labelled.

Steps: :func:`parse_draft` (front matter, sentences, labels, offsets) ->
:func:`write_corpus` (article files, ``annotations.jsonl``, ``articles.csv``).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from model.schema import Schema
from training.annotations import ARTICLE_META_FIELDS

META_FIELDS = ("doc_id", "outlet", "camp", "genre", "writer", "date", "title")
CAMPS = ("AZ", "ARM", "RU", "TR", "WEST", "INTL")
GENRES = (
    "agency_relay",
    "wire_report",
    "live_blog",
    "opinion",
    "feature",
    "official_statement",
    "briefing_transcript",
    "explainer",
    "syndicated_copy",
)
_TAG_RE = re.compile(r"[ \t]*\{\{([^{}]*)\}\}")
_DOC_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,60}$")
_DATE_RE = re.compile(r"^20\d\d-\d\d-\d\d$")


class DraftError(ValueError):
    """A draft that cannot be built; the message names the file, the line and the fix."""


@dataclass
class DraftSentence:
    start: int
    end: int
    text: str
    frame: str
    secondary_frames: list[str]
    attribution: str
    note: str


@dataclass
class Draft:
    meta: dict[str, str]
    article: str
    sentences: list[DraftSentence] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        return self.meta["doc_id"]

    @property
    def source(self) -> str:
        """The outlet as a source id: what leave-one-source-out and the profiles group by."""
        return re.sub(r"[^a-z0-9]+", "-", self.meta["outlet"].lower()).strip("-")


def _front_matter(path: Path, raw: str) -> tuple[dict[str, str], str, int]:
    if not raw.startswith("---\n"):
        raise DraftError(f"{path}:1: a draft starts with a '---' line, then {list(META_FIELDS)}, then '---'")
    end = raw.find("\n---\n", 4)
    if end < 0:
        raise DraftError(f"{path}: the front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load(raw[4:end]) or {}
    except yaml.YAMLError as exc:
        raise DraftError(f"{path}: the front matter is not valid YAML ({exc})") from None
    if not isinstance(meta, dict):
        raise DraftError(f"{path}: the front matter must be 'key: value' lines")
    meta = {str(k): str(v).strip() for k, v in meta.items()}
    missing = [f for f in META_FIELDS if not meta.get(f)]
    if missing:
        raise DraftError(f"{path}: front matter lacks {missing}; every draft needs {list(META_FIELDS)}")
    extra = sorted(set(meta) - set(META_FIELDS))
    if extra:
        raise DraftError(f"{path}: unknown front-matter field(s) {extra}; allowed are {list(META_FIELDS)}")
    checks = (
        ("doc_id", _DOC_ID_RE.match(meta["doc_id"]), "lower-case letters, digits and '-', e.g. az-relay-001"),
        ("camp", meta["camp"] in CAMPS, f"one of {list(CAMPS)}"),
        ("genre", meta["genre"] in GENRES, f"one of {list(GENRES)}"),
        ("date", _DATE_RE.match(meta["date"]), "an ISO date such as 2023-09-19"),
    )
    for name, ok, expected in checks:
        if not ok:
            raise DraftError(f"{path}: front matter {name}={meta[name]!r}; expected {expected}")
    body_start = end + len("\n---\n")
    return meta, raw[body_start:], raw[:body_start].count("\n") + 1


def _parse_tag(where: str, tag: str, schema: Schema) -> tuple[str, list[str], str, str]:
    labels, _, note = tag.partition("|")
    frames, slash, attribution = labels.strip().partition("/")
    if not slash:
        raise DraftError(f"{where}: tag {{{{{tag}}}}} needs 'frame/attribution', e.g. {{{{anti_terror/attributed}}}}")
    frame, *secondary = [f.strip() for f in frames.split("+")]
    attribution = attribution.strip()
    for name in (frame, *secondary):
        if name not in schema.frame_names:
            raise DraftError(
                f"{where}: unknown frame {name!r} in {{{{{tag}}}}}; the schema allows {schema.frame_names}"
            )
    if frame in secondary or len(set(secondary)) != len(secondary):
        raise DraftError(f"{where}: {{{{{tag}}}}} repeats a frame among primary and secondary frames")
    if attribution not in schema.attribution_names:
        raise DraftError(
            f"{where}: unknown attribution {attribution!r} in {{{{{tag}}}}}; "
            f"the schema allows {schema.attribution_names}"
        )
    return frame, secondary, attribution, note.strip()


def parse_draft(path: Path, schema: Schema) -> Draft:
    """Parse one draft; raise ``DraftError`` naming file and line of the first problem."""
    raw = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    meta, body, first_line = _front_matter(path, raw)
    article = ""
    sentences: list[DraftSentence] = []
    open_from = 0  # where the sentence being read may begin: after the last tag or furniture line
    for lineno, line in enumerate(body.split("\n"), start=first_line):
        where = f"{path}:{lineno}"
        if line.startswith("~ ") or line == "~":
            if article[open_from:].strip():
                raise DraftError(f"{where}: furniture line inside an unfinished sentence; tag the sentence first")
            article += line[2:] + "\n"
            open_from = len(article)
            continue
        cursor = 0
        for match in _TAG_RE.finditer(line):
            article += line[cursor : match.start()]
            frame, secondary, attribution, note = _parse_tag(where, match.group(1), schema)
            span = article[open_from:]
            start = open_from + len(span) - len(span.lstrip())
            end = open_from + len(span.rstrip())
            if start >= end:
                raise DraftError(f"{where}: a tag with no sentence before it")
            sentences.append(DraftSentence(start, end, article[start:end], frame, secondary, attribution, note))
            open_from = len(article)
            cursor = match.end()
        article += line[cursor:] + "\n"
    if article[open_from:].strip():
        raise DraftError(
            f"{path}: text after the last tag is not labelled; end it with a {{{{frame/attribution}}}} tag"
        )
    if not sentences:
        raise DraftError(f"{path}: no labelled sentence")
    return Draft(meta=meta, article=article.rstrip("\n") + "\n", sentences=sentences)


def write_corpus(drafts: list[Draft], out: Path) -> dict[str, int]:
    """Write ``articles/<doc_id>.txt``, ``annotations.jsonl`` and ``articles.csv`` under ``out``.

    Everything is rebuilt from the drafts given, so a rerun never leaves a stale article.
    """
    seen: dict[str, str] = {}
    for d in drafts:
        if d.doc_id in seen:
            raise DraftError(f"doc_id {d.doc_id!r} is used twice (also by a draft of {seen[d.doc_id]})")
        seen[d.doc_id] = d.meta["writer"]
    articles = out / "articles"
    articles.mkdir(parents=True, exist_ok=True)
    for old in articles.glob("*.txt"):
        old.unlink()
    with (out / "annotations.jsonl").open("w", encoding="utf-8") as ann:
        for d in sorted(drafts, key=lambda d: d.doc_id):
            (articles / f"{d.doc_id}.txt").write_text(d.article, encoding="utf-8")
            for i, s in enumerate(d.sentences):
                record = {
                    "doc_id": d.doc_id,
                    "source": d.source,
                    "sentence_id": f"{d.doc_id}-{i:03d}",
                    "start": s.start,
                    "end": s.end,
                    "text": s.text,
                    "frame": s.frame,
                    "secondary_frames": s.secondary_frames,
                    "attribution": s.attribution,
                    "note": s.note,
                }
                ann.write(json.dumps(record, ensure_ascii=False) + "\n")
    with (out / "articles.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=ARTICLE_META_FIELDS)  # the header load_article_meta checks
        writer.writeheader()
        for d in sorted(drafts, key=lambda d: d.doc_id):
            writer.writerow({**d.meta, "source": d.source, "n_sentences": len(d.sentences), "synthetic": "true"})
    return {"articles": len(drafts), "sentences": sum(len(d.sentences) for d in drafts)}


def main(argv: list[str] | None = None) -> int:
    """``python -m training.drafts check FILE...`` or ``build OUT FILE...``: for writers and the Makefile."""
    import sys
    from collections import Counter

    from model.schema import load_schema
    from training.dataset import SEEDS_DIR

    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] not in ("check", "build"):
        print("usage: python -m training.drafts check DRAFT... | build OUT_DIR DRAFT...", file=sys.stderr)
        return 2
    schema = load_schema(SEEDS_DIR / "schema.yaml")
    files = [Path(a) for a in (args[2:] if args[0] == "build" else args[1:])]
    drafts, errors = [], 0
    for f in files:
        try:
            drafts.append(parse_draft(f, schema))
        except DraftError as exc:
            errors += 1
            print(f"error: {exc}", file=sys.stderr)
    if args[0] == "build" and not errors:
        print(write_corpus(drafts, Path(args[1])))
    frames = Counter(s.frame for d in drafts for s in d.sentences)
    attrs = Counter(s.attribution for d in drafts for s in d.sentences)
    genres = Counter(d.meta["genre"] for d in drafts)
    n = sum(len(d.sentences) for d in drafts)
    print(f"{len(drafts)} drafts, {n} sentences, {errors} with errors")
    print("frames:", dict(frames))
    print("attributions:", dict(attrs))
    print("genres:", dict(genres))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Sentence segmentation and page-debris cleaning with exact character offsets.

Why one module: training data, the HTTP service and batch scoring must cut text into
the *same* sentences, or the model is trained on units it never sees in production.
Every entry point calls :func:`segment`.

Why offsets into the original text: users (and the annotation file) point back at the
source article, so a sentence is always ``text[start:end]`` of what the user gave us.
Cleaning never rewrites that text; it only decides which spans are content and
produces a separate normalised ``clean`` string that the model reads.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Whole lines that are page furniture, not journalism. Matched case-insensitively
# against the stripped line. Kept deliberately narrow: a false positive silently drops
# a content sentence, which is worse than scoring one line of debris.
DEBRIS_LINE_PATTERNS: tuple[str, ...] = (
    r"<?!--.*?-->?",  # HTML comments leaking from the page source (Google tag etc.)
    r"<[^>]{1,200}>",  # a lone HTML tag
    r"click (here )?to (continue reading|read more)\.?",
    r"(continue|keep) reading\.?",
    r"leave a (reply|comment)\.?",
    r"your email address will not be published.*",
    r"required fields are marked.*",
    r"also read\s*:.*",
    r"read (more|here|also|next)\s*:?.*",
    r"(image|photo|picture|video) (source|credit)s?\s*:.*",
    r"(share|share this|tweet|advertisement|sponsored|subscribe)( (on|to) .*)?\.?",
    r"(follow|like) us on .*",
    r"(skip to (main )?content|back to top|cookie(s)? (policy|settings))\.?",
    r"share( on| via)?\s*:.*",  # share buttons
    r"(©|\(c\)|copyright\b).*|all rights reserved\.?",  # copyright lines
    r"/[^/]{2,40}/\.?",  # an agency's sign-off, e.g. /Volga Newswire/.
    r"\((?:additional )?(?:reporting|writing|editing|compiled) by [^)]*\)\.?",  # wire credits
    r"\([^()]{0,80}(?:continued|ended|concluded|omitted|inaudible)[^()]{0,40}\)\.?",  # transcript notes
    # timestamps and dates on a line of their own (live blogs, datelines)
    r"(?:updated|published|last updated|posted)\b.{0,60}",
    r"\d{1,2}[:.]\d{2}(?:\s*(?:am|pm|a\.m\.|p\.m\.))?(?:\s*(?:bst|gmt|cet|cest|edt|est|utc|msk|amt|azt|trt|local time"
    r"|gmt ?[+-] ?\d{1,2}))?\.?",
    r"(?:bst|gmt|cet|cest|edt|est|utc|msk)",
    r"(?:related|tags?|topics|source|filed under)\s*:.*",  # link and tag lines of syndicated copies
    r"(?:originally )?(?:re)?published (?:by|with|in) .{2,80}|this (?:article|story) (?:was|is|has been) "
    r"(?:re)?(?:published|printed|syndicated).*|print(?: version)?",
    # section labels printed above a story
    r"(?:editorial|opinion|commentary|analysis|key events|breaking( news)?|live( updates)?|the big read)\.?",
)
_DEBRIS_RE = re.compile(r"^(?:" + "|".join(DEBRIS_LINE_PATTERNS) + r")$", re.IGNORECASE)

# Mojibake: UTF-8 bytes of typographic characters (zero-width space, quotes, dashes)
# decoded as MacRoman / cp1252 and re-encoded, e.g. "‚Äč‚Äč" for two U+200B.
_MOJIBAKE_RE = re.compile(r"(?:‚Ä.|â€.?|Â(?=\s|\u00a0))")
# Invisible or direction-changing characters that change tokenisation but not meaning.
_INVISIBLE_RE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_CONTROL_RE = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'"})
# A headline followed by " | Section | Site": the trailing parts are site furniture.
_SITE_SUFFIX_RE = re.compile(r"(?:\s+\|\s+[^|]{0,40})+\s*$")
_WS_RE = re.compile(r"\s+")
# Boundaries pysbd misses. Two quotations back to back ('...reality." "The information...')
# are two sentences: pysbd keeps them together because it never splits inside quote pairs.
# The Armenian full stop (U+0589) and the ideographic full stop also end sentences.
_EXTRA_BOUNDARY_RE = re.compile(r"(?<=[.!?][\"”])\s+(?=[\"“][A-Z])|(?<=[։。])\s+")


@dataclass(frozen=True)
class Sentence:
    """One content sentence: ``text`` is exactly ``original[start:end]``."""

    index: int
    start: int
    end: int
    text: str
    clean: str


def normalise(text: str) -> str:
    """The model's view of a span: mojibake, invisibles and control characters removed,
    quotes made straight (outlets differ only in typography), whitespace collapsed."""
    text = _MOJIBAKE_RE.sub("", text)
    text = _INVISIBLE_RE.sub("", text)
    text = _CONTROL_RE.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _WS_RE.sub(" ", text).strip()


def is_debris(line: str) -> bool:
    """True for a whole line of page furniture (see ``DEBRIS_LINE_PATTERNS``)."""
    stripped = normalise(line)
    return not stripped or bool(_DEBRIS_RE.match(stripped))


def _dedup_key(text: str) -> str:
    return re.sub(r"[^\w]+", " ", normalise(text).casefold()).strip()


@lru_cache(maxsize=1)
def _segmenter():  # pysbd builds its rule tables on construction; build them once
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def _split_line(line: str) -> list[tuple[int, int]]:
    """Sentence spans inside one paragraph line, relative to the line.

    pysbd decides the boundaries (abbreviations, quotes, ellipses); we locate each
    piece ourselves with a moving cursor because its own char spans are unreliable
    when a sentence repeats inside a paragraph.
    """
    spans: list[tuple[int, int]] = []
    cursor = 0
    pieces = (p for chunk in _segmenter().segment(line) for p in _EXTRA_BOUNDARY_RE.split(chunk))
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        found = line.find(piece, cursor)
        if found < 0:  # pysbd altered the piece; fall back to the rest of the line
            found = cursor + (len(line[cursor:]) - len(line[cursor:].lstrip()))
            piece = line[found:].rstrip()
        spans.append((found, found + len(piece)))
        cursor = found + len(piece)
    return _merge_fragments(line, spans)


_LIST_NUMBER_RE = re.compile(r"^[\"“«„'(]?\s*\d{1,2}[.)]$")
# 'Its terms: "1.' is split after the colon; '10:30.' and '3:2.' (a digit before the colon) are not.
_INTRO_THEN_NUMBER_RE = re.compile(r"(?<!\d):((?:\s+|\s*[\"“«„'(]\s*)\d{1,2}[.)])$")


def _merge_fragments(line: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Glue pieces that cannot stand alone: a lone closing quote or bracket, or a piece
    starting in lower case (a split inside an abbreviation pysbd did not know), to the piece
    before; a lone list number ("«1.") to the piece after, also when it ends an
    introduction ('The terms read: "1.'), which then stands alone."""
    merged: list[tuple[int, int]] = []
    carry: int | None = None  # start of a list number waiting for its item
    for start, end in spans:
        piece = line[start:end]
        lone_punct = not any(ch.isalnum() for ch in piece)
        if carry is not None:
            start, carry = carry, None
        elif merged and (lone_punct or piece[:1].islower()):
            merged[-1] = (merged[-1][0], end)
            continue
        if _LIST_NUMBER_RE.match(piece.strip()):
            carry = start
            continue
        if intro := _INTRO_THEN_NUMBER_RE.search(piece):
            merged.append((start, start + intro.start() + 1))
            carry = start + intro.start(1) + len(intro.group(1)) - len(intro.group(1).lstrip())
            continue
        merged.append((start, end))
    if carry is not None:
        merged.append((carry, spans[-1][1]))
    return merged


# Bylines, photo captions and credits: whole lines that name who wrote or shot, not what happened.
_BYLINE_RE = re.compile(
    r"^(?:by|written by|reporting by|report by|words by|edited by|editing by)\s+[A-Z][\w.'’-]+"
    r"(?:[ ,]+(?:and\s+)?[A-Z][\w.'’-]+){0,6}(?:\s*[,;|/-]\s*.{0,60})?$"
    r"|^(?:reporting|additional reporting|writing|editing) by .{3,120}$",
    re.IGNORECASE,
)
_CAPTION_RE = re.compile(
    r"^(?:photo|photograph|image|caption|pictured|picture|file photo|in pictures|video)\s*[:|/-]\s*.+"
    r"|^.{0,300}\((?:photo|image|picture|file photo)[^)]{0,80}\)\.?$"
    r"|^.{0,300}\b(?:photo|image)\s*:\s*[A-Z][\w .&/-]{1,60}$",
    re.IGNORECASE,
)
# Headers of link blocks; the short link lines that follow them are dropped too.
_LINK_BLOCK_RE = re.compile(
    r"^(?:recommended|related|related (?:stories|articles|news|coverage|content|topics)|read also|see also"
    r"|more on (?:this|the) (?:story|topic)|more from [\w ]{1,40}|more stories|top stories|trending"
    r"|most read|popular|latest news|you may also like|what to read next)\s*:?$",
    re.IGNORECASE,
)
_TERMINAL = ".!?:;\"”»’')]…"
_JOIN_END_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "and",
        "or",
        "but",
        "that",
        "which",
        "who",
        "whose",
        "as",
        "than",
        "into",
        "its",
        "their",
        "his",
        "her",
        "said",
        "says",
        "told",
        "after",
        "before",
        "over",
        "under",
        "between",
        "against",
        "about",
        "during",
    ]
)


# A dateline on its own line: one to three upper-case words, optionally a date ("MOSCOW, September 20.").
_DATELINE_RE = re.compile(
    r"^[A-Z][A-Z'’.-]+(?: [A-Z][A-Z'’.-]+){0,2}(?:,\s*[A-Z][A-Za-z]+\.? \d{1,2}(?:,\s*[A-Z][A-Z .'’-]{2,40})?)?\.?$"
)


def _is_furniture(line: str) -> bool:
    """Debris, bylines, captions and lone datelines: lines of page furniture that are never content sentences."""
    clean = normalise(line)
    return is_debris(line) or bool(_BYLINE_RE.match(clean) or _CAPTION_RE.match(clean) or _DATELINE_RE.match(clean))


def _continues(prev: str, nxt: str) -> bool:
    """Whether physical line ``nxt`` continues the sentence that ``prev`` broke off (syndicated copies)."""
    prev, nxt = prev.rstrip(), nxt.lstrip()
    if not prev or not nxt or prev[-1] in _TERMINAL:
        return False
    if nxt[0].islower() or nxt[0] in ",;)–—-":
        return True
    last_word = re.sub(r"\W+$", "", prev.rsplit(None, 1)[-1]).lower()
    return prev[-1] in ",-–—(" or last_word in _JOIN_END_WORDS


def _blocks(text: str) -> list[tuple[int, int]]:
    """Content paragraphs as (start, end) spans: furniture dropped, broken lines re-joined.

    A block may span several physical lines; its span keeps the original line breaks, so
    offsets stay exact. A link-block header ("Related", "RECOMMENDED") drops itself and the
    short unpunctuated link titles under it.
    """
    blocks: list[tuple[int, int]] = []
    lines = [(m.group(), m.start(), m.end()) for m in re.finditer(r"[^\n\r]+", text)]
    in_links = False
    joinable = False  # the last block may take the next line
    for k, (line, start, end) in enumerate(lines):
        clean = normalise(line)
        if _LINK_BLOCK_RE.match(clean):
            in_links, joinable = True, False
            continue
        if in_links:
            nxt = lines[k + 1][0] if k + 1 < len(lines) else ""
            link_title = clean and len(clean) <= 140 and clean[-1] not in '.!?"”»,'
            if link_title and not _continues(clean, nxt):
                continue
            in_links = False
        if not clean or _is_furniture(line):
            joinable = False
            continue
        if joinable and blocks and _continues(text[blocks[-1][0] : blocks[-1][1]], line):
            blocks[-1] = (blocks[-1][0], end)
        else:
            blocks.append((start, end))
        joinable = True
    return blocks


def segment(text: str) -> list[Sentence]:
    """Split an article into content sentences with offsets into ``text``.

    Lines are paragraphs (headlines and one-line paragraphs stay whole) unless a line breaks
    off mid-sentence, when the next line is joined to it; debris, bylines, captions, link
    blocks and repeated lines (a title printed twice) are dropped; a trailing " | Section |
    Site" on a headline is cut off the span.
    """
    sentences: list[Sentence] = []
    seen: set[str] = set()
    for block_start, block_end in _blocks(text):
        line, offset = text[block_start:block_end], block_start
        suffix = _SITE_SUFFIX_RE.search(line) if "\n" not in line else None
        if suffix and suffix.start() > 0:
            line = line[: suffix.start()]
        key = _dedup_key(line)
        if not key or key in seen:
            continue
        seen.add(key)
        flat = re.sub(r"[\n\r]", " ", line)  # same length: pysbd sees one line, offsets stay exact
        for start, end in _split_line(flat):
            clean = normalise(line[start:end])
            if not clean or is_debris(clean):
                continue
            sentences.append(
                Sentence(
                    index=len(sentences),
                    start=offset + start,
                    end=offset + end,
                    text=text[offset + start : offset + end],
                    clean=clean,
                )
            )
    return sentences


_EN_FUNCTION_WORDS = frozenset(
    [
        "the",
        "of",
        "and",
        "to",
        "in",
        "a",
        "is",
        "that",
        "for",
        "on",
        "was",
        "with",
        "as",
        "by",
        "it",
        "has",
        "have",
        "said",
        "from",
        "its",
        "at",
        "be",
        "are",
        "were",
        "an",
        "which",
        "this",
        "not",
        "will",
        "their",
        "or",
        "had",
        "been",
        "after",
        "over",
        "who",
        "would",
        "but",
        "they",
        "he",
        "she",
        "his",
        "her",
        "than",
        "also",
        "into",
    ]
)
_BAD_CONTROL_RE = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]")


def has_control_characters(text: str) -> bool:
    """C0 control characters other than tab and newlines: binary junk, not text.

    C1 characters (U+0080-U+009F) are allowed: they turn up in mojibake from scraped pages,
    and ``normalise`` strips them before the model reads the text.
    """
    return bool(_BAD_CONTROL_RE.search(text))


def language_note(text: str) -> str | None:
    """None when ``text`` looks like English; otherwise why not.

    Why a heuristic and not a language-ID model: the service only needs to warn that the
    English-trained model is outside its competence, and a script test plus a count of
    English function words catches Armenian, Cyrillic and Azerbaijani or Turkish text.
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "no letters"
    latin = sum("a" <= c.lower() <= "z" for c in letters) / len(letters)
    if latin < 0.7:
        return f"mostly non-Latin script ({1 - latin:.0%} of letters)"
    words = re.findall(r"[a-z']+", text.lower())
    if len(words) >= 6 and sum(w in _EN_FUNCTION_WORDS for w in words) / len(words) < 0.08:
        return "few English function words"
    return None

"""HTML pages in: the article's main text and its metadata, extracted with trafilatura.

Why trafilatura and not our own rules: telling an article's paragraphs from navigation, cookie
banners, "related stories" blocks and reader comments is a whole research field; trafilatura is
the maintained library made for it (with htmldate for publication dates). We call it with
``favor_precision`` and without comments: a sentence of page furniture scored as the outlet's
own voice would skew its profile, while a dropped paragraph only costs a little recall.

Why we decode the bytes ourselves: a page says how it is encoded (a byte-order mark, or
``<meta charset>`` / ``http-equiv`` in its head), and that declaration is more reliable than
trafilatura's statistical guess, which can mistake a short windows-1251 page for another
Cyrillic code page. Only a page that declares nothing and is not UTF-8 is left to trafilatura's
detection.

Why the extracted text is normalised (one paragraph per line, no blank lines, no indentation):
sentence offsets refer to exactly this text, which ``framing score`` writes to
``OUT/extracted/``; the same page always gives the same text, so a resumed run re-extracts and
gets the same offsets.

Why a page with only a headline is a reject: trafilatura returns the ``<h1>`` of a page whose
body is loaded by JavaScript (live blogs, paywalls); scoring that one line as "the article"
would put an empty page in a source's profile without anyone noticing.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

NO_TEXT = (
    "no article text could be extracted from the HTML: the page has only a headline or page furniture (is its "
    "text loaded by JavaScript, or behind a paywall?); save the page once it has loaded, or give its text in a "
    "'text' column"
)
# Byte-order marks, longest first (UTF-32 is left out on purpose: browsers do not honour it either).
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">, in the first bytes.
_META_CHARSET_RE = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_PRESCAN_BYTES = 4096  # the HTML standard prescans 1024 bytes; real heads put a long <title> or scripts first
# Labels the HTML standard maps to windows-1252 (a superset: pages labelled latin-1 use its extra characters).
_WINDOWS_1252_LABELS = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "cp819"}
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_WS_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Extracted:
    """What one page gave: the main text (normalised, see the module docstring) and its metadata."""

    text: str
    title: str | None
    published: str | None  # ISO YYYY-MM-DD
    url: str | None
    author: str | None
    sitename: str | None
    encoding: str  # how the bytes were decoded, e.g. "windows-1251 (meta charset)"


def extractor_version() -> str:
    """``trafilatura X.Y.Z``: part of a run's fingerprint, since another version may cut a page differently."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"trafilatura {version('trafilatura')}"
    except PackageNotFoundError:
        return "trafilatura (not installed)"


def decode_html(data: bytes) -> tuple[str | None, str]:
    """(text, how it was decoded); text is None when only trafilatura's detection can tell the encoding.

    Order, as browsers do it: a byte-order mark, then the page's own ``<meta>`` declaration (when
    the bytes really decode with it), then UTF-8.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace"), f"{codec} (byte-order mark)"
    match = _META_CHARSET_RE.search(data[:_PRESCAN_BYTES])
    if match:
        label = match.group(1).decode("ascii", errors="replace").strip().lower()
        try:
            codec = codecs.lookup("windows-1252" if label in _WINDOWS_1252_LABELS else label).name
        except LookupError:
            codec = None
        if codec is not None and codec.startswith("utf-16"):
            codec = "utf-8"  # a page that can declare its charset in ASCII is not UTF-16 (HTML standard)
        if codec is not None:
            try:
                return data.decode(codec), f"{codec} (meta charset)"
            except UnicodeDecodeError:
                pass  # the declaration is wrong: fall through to UTF-8 and detection
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return None, "detected by trafilatura (no charset declared, not UTF-8)"


def _quiet_logs() -> None:
    """trafilatura and htmldate log every page they discard; our rejects already say why, once per page."""
    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _norm(s: str | None) -> str:
    return _WS_RE.sub(" ", s or "").strip().casefold()


def _iso_date(value: Any) -> str | None:
    """htmldate gives YYYY-MM-DD already; anything else that parses as ISO is cut to its date."""
    if not value:
        return None
    text = str(value).strip()
    if not _ISO_DATE_RE.match(text):
        return None
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return None


def extract_html(page: str | bytes, *, max_bytes: int | None = None) -> Extracted | str:
    """The page's main text and metadata, or the reason it cannot be scored (a reject's reason).

    ``page``: the raw bytes of a file (decoded here, see ``decode_html``) or a string from a table.
    ``max_bytes``: the batch scorer's page limit; None where the caller has bounded the page
    already (the service's request model caps ``html`` at ``FRAMING_MAX_HTML_CHARS``).
    """
    size = len(page) if isinstance(page, bytes) else len(page.encode("utf-8", errors="surrogatepass"))
    if max_bytes is not None and size > max_bytes:
        return (
            f"HTML page too large: {size:,} bytes, over the limit of {max_bytes:,} bytes (--max-html-bytes); "
            "raise the limit if the page really is one article"
        )
    if isinstance(page, bytes):
        html, how = decode_html(page)
    else:
        html, how = page, "text (given as a string)"
    source: str | bytes = page if html is None else html
    if html is not None and "<html" not in html[:2048].lower():
        # A fragment (a crawler's article body): trafilatura expects a whole document.
        source = f"<html><body>{html}</body></html>"
    import trafilatura

    _quiet_logs()
    try:
        doc = trafilatura.bare_extraction(
            source,
            with_metadata=True,
            favor_precision=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            # Dates from markup only (meta tags, <time>, the URL): a date guessed from the body's text
            # would put an article in the wrong week of the timeline.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as exc:  # lxml and trafilatura raise many types on broken markup; one page, one reject
        return f"unparsable HTML: {type(exc).__name__} {str(exc)[:200]!r}; check that the file is a web page"
    if doc is None:
        return NO_TEXT
    title = (doc.title or "").strip() or None
    lines = [line.strip() for line in (doc.text or "").splitlines()]
    lines = [line for line in lines if line]
    if not any(_norm(line) != _norm(title) for line in lines):
        return NO_TEXT
    return Extracted(
        text="\n".join(lines),
        title=title,
        published=_iso_date(doc.date),
        url=(doc.url or "").strip() or None,
        author=(doc.author or "").strip() or None,
        sitename=(doc.sitename or "").strip() or None,
        encoding=how,
    )

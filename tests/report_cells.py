"""The report's HTML as a test reads it: displayed cell text by (row, metric), and element ids.

Shared by the report and timeline tests, so both read the page the same way.
"""

from __future__ import annotations

from html.parser import HTMLParser


class Cells(HTMLParser):
    """Displayed text of elements with data-metric (keyed by the row's data-model/data-source) or data-kappa."""

    def __init__(self) -> None:
        super().__init__()
        self.row: str | None = None
        self.key: tuple[str, str] | None = None
        self.text: list[str] = []
        self.cells: dict[tuple[str, str], str] = {}
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"] or "")
        if tag == "tr":
            self.row = a.get("data-model") or a.get("data-source")
        if "data-kappa" in a:
            self.key, self.text = ("kappa", a["data-kappa"] or ""), []
        elif "data-metric" in a and self.row:
            self.key, self.text = (self.row, a["data-metric"] or ""), []

    def handle_data(self, data: str) -> None:
        if self.key:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self.key and tag in ("td", "div"):
            self.cells.setdefault(self.key, "".join(self.text).strip())
            self.key = None

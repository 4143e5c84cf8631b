"""Options more than one command takes, declared once so their names, defaults and help agree.

``framing score`` and ``framing annotate export`` read the same inputs (``serving.batch``),
so they take the same column options.
"""

from __future__ import annotations

import typer

TextColOpt = typer.Option("text", help="Table column with the article text.")
SourceColOpt = typer.Option("source", help="Table column with the source (outlet).")
IdColOpt = typer.Option(None, help="Table column with article ids (default: 'id' if present).")
TitleColOpt = typer.Option(None, help="Title column (default: 'title' if present).")
DateColOpt = typer.Option(None, help="Date column (default: 'published' or 'date' if present).")
UrlColOpt = typer.Option(None, help="URL column (default: 'url' if present).")
HtmlColOpt = typer.Option(None, help="Column with HTML pages, read instead of text (default: 'html' if present).")
StrictOpt = typer.Option(False, help="Stop at the first rejected record, writing nothing.")

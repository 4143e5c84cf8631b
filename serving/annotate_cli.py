"""``framing annotate``: sentences out to Label Studio (or a spreadsheet), labels back in as seeds.

Why a sub-app of the one CLI: annotating is a pipeline step like ``framing score`` or
``framing train``, and a user retraining for another conflict runs them in a row:
``annotate export`` -> label -> ``annotate import`` -> ``data --seeds`` -> ``train --seeds``
-> ``serve``. The export reads exactly what ``framing score`` reads (``serving.batch``:
the same files, columns, sidecar and rejects) and cuts the same sentences (``serving.scoring``);
the Label Studio formats, ordering and seed writing live in ``training.labelstudio``, and
``annotate curve`` measures that ordering (``eval.active_learning``).

This module is part of the CLI (``serving/cli.py`` registers it with ``app.add_typer``), so,
like ``serving/cli.py``, it may import ``training`` and ``eval``; nothing else in
``serving`` does (``tests/test_layout.py``).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from serving.cli_options import (
    DateColOpt,
    HtmlColOpt,
    IdColOpt,
    SourceColOpt,
    StrictOpt,
    TextColOpt,
    TitleColOpt,
    UrlColOpt,
)

annotate_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Annotate sentences in Label Studio or a spreadsheet: export tasks, import labels as a seeds folder.",
)
console = Console(stderr=True)

EXPORT_EPILOG = (
    "Exit codes: 0 every record exported; 1 exported, but some input records were rejected (OUT/rejects.jsonl, "
    "as 'framing score' rejects them); 2 usage error (missing input, unknown column, bad option, OUT not empty)."
)
IMPORT_EPILOG = (
    "Exit codes: 0 every label imported; 1 the seeds folder was written, but some labels broke a seed rule and "
    "were left out (listed on screen and in DIR/import_report.json); 2 nothing was written: bad input, an empty "
    "or foreign export, --strict with a bad label, or DIR not empty."
)


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def _say(message: str) -> None:
    console.print(message, soft_wrap=True, highlight=False)


# --------------------------------------------------------------------------- export
def _model_dir(model: Path | None) -> tuple[Path, str]:
    """(folder, version string) of ``--model DIR`` or ``framing-classifier:latest`` in the BentoML store."""
    from model.classifier import ModelLoadError
    from model.store import store_model

    if model is not None:
        if not model.is_dir():
            _fail(f"--model {model} is not a folder; pass a folder written by 'framing train --export DIR'")
        return model, f"folder:{model.resolve().name}"
    try:
        return store_model()
    except ModelLoadError as exc:
        _fail(f"{exc}: pass --model DIR, or --no-predictions (with --schema) for a first round without a model")


def _schema_and_text(schema_path: Path | None, model_schema: Any) -> tuple[Any, str]:
    import yaml

    from model.schema import SchemaError, load_schema

    if schema_path is not None:
        try:
            return load_schema(schema_path), schema_path.read_text(encoding="utf-8")
        except SchemaError as exc:
            _fail(str(exc))
    if model_schema is None:
        _fail("no schema: pass --schema schema.yaml (the labels to annotate), or a model whose schema to use")
    header = "# the model's label schema, written by 'framing annotate export'\n"
    return model_schema, header + yaml.safe_dump(model_schema.to_dict(), sort_keys=False, allow_unicode=True)


@annotate_app.command("export", epilog=EXPORT_EPILOG)
def export(
    inputs: list[Path] = typer.Argument(
        ...,
        help="What 'framing score' reads: folders of .txt/.html files, .txt/.html/.jsonl/.csv/.parquet files "
        "(each optionally .gz).",
        show_default=False,
    ),
    out: Path = typer.Option(..., "--out", help="Folder for tasks.json, label_config.xml, tasks.csv, articles/."),
    schema_path: Path | None = typer.Option(
        None, "--schema", help="schema.yaml of the labels to annotate (default: the model's schema)."
    ),
    model: Path | None = typer.Option(
        None, help="Model folder from 'framing train --export' (default: framing-classifier:latest in the store)."
    ),
    predictions: bool = typer.Option(
        True, "--predictions/--no-predictions", help="Pre-annotate each task with the model's labels and score."
    ),
    order: str | None = typer.Option(
        None,
        help="'uncertainty' (smallest margin first, spread over sources and articles; the default with "
        "predictions), 'document' (articles in input order; the default without) or 'random' (seeded, spread).",
    ),
    limit: int | None = typer.Option(None, min=1, help="Export only the first N tasks of that order."),
    per_article: int = typer.Option(
        2, min=1, help="Spread: at most this many sentences of one article per round before its source's others."
    ),
    window: int = typer.Option(2, min=0, help="Sentences before and after shown as each task's context."),
    context_chars: int = typer.Option(800, min=50, help="Longest context shown (cut at its far ends)."),
    seed: int = typer.Option(0, help="Seed of --order random."),
    source: str | None = typer.Option(None, help="Source of every .txt article, and of rows without one."),
    text_col: str = TextColOpt,
    source_col: str = SourceColOpt,
    id_col: str | None = IdColOpt,
    title_col: str | None = TitleColOpt,
    date_col: str | None = DateColOpt,
    url_col: str | None = UrlColOpt,
    html_col: str | None = HtmlColOpt,
    strict: bool = StrictOpt,
    overwrite: bool = typer.Option(False, help="Replace OUT whole if it already holds files."),
) -> None:
    """Export articles as Label Studio tasks (one per sentence, in its article context) and a tasks.csv.

    Writes OUT/tasks.json (Label Studio import format, with pre-annotations unless
    --no-predictions), OUT/label_config.xml (from the schema), OUT/tasks.csv (the same tasks
    for a spreadsheet: fill frame, attribution, annotator), OUT/articles/ and articles.csv (the
    texts the offsets index, read back by 'framing annotate import'), OUT/schema.yaml and
    OUT/manifest.json. Rejected input records go to OUT/rejects.jsonl as in 'framing score'.
    """
    import numpy as np

    from model.classifier import SCHEMA_FILE, FramingClassifier, ModelLoadError
    from model.schema import Schema
    from serving.batch.inputs import describe_inputs, load_sidecar, resolve_inputs
    from serving.batch.readers import resolve_columns, scan
    from serving.batch.records import DOCUMENTS, ArticleRecord, BatchError, Columns, Reject
    from serving.scoring import segment_articles, unit_contexts
    from training.labelstudio import (
        ORDERS,
        ExportArticle,
        LabelStudioError,
        Unit,
        build_tasks,
        check_out_folder,
        normalise_newlines,
        safe_doc_ids,
        write_export,
    )

    order = order or ("uncertainty" if predictions else "document")
    if order not in ORDERS:
        _fail(f"--order must be one of {list(ORDERS)}, got {order!r}")
    if order == "uncertainty" and not predictions:
        _fail("--order uncertainty ranks by the model's predictions; drop --no-predictions or use --order document")
    try:
        check_out_folder(out, overwrite=overwrite)
    except LabelStudioError as exc:
        _fail(str(exc))

    # schema and model (a model whose labels differ from the schema cannot pre-annotate it)
    model_dir, model_version, model_schema = None, None, None
    if predictions or model is not None:
        model_dir, model_version = _model_dir(model)
    elif schema_path is None:
        from model.store import model_in_store

        if model_in_store():  # no --schema: the labels of the model in the store
            model_dir, model_version = _model_dir(None)
    if model_dir is not None:
        try:
            model_schema = Schema.from_dict(json.loads((model_dir / SCHEMA_FILE).read_text()), str(model_dir))
        except (OSError, ValueError) as exc:
            _fail(f"{model_dir} is not a saved framing model ({exc}); pass --model DIR from 'framing train --export'")
    schema, schema_text = _schema_and_text(schema_path, model_schema)
    if (
        predictions
        and model_schema is not None
        and (
            model_schema.frame_names != schema.frame_names or model_schema.attribution_names != schema.attribution_names
        )
    ):
        _fail(
            f"the model ({model_version}) predicts schema {model_schema.name!r} (frames {model_schema.frame_names}, "
            f"attributions {model_schema.attribution_names}) but --schema is {schema.name!r} (frames "
            f"{schema.frame_names}, attributions {schema.attribution_names}): its labels cannot pre-annotate these "
            "tasks. For the first round of a new conflict pass --no-predictions (order: document or random); later "
            "rounds: --model a model trained on this schema"
        )

    # inputs, read and validated exactly as 'framing score' does
    try:
        files = resolve_inputs(inputs)
        cols = Columns(text_col, source_col, id_col, title_col, date_col, url_col, html_col)
        table_columns = resolve_columns(files, cols, source)
        sidecars = {r: load_sidecar(r) for r in {f.root for f in files if f.kind in DOCUMENTS and f.root}}
        records: list[ArticleRecord] = []
        rejects: list[Reject] = []
        for rec in scan(files, table_columns, source, sidecars):
            if isinstance(rec, Reject):
                if strict:
                    _fail(f"--strict: {rec.where()}: {rec.reason}. Nothing was written.")
                rejects.append(rec)
            else:
                records.append(rec)
        described = describe_inputs(files)
    except BatchError as exc:
        _fail(str(exc), exc.exit_code)
    if not records:
        _fail(
            f"no article to export: all {len(rejects)} records were rejected (first: "
            f"{rejects[0].where() + ': ' + rejects[0].reason if rejects else 'none'})"
        )
    doc_ids = safe_doc_ids([r.article_id for r in records])
    articles = [
        ExportArticle(d, r.article_id, r.source, normalise_newlines(r.text), r.title, r.published, r.url, r.file)
        for d, r in zip(doc_ids, records, strict=True)
    ]
    as_input = [{"source": a.source, "text": a.text, "title": a.title} for a in articles]
    pairs, _summaries, warnings = segment_articles(as_input)
    for w in warnings:
        _say(f"[yellow]warning:[/] {w}")
    if not pairs:
        _fail("the articles hold no content sentence after removing page debris; nothing to annotate")
    shown = unit_contexts(as_input, pairs, (window, context_chars)) or [""] * len(pairs)
    per_doc = np.bincount([i for i, _ in pairs], minlength=len(articles))
    units = [
        Unit(articles[i].doc_id, articles[i].source, s.index, int(per_doc[i]), s.start, s.end, s.text, c)
        for (i, s), c in zip(pairs, shown, strict=True)
    ]

    frame_p = attr_p = None
    if predictions:
        assert model_dir is not None
        try:
            clf = FramingClassifier.load(model_dir)
        except ModelLoadError as exc:
            _fail(str(exc))
        _say(f"pre-annotating {len(units)} sentences with {model_version} ...")
        contexts = unit_contexts(as_input, pairs, clf.context_settings)
        fp, ap = clf.predict_proba([s.clean for _, s in pairs], contexts=contexts)
        frame_p, attr_p = fp.numpy(), ap.numpy()
    try:
        tasks, rows = build_tasks(
            units,
            schema,
            frame_p=frame_p,
            attr_p=attr_p,
            model_version=model_version,
            order=order,
            per_article=per_article,
            limit=limit,
            seed=seed,
        )
    except LabelStudioError as exc:
        _fail(str(exc))
    manifest = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ["framing", *sys.argv[1:]],
        "schema": schema.name,
        "frames": schema.frame_names,
        "attributions": schema.attribution_names,
        "model": model_version if predictions else None,
        "order": order,
        "uncertainty": "smallest margin: min over the frame and attribution heads of (top-1 - top-2 probability)"
        if predictions
        else None,
        "per_article": per_article,
        "limit": limit,
        "context": {"window": window, "max_chars": context_chars},
        "counts": {
            "articles": len(articles),
            "sentences": len(units),
            "tasks": len(tasks),
            "sources": len({a.source for a in articles}),
            "rejects": len(rejects),
        },
        "inputs": described,
    }
    try:
        write_export(
            out,
            tasks=tasks,
            rows=rows,
            schema=schema,
            schema_text=schema_text,
            articles=articles,
            manifest=manifest,
            rejects=[r.to_json() for r in rejects],
            overwrite=overwrite,
        )
    except (LabelStudioError, OSError) as exc:
        _fail(f"could not write {out}: {exc}")
    _export_summary(out, manifest, tasks, rejects)
    raise typer.Exit(1 if rejects else 0)


def _export_summary(out: Path, manifest: dict[str, Any], tasks: list[dict[str, Any]], rejects: list[Any]) -> None:
    c = manifest["counts"]
    _say(
        f"exported {c['tasks']} tasks ({c['sentences']} sentences in {c['articles']} articles from {c['sources']} "
        f"sources; order: {manifest['order']}) to {out}/"
    )
    if manifest["model"]:
        table = Table(title="first tasks (least sure first)" if manifest["order"] == "uncertainty" else "first tasks")
        for col in ("rank", "source", "doc_id", "predicted", "margin", "sentence"):
            table.add_column(col, overflow="fold")
        for t in tasks[:5]:
            d, p = t["data"], t["predictions"][0]
            labels = "/".join(r["value"]["choices"][0] for r in p["result"])
            table.add_row(str(d["rank"]), d["source"], d["doc_id"], labels, f"{p['score']:.3f}", d["sentence"][:70])
        Console(stderr=True, width=max(120, Console().width)).print(table)
    if rejects:
        _say(f"[yellow]{len(rejects)} input records rejected[/] (reasons in {out}/rejects.jsonl), e.g.:")
        for r in rejects[:3]:
            _say(f"  {r.where()}: {r.reason}")
    _say(
        "next: in Label Studio create a project with the labeling config in label_config.xml (Settings -> Labeling "
        "Interface -> Code) and import tasks.json; or fill tasks.csv (frame, attribution, annotator). Then "
        f"'framing annotate import EXPORT.json --articles {out} --out SEEDS_DIR'"
    )


# --------------------------------------------------------------------------- import
def _annotator_map(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, sep, name = v.partition("=")
        if not sep or not key.strip() or not name.strip():
            _fail(f"--annotator-name expects ID=NAME (e.g. 2=ana@example.org), got {v!r}")
        out[key.strip()] = name.strip()
    return out


@annotate_app.command("import", epilog=IMPORT_EPILOG)
def import_(
    inputs: list[Path] = typer.Argument(
        ..., help="Label Studio JSON export(s) (Export -> JSON) and/or filled-in tasks.csv files.", show_default=False
    ),
    out: Path = typer.Option(..., "--out", help="The seeds folder to write (must be new, or --overwrite)."),
    articles: Path | None = typer.Option(
        None,
        help="The folder 'framing annotate export' wrote (articles/, articles.csv, schema.yaml) [default: the "
        "folder of the first input, if it holds articles/].",
    ),
    schema_path: Path | None = typer.Option(
        None, "--schema", help="schema.yaml the labels must belong to [default: ARTICLES/schema.yaml]."
    ),
    annotator_name: list[str] = typer.Option(
        [], help="ID=NAME: name a Label Studio user id (exports without e-mails give ids). Repeatable."
    ),
    default_annotator: str | None = typer.Option(
        None, help="Annotator of CSV rows whose 'annotator' cell is empty (a one-person spreadsheet)."
    ),
    adjudication: Path | None = typer.Option(
        None,
        help="Decisions on disagreements: lines of agreement/disagreements.jsonl with 'frame' and 'attribution' "
        "(and 'adjudicator') filled in.",
    ),
    strict: bool = typer.Option(False, help="Stop at the first label that breaks a seed rule, writing nothing."),
    overwrite: bool = typer.Option(False, help="Replace OUT whole if it already holds files."),
) -> None:
    """Import labels (Label Studio JSON export or the filled-in tasks.csv) into a seeds folder.

    Writes OUT/annotations.jsonl (seed format, exact offsets, an 'annotator' per line),
    OUT/articles/, schema.yaml, sources.csv, agreement/ (first and second annotator's labels,
    and disagreements.jsonl: sentences two annotators labelled differently, kept OUT of
    annotations.jsonl until adjudicated), import_report.json and CHECKSUMS.sha256. Written to
    a temporary folder and renamed at the end: on an error nothing is left behind.
    """
    from training.labelstudio import SCHEMA_FILE, LabelStudioError, import_annotations

    if articles is None:
        guess = inputs[0].parent if inputs else Path(".")
        if not (guess / "articles").is_dir():
            _fail(
                f"no --articles: {guess} holds no articles/ folder. Pass --articles EXPORT_DIR, the folder "
                "'framing annotate export' wrote (the texts the tasks' offsets point into)"
            )
        articles = guess
    schema_path = schema_path or articles / SCHEMA_FILE
    if not schema_path.is_file():
        _fail(f"no schema at {schema_path}; pass --schema schema.yaml (the labels the annotators used)")
    try:
        result = import_annotations(
            inputs,
            articles_dir=articles,
            schema_path=schema_path,
            out=out,
            annotator_names=_annotator_map(annotator_name),
            default_annotator=default_annotator,
            adjudication=adjudication,
            strict=strict,
            overwrite=overwrite,
        )
    except LabelStudioError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"could not write {out}: {exc}")
    _import_summary(result)
    raise typer.Exit(result.exit_code)


def _import_summary(result: Any) -> None:
    out = result.out
    _say(
        f"imported {result.n_records} sentences into {out}/annotations.jsonl from {result.n_labels} labels on "
        f"{result.n_tasks} tasks ({result.n_unlabelled} tasks unlabelled, {result.n_cancelled} skipped); "
        f"annotators: {', '.join(f'{k} ({v})' for k, v in result.annotators.items())}"
    )
    pooled = result.kappa.get("pooled")
    if pooled:
        table = Table(title=f"agreement on {result.n_double} sentences labelled by two annotators")
        for col in ("annotators", "n", "frame kappa", "frame agreement", "attribution kappa", "attribution agreement"):
            table.add_column(col)

        def k(v: Any) -> str:
            return "n/a" if v is None else f"{v:.3f}"

        for p in [*result.kappa["pairs"], {"annotators": ["all pairs pooled"], **pooled}]:
            table.add_row(
                " vs ".join(p["annotators"]),
                str(p["n"]),
                k(p["frame"]["kappa"]),
                k(p["frame"]["agreement"]),
                k(p["attribution"]["kappa"]),
                k(p["attribution"]["agreement"]),
            )
        Console(stderr=True, width=max(120, Console().width)).print(table)
    if result.disagreements:
        _say(
            f"[yellow]{len(result.disagreements)} sentences set aside for adjudication[/]: the annotators chose "
            f"different labels, so they are NOT in annotations.jsonl. Decide each: copy "
            f"{out}/agreement/disagreements.jsonl, add 'frame', 'attribution' and 'adjudicator' to each line, and "
            "run the same import with --adjudication THAT_FILE --overwrite (decisions are kept in "
            "agreement/adjudication.jsonl)"
        )
    if result.n_adjudicated:
        _say(f"{result.n_adjudicated} adjudicated sentences included")
    if result.problems:
        _say(f"[yellow]{len(result.problems)} labels left out[/] (all in {out}/import_report.json):")
        for p in result.problems[:10]:
            _say(f"  {p}")
    _say(f"next: framing data --seeds {out} && framing train --seeds {out}")


# --------------------------------------------------------------------------- curve
@annotate_app.command("curve")
def curve(
    out: Path = typer.Option(
        Path("reports/eval/active_learning.json"), help="Where to write the result (JSON; a .md beside it)."
    ),
    seeds: Path | None = typer.Option(None, "--seeds", help="Data folder (default: seeds/)."),
    models: str = typer.Option("tfidf_lr", help="Comma-separated: tfidf_lr, minilm_lr (frozen MiniLM + LR)."),
    repeats: int = typer.Option(5, min=2, help="Random held-out splits and starting sets (95% CIs across them)."),
    budgets: str = typer.Option(
        "25,50,100,200,400,800,1600", help="Numbers of labelled sentences at which the held-out split is scored."
    ),
    start: int = typer.Option(25, min=2, help="Randomly chosen sentences every strategy starts from."),
    test_share: float = typer.Option(0.25, help="Share of each camp's sources (outlets) held out for testing."),
    per_article: int = typer.Option(2, min=1, help="Spread of the uncertainty order, as in 'annotate export'."),
) -> None:
    """Does active learning pay? Macro-F1 on held-out sources against labelled sentences, uncertainty vs random."""
    from eval.active_learning import active_learning_curve, curve_markdown
    from training.annotations import AnnotationError
    from training.dataset import SeedPaths, load_corpus

    try:
        budget_list = sorted({int(b) for b in budgets.split(",") if b.strip()})
    except ValueError:
        _fail(f"--budgets must be comma-separated whole numbers, e.g. 25,50,100; got {budgets!r}")
    try:
        corpus = load_corpus(SeedPaths(seeds) if seeds else None, with_synthetic=False)
    except AnnotationError as exc:
        _fail(str(exc))
    try:
        result = active_learning_curve(
            corpus,
            models=[m.strip() for m in models.split(",") if m.strip()],
            repeats=repeats,
            budgets=budget_list,
            start=start,
            test_share=test_share,
            per_article=per_article,
            log=_say,
        )
    except ValueError as exc:
        _fail(str(exc))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    md = out.with_suffix(".md")
    md.write_text(curve_markdown(result))
    Console().print(md.read_text())
    _say(f"wrote {out} and {md} ({result['seconds']:.0f}s)")

"""The ``framing`` command: data, train, evaluate, serve.

Why one CLI: every pipeline step a user (or the Makefile, or CI) runs has one obvious
name and typed ``Path`` arguments. Heavy libraries are imported inside the commands so
``framing --help`` answers instantly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from serving.annotate_cli import annotate_app
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

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Media-framing classifier for news sources.")
app.add_typer(annotate_app, name="annotate")  # framing annotate export | import | curve (serving/annotate_cli.py)
console = Console(stderr=True)

SeedsOpt = typer.Option(None, "--seeds", help="Data folder (schema.yaml, annotations.jsonl, articles/, synthetic/).")


def redact_secrets(argv: list[str]) -> list[str]:
    """The command line as the manifest records it: an API key given as an option becomes '***'."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        if i and argv[i - 1] == "--api-key":
            out.append("***")
        elif arg.startswith("--api-key="):
            out.append("--api-key=***")
        else:
            out.append(arg)
    return out


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def _corpus(seeds: Path | None, with_synthetic: bool = True):
    from model.schema import SchemaError
    from training.annotations import AnnotationError
    from training.dataset import SeedPaths, load_corpus

    try:
        return load_corpus(SeedPaths(seeds) if seeds else None, with_synthetic=with_synthetic)
    except (AnnotationError, SchemaError) as exc:
        _fail(str(exc))


def _config(config_file: Path | None, **overrides):
    from training.config import ConfigError, TrainingConfig

    try:
        base = TrainingConfig.from_file(config_file).to_dict() if config_file else {}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return TrainingConfig.from_dict(base)
    except ConfigError as exc:
        _fail(str(exc))


@app.command()
def data(
    seeds: Path | None = SeedsOpt,
    update_checksums: bool = typer.Option(False, help="Rewrite seeds/CHECKSUMS.sha256 after editing data."),
) -> None:
    """Validate the annotations, check data checksums and print label counts per source."""
    from training.dataset import SeedPaths, compute_checksums, read_checksums, write_checksums

    paths = SeedPaths(seeds) if seeds else SeedPaths()
    corpus = _corpus(seeds)
    if update_checksums:
        console.print(f"wrote {write_checksums(paths)}")
    elif not paths.checksums.is_file():
        _fail(f"{paths.checksums} is missing; run 'framing data --update-checksums'")
    else:
        recorded, actual = read_checksums(paths), compute_checksums(paths)
        changed = sorted(k for k in set(recorded) | set(actual) if recorded.get(k) != actual.get(k))
        if changed:
            _fail(
                f"data files changed without their checksum being updated: {changed}. Review the change, then "
                "run 'framing data --update-checksums'"
            )
    schema = corpus.schema
    for title, examples, key in (
        (f"Seed sentences per source and frame ({len(corpus.seeds)} total)", corpus.seeds, "source"),
        (f"Team-written article sentences per camp ({len(corpus.articles)} total)", corpus.articles, "camp"),
    ):
        if not examples:
            continue
        table = Table(title=title)
        table.add_column(key)
        for f in schema.frame_names:
            table.add_column(f, justify="right")
        for a in schema.attribution_names:
            table.add_column(a, justify="right")
        for group in sorted({getattr(e, key) for e in examples}):
            rows = [e for e in examples if getattr(e, key) == group]
            table.add_row(
                group,
                *[str(sum(e.frame == f for e in rows)) for f in schema.frame_names],
                *[str(sum(e.attribution == a for e in rows)) for a in schema.attribution_names],
            )
        Console(width=max(120, Console().width)).print(table)
    console.print(f"folds: {corpus.plan.fold_sources}")
    console.print(
        f"synthetic: {len(corpus.synthetic)} used, {len(corpus.dropped_synthetic)} dropped as near-duplicates "
        "of seed sentences"
    )


@app.command()
def train(
    seeds: Path | None = SeedsOpt,
    config_file: Path | None = typer.Option(None, "--config", help="JSON file of TrainingConfig settings."),
    epochs: int | None = typer.Option(None, help="Override the epoch count."),
    encoder: str | None = typer.Option(None, help="'default' (bundled MiniLM) or a Hugging Face model folder."),
    synthetic: bool | None = typer.Option(None, "--synthetic/--no-synthetic", help="Train with the synthetic set."),
    synthetic_fraction: float | None = typer.Option(None, help="Use this share of the synthetic set (0-1]."),
    article_fraction: float | None = typer.Option(
        None, help="Use this share of the team-written articles (0-1], whole articles at random."
    ),
    context: bool | None = typer.Option(
        None, "--context/--no-context", help="Read each sentence with its article context (the default)."
    ),
    cv_metrics: Path | None = typer.Option(
        None,
        help="metrics.json from 'framing evaluate' to attach (and take the CV-chosen epochs from) "
        "[default: reports/eval/metrics.json for the project's own seeds; none with --seeds, whose data it "
        "did not measure].",
    ),
    export: Path | None = typer.Option(None, help="Also write a plain model folder that loads without BentoML."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not register in the BentoML store (needs --export)."),
) -> None:
    """Fine-tune on all annotated sentences and register 'framing-classifier' in the BentoML store."""
    from model.classifier import ModelLoadError
    from training.artefact import train_final
    from training.train import TrainingDataError

    if no_store and export is None:
        _fail("--no-store needs --export DIR, or the trained model would be thrown away")
    from eval.evaluate import recommended_epochs

    if cv_metrics is None and seeds is None:  # another conflict's seeds: the Karabakh evaluation does not apply
        cv_metrics = Path("reports/eval/metrics.json")

    articles_json = cv_metrics.parent / "articles.json" if cv_metrics is not None else None
    measured = json.loads(articles_json.read_text()) if articles_json is not None and articles_json.is_file() else {}
    if epochs is None and measured:
        epochs = measured["config"]["epochs"]
        console.print(f"epochs: {epochs} (as the whole-article evaluation in {articles_json} measured them)")
    if epochs is None and (epochs := recommended_epochs(cv_metrics)):
        console.print(f"epochs: {epochs} (chosen by nested cross-validation in {cv_metrics})")
    window = measured.get("context_window") if config_file is None else None
    if window is not None:
        console.print(f"context window: {window} (chosen on a held-out camp by the evaluation in {articles_json})")
    config = _config(
        config_file,
        epochs=epochs,
        context_window=window,
        encoder=encoder,
        use_synthetic=synthetic,
        synthetic_fraction=synthetic_fraction,
        article_fraction=article_fraction,
        context=context,
    )
    corpus = _corpus(seeds, with_synthetic=config.use_synthetic)
    if cv_metrics is not None and cv_metrics.is_file():
        measured_on = json.loads(cv_metrics.read_text()).get("data_fingerprint")
        if measured_on != corpus.fingerprint:
            console.print(
                f"[yellow]warning:[/] {cv_metrics} was computed on other data ({measured_on}, now "
                f"{corpus.fingerprint}); its metrics describe that data. Re-run 'framing evaluate'."
            )
    n_articles = round(len(corpus.articles) * config.article_fraction) if config.use_articles else 0
    console.print(
        f"training on {len(corpus.seeds)} seed + ~{n_articles} article + "
        f"{len(corpus.synthetic) if config.use_synthetic else 0} synthetic sentences, {config.epochs} epochs, "
        f"encoder {config.encoder}, {'with' if config.context else 'without'} context"
    )
    try:
        clf, card, metadata = train_final(corpus, config, cv_metrics=cv_metrics, progress=console.print)
    except (TrainingDataError, ModelLoadError) as exc:
        _fail(str(exc))
    console.print(f"[green]trained in {metadata['train_seconds']:.0f}s[/]")
    if export is not None:
        clf.save(export, card=card)
        console.print(f"exported to {export}")
    if not no_store:
        from model.store import save_to_store

        tag = save_to_store(clf, card=card, metadata=metadata)
        console.print(f"registered [bold]{tag}[/] in the BentoML store")


@app.command()
def evaluate(
    out: Path = typer.Option(Path("reports/eval"), help="Folder for metrics.json and summary.md."),
    seeds: Path | None = SeedsOpt,
    config_file: Path | None = typer.Option(None, "--config", help="JSON file of TrainingConfig settings."),
    epochs: int | None = typer.Option(
        None,
        help="Maximum epochs per fold (the best is chosen by inner validation); for --protocol voice the fixed "
        "epoch count, by default the one the source CV chose (OUT/metrics.json).",
    ),
    models: str = typer.Option("finetuned,majority,tfidf_lr,minilm_lr", help="Comma-separated models to run."),
    variants: str = typer.Option("seed,seed+synthetic", help="Training-data variants: seed, seed+synthetic."),
    synthetic_fraction: float | None = typer.Option(None, help="Use this share of the synthetic set (0-1]."),
    n_boot: int = typer.Option(1000, help="Bootstrap resamples for confidence intervals."),
    protocol: str = typer.Option(
        "source",
        help="'source' (leave-one-source-out on the seeds), 'voice' (leave-one-voice-out on the synthetic "
        "voices), 'both' (source and voice), or 'camp' (whole articles: leave-one-camp-out and articles -> real "
        "seed outlets, sentence-only vs context; ~90 min on 2 cores).",
    ),
    window: int | None = typer.Option(
        None, help="--protocol camp: the context window; by default chosen on --dev-camp first."
    ),
    dev_camp: str = typer.Option("INTL", help="--protocol camp: the camp held out to choose the context window."),
) -> None:
    """Leave-one-source-out (and leave-one-voice-out) evaluation of the fine-tuned model against baselines."""
    from dataclasses import replace

    from eval.evaluate import BASELINES, cross_validate, recommended_epochs, write_reports
    from training.train import TrainingDataError

    model_list = [m.strip() for m in models.split(",") if m.strip()]
    unknown = sorted(set(model_list) - {"finetuned", *BASELINES})
    if unknown:
        _fail(f"unknown model(s) {unknown}; choose from {['finetuned', *BASELINES]}")
    variant_list = [v.strip() for v in variants.split(",") if v.strip()]
    if not set(variant_list) <= {"seed", "seed+synthetic"} or not variant_list:
        _fail(f"--variants must be 'seed', 'seed+synthetic' or both, got {variants!r}")
    if protocol not in ("source", "voice", "both", "camp"):
        _fail(f"--protocol must be 'source', 'voice', 'both' or 'camp', got {protocol!r}")
    config = _config(config_file, epochs=epochs, synthetic_fraction=synthetic_fraction)
    if protocol == "camp":
        from eval.articles import articles_markdown, run_protocols

        if epochs is None and (cv_epochs := recommended_epochs(out / "metrics.json")):
            config = replace(config, epochs=cv_epochs)
            console.print(f"epochs: {cv_epochs} (chosen by nested cross-validation in {out / 'metrics.json'})")
        corpus = _corpus(seeds, with_synthetic=False)
        try:
            result = run_protocols(
                corpus,
                config,
                dev_camp=dev_camp,
                window=window,
                n_boot=n_boot,
                log=console.print,
                cache_dir=out / "articles_cache",
            )
        except (TrainingDataError, ValueError) as exc:
            _fail(str(exc))
        out.mkdir(parents=True, exist_ok=True)
        (out / "articles.json").write_text(json.dumps(result, indent=2))
        (out / "articles.md").write_text(articles_markdown(result))
        Console().print(articles_markdown(result))
        console.print(f"wrote {out / 'articles.json'} and {out / 'articles.md'} ({result['seconds']:.0f}s)")
        return
    corpus = _corpus(seeds, with_synthetic="seed+synthetic" in variant_list or protocol != "source")
    try:
        if protocol in ("source", "both"):
            metrics = cross_validate(
                corpus, config, models=model_list, variants=variant_list, n_boot=n_boot, log=console.print
            )
            mpath, spath = write_reports(metrics, out)
            Console().print(spath.read_text())
            console.print(f"wrote {mpath} and {spath}")
        if protocol in ("voice", "both"):
            from eval.voices import leave_one_voice_out, voices_markdown

            if epochs is None and (cv_epochs := recommended_epochs(out / "metrics.json")):
                config = replace(config, epochs=cv_epochs)
                console.print(
                    f"leave-one-voice-out: {cv_epochs} epochs (chosen by nested cross-validation in "
                    f"{out / 'metrics.json'})"
                )
            result = leave_one_voice_out(corpus, config, models=model_list, n_boot=n_boot, log=console.print)
            out.mkdir(parents=True, exist_ok=True)
            (out / "voices.json").write_text(json.dumps(result, indent=2))
            (out / "voices.md").write_text(voices_markdown(result))
            Console().print(voices_markdown(result))
            console.print(f"wrote {out / 'voices.json'} and {out / 'voices.md'}")
    except (TrainingDataError, ValueError) as exc:
        _fail(str(exc))


@app.command("learning-curve")
def learning_curve_cmd(
    out: Path = typer.Option(Path("reports/eval/learning_curve.json"), help="Where to write the curve (JSON)."),
    seeds: Path | None = SeedsOpt,
    config_file: Path | None = typer.Option(None, "--config", help="JSON file of TrainingConfig settings."),
    models: str = typer.Option(
        "tfidf_lr,minilm_lr", help="Comma-separated: tfidf_lr, minilm_lr, majority, finetuned (~17 min per point)."
    ),
    variants: str = typer.Option("seed,seed+synthetic", help="Training-data variants: seed, seed+synthetic."),
    fractions: str = typer.Option("0.1,0.25,0.5,0.75,1.0", help="Shares of each fold's seed training data."),
    repeats: int = typer.Option(3, help="Random subsamples per fraction below 1.0."),
) -> None:
    """Macro-F1 on held-out sources against the share of annotated seed data used (would more annotation pay?)."""
    from eval.learning_curve import learning_curve

    try:
        fraction_list = [float(f) for f in fractions.split(",") if f.strip()]
    except ValueError:
        _fail(f"--fractions must be comma-separated numbers in (0, 1], e.g. 0.1,0.5,1.0; got {fractions!r}")
    model_list = [m.strip() for m in models.split(",") if m.strip()]
    variant_list = [v.strip() for v in variants.split(",") if v.strip()]
    config = _config(config_file)
    corpus = _corpus(seeds, with_synthetic="seed+synthetic" in variant_list)
    try:
        result = learning_curve(
            corpus,
            config,
            models=model_list,
            variants=variant_list,
            fractions=fraction_list,
            repeats=repeats,
            log=console.print,
        )
    except ValueError as exc:
        _fail(str(exc))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {out} ({result['seconds']:.0f}s)")


@app.command()
def report(
    out: Path = typer.Option(Path("reports/html"), help="Folder for index.html, report.md and figures/."),
    metrics: Path = typer.Option(Path("reports/eval/metrics.json"), help="metrics.json from 'framing evaluate'."),
    voices: Path | None = typer.Option(
        Path("reports/eval/voices.json"), help="voices.json from 'framing evaluate --protocol voice' (if present)."
    ),
    curve: Path | None = typer.Option(
        Path("reports/eval/learning_curve.json"), help="learning_curve.json from 'framing learning-curve' (if present)."
    ),
    articles: Path | None = typer.Option(
        Path("reports/eval/articles.json"),
        help="articles.json from 'framing evaluate --protocol camp' (if present): the whole-article protocols.",
    ),
    scores: Path | None = typer.Option(None, help="Output folder of 'framing score' (sources.csv, sentences.*)."),
    model: str = typer.Option(
        "store", help="Model for provenance: a saved model folder, 'store' (latest in the BentoML store) or 'none'."
    ),
    seeds: Path | None = SeedsOpt,
) -> None:
    """Write a self-contained HTML report (and Markdown) of data, quality, sources, same-story pairs and errors."""
    from eval.report import Inputs, ReportError, write_report

    try:
        paths = write_report(
            out,
            Inputs(
                metrics=metrics, voices=voices, articles=articles, curve=curve, scores=scores, model=model, seeds=seeds
            ),
            log=console.print,
        )
    except ReportError as exc:
        _fail(str(exc))
    console.print(f"wrote {paths['html']} and {paths['markdown']}")


@app.command()
def serve(
    port: int = typer.Option(3000, help="Port for the HTTP service."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; 0.0.0.0 accepts other machines."),
    train_if_missing: bool = typer.Option(True, help="Train the default model first if the store has none."),
    grace: float = typer.Option(
        20.0,
        envvar="FRAMING_SHUTDOWN_GRACE_S",
        min=0,
        help="Seconds in-flight requests get to finish after SIGTERM or Ctrl-C; a second signal stops at once.",
    ),
) -> None:
    """Serve the HTTP API (BentoML) on localhost, training the default model first if needed.

    SIGTERM or Ctrl-C stops the server and all its workers (after in-flight requests finish,
    at most --grace seconds) and frees the port. FRAMING_API_KEY (or FRAMING_API_KEY_FILE)
    makes every route but the probes, the web page and /docs need 'Authorization: Bearer <key>'.
    """
    from model.store import model_in_store
    from serving.gateway import ConfigError, load_api_key
    from serving.server_process import run_foreground

    if not model_in_store():
        if not train_if_missing:
            _fail("no 'framing-classifier' in the BentoML store; run 'framing train' first")
        console.print("no trained model in the store: training the default model first")
        train(
            seeds=None,
            config_file=None,
            epochs=None,
            encoder=None,
            synthetic=None,
            synthetic_fraction=None,
            cv_metrics=Path("reports/eval/metrics.json"),
            export=None,
            no_store=False,
        )
    cmd = [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        "serving.service:FramingService",
        "--host",
        host,
        "--port",
        str(port),
    ]
    try:
        key = load_api_key()
    except ConfigError as exc:
        _fail(str(exc))
    console.print(
        f"serving on http://{host}:{port}  ({' '.join(cmd[2:])}); "
        + ("API key required" if key else "no API key: anyone who can reach the port can use it")
    )
    raise typer.Exit(run_foreground(cmd, grace_s=grace, env=os.environ.copy()))


SCORE_EPILOG = (
    "Exit codes: 0 all records scored; 1 finished, but some records were rejected (listed in OUT/rejects.jsonl); "
    "2 usage error (missing input, unknown column, bad option, OUT holds another run) or --strict and a reject; "
    "3 the run failed (model, service or disk): rerun the same command to resume; 130 interrupted: rerun to resume."
)


@app.command(epilog=SCORE_EPILOG)
def score(
    inputs: list[Path] = typer.Argument(
        ...,
        help="Folders of .txt/.html files, or .txt/.html/.jsonl/.csv/.parquet files (each optionally .gz).",
        show_default=False,
    ),
    out: Path = typer.Option(..., "--out", help="Output folder (also holds the resume checkpoint)."),
    fmt: str = typer.Option("parquet", "--format", help="sentences.parquet or sentences.csv: 'parquet' or 'csv'."),
    source: str | None = typer.Option(
        None, help="Source of every .txt article, and of table rows without a source column."
    ),
    text_col: str = TextColOpt,
    source_col: str = SourceColOpt,
    id_col: str | None = IdColOpt,
    title_col: str | None = TitleColOpt,
    date_col: str | None = DateColOpt,
    url_col: str | None = UrlColOpt,
    html_col: str | None = HtmlColOpt,
    max_html_bytes: int = typer.Option(5_000_000, help="A bigger HTML page is rejected (reason in rejects.jsonl)."),
    period: str = typer.Option("week", help="timeline.csv: slant per source and 'day', 'week' (ISO) or 'month'."),
    model: Path | None = typer.Option(
        None, help="Model folder from 'framing train --export' (default: framing-classifier:latest in the store)."
    ),
    url: str | None = typer.Option(None, help="Score with a running service (http://host:3000) instead."),
    api_key: str | None = typer.Option(
        None,
        envvar="FRAMING_API_KEY",
        show_default=False,
        help="--url: the service's API key (sent as a Bearer token; never written to outputs).",
    ),
    engine: str = typer.Option("local", help="'local' (this process) or 'ray' (Ray Data actor pool)."),
    ray_address: str | None = typer.Option(None, help="Existing Ray cluster (default: start Ray locally)."),
    replicas: int | None = typer.Option(None, help="Model replicas for --engine ray (default: CPUs / 2)."),
    batch_size: int | None = typer.Option(
        None, help="Sentences per model batch (length-bucketed) [default: the model's, 16]."
    ),
    chunk_size: int = typer.Option(64, help="Articles per checkpoint chunk."),
    strict: bool = StrictOpt,
    restart: bool = typer.Option(False, help="Discard any checkpoint or outputs in OUT and start over."),
    keep_checkpoint: bool = typer.Option(False, help="Keep OUT/.checkpoint after a successful run."),
    retries: int = typer.Option(6, help="--url: retries per request on 503/429/connection errors."),
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress", help="Progress bar (default: when stderr is a terminal)."
    ),
) -> None:
    """Score a corpus without a server: sentences, per-article shares and per-source profiles.

    Writes OUT/sentences.parquet (or .csv), articles.csv, sources.csv, timeline.csv, rejects.jsonl,
    manifest.json; for HTML inputs also extracted.csv and OUT/extracted/ (the text sentence offsets refer to).

    Malformed records go to rejects.jsonl and the run goes on.

    An interrupted run resumes from OUT/.checkpoint: run the same command again.
    """
    from rich.console import Console

    from serving.batch import EXIT_INTERRUPTED, BatchError, Columns, ScoreOptions, print_summary, run

    options = ScoreOptions(
        inputs=inputs,
        out=out,
        fmt=fmt,
        source=source,
        columns=Columns(text_col, source_col, id_col, title_col, date_col, url_col, html_col),
        model=model,
        url=url,
        api_key=api_key,
        engine=engine,
        ray_address=ray_address,
        replicas=replicas,
        batch_size=batch_size,
        chunk_size=chunk_size,
        strict=strict,
        restart=restart,
        keep_checkpoint=keep_checkpoint,
        retries=retries,
        max_html_bytes=max_html_bytes,
        period=period,
        progress=progress,
        command=redact_secrets(["framing", "score", *sys.argv[2:]] if sys.argv[1:2] == ["score"] else list(sys.argv)),
    )
    try:
        result = run(options, log=lambda msg: console.print(msg, highlight=False, soft_wrap=True))
    except BatchError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail(
            f"interrupted; finished chunks are kept in {out}/.checkpoint. Run the same command again to resume.",
            EXIT_INTERRUPTED,
        )
    print_summary(result, Console(width=max(100, Console().width)))
    raise typer.Exit(result.exit_code)


if __name__ == "__main__":
    app()

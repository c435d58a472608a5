"""The command line: a thin layer that parses arguments and calls the public API."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import NoReturn, Optional

import typer

app = typer.Typer(
    help="lookalike: train a generative model on a table, generate private synthetic look-alikes, "
    "and prove their quality with a QA report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("lookalike")


def _run(fn):
    """Run ``fn``; what the user can cause (a LookalikeError, or an OSError: a folder
    without write permission, a file system that is full or gone) becomes one line on
    stderr and exit code 1."""
    from .errors import LookalikeError

    try:
        return fn()
    except LookalikeError as exc:
        _fail(str(exc))
    except OSError as exc:
        where = f"'{exc.filename}': " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}")
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


def _fail(message: str) -> NoReturn:
    typer.echo("error: " + " ".join(message.split()), err=True)  # one line, whatever the message held
    raise typer.Exit(1)


def _load(model: Path, device: str = "auto"):
    """``lookalike.load``; a file it cannot make sense of is the user's to fix, not a crash."""
    import lookalike
    from .errors import ModelFileError

    try:
        return lookalike.load(model, device=device)
    except (lookalike.LookalikeError, OSError):
        raise
    except Exception as exc:
        raise ModelFileError(f"model file '{model}' is malformed ({exc.__class__.__name__}: {exc}); "
                             "pass a file written by `lookalike train`") from None


def _not_for_related_tables(*options: tuple[str, object, str]) -> None:
    """Refuse, in one line, each option given (``(name, value, why)``, given when the value
    is not None or empty) that a related-tables command has no use for: never ignore one."""
    given = [f"{name} does not apply to related tables: {why}" for name, value, why in options
             if value is not None and value != []]
    if given:
        from .errors import ConfigError

        raise ConfigError("; ".join(given))


def _parse_types(pairs: list[str]) -> dict[str, str]:
    from .errors import ConfigError

    out = {}
    for p in pairs:
        if "=" not in p:
            raise ConfigError(f"--type expects COLUMN=KIND (e.g. --type zip=categorical), got {p!r}")
        k, v = p.rsplit("=", 1)
        out[k] = v
    return out


def _parse_sizes(pairs: list[str]) -> dict[str, int] | None:
    from .errors import ConfigError

    out = {}
    for p in pairs:
        k, _, v = p.rpartition("=")
        if not k or not v.isdigit():
            raise ConfigError(f"--size expects TABLE=ROWS (e.g. --size users=10000), got {p!r}")
        out[k] = int(v)
    return out or None


def _json_option(text: str | None, name: str):
    import json

    from .errors import ConfigError

    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} expects JSON, e.g. '{{\"income\": {{\">50K\": 0.5}}}}' ({exc})") from None


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s", stream=sys.stderr)


@app.command()
def train(
    data: Optional[str] = typer.Argument(None, help="Training table: CSV (optionally .gz) or Parquet (or --config); or a "
                                         "database URL: postgresql://user@host:5432/db, sqlite:///file.db, duckdb:///file.duckdb."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the model file (e.g. model.lookalike)."),
    config_file: Optional[Path] = typer.Option(None, "--config", help="Related tables: a YAML/JSON schema file (tables, keys, options); "
                                               "with a database URL it overrides what the catalog says for the tables it names."),
    tables: Optional[str] = typer.Option(None, "--tables", help="Database URL: read only these tables (comma-separated, e.g. users,orders)."),
    db_schema: Optional[str] = typer.Option(None, "--schema", help="Database URL: the PostgreSQL schema (default public) or DuckDB schema (default main)."),
    max_training_time: Optional[float] = typer.Option(None, help="Stop training after this many seconds."),
    max_epochs: Optional[int] = typer.Option(None, help="Stop training after this many epochs."),
    training_size: Optional[int] = typer.Option(None, help="Train on a random subsample of this many rows."),
    holdout: Optional[Path] = typer.Option(None, help="Your own holdout table for the QA report (else 10% is kept aside)."),
    type_: list[str] = typer.Option([], "--type", help="Override a column's kind: COLUMN=numeric|categorical|datetime|boolean|key|text|exclude."),
    seed: Optional[int] = typer.Option(None, help="Seed for a reproducible run."),
    device: str = typer.Option("auto", help="auto|cpu|cuda."),
    report: bool = typer.Option(False, "--report", help="Also write the QA report next to the model (MODEL.report.html)."),
    dp_epsilon: Optional[float] = typer.Option(None, "--dp-epsilon", help="Train with differential privacy at this ε "
                                               "(e.g. 1 strong, 10 weak; needs `pip install lookalike[dp]`)."),
    dp_delta: Optional[float] = typer.Option(None, "--dp-delta", help="δ of differential privacy (default 1e-5; keep it "
                                             "well below 1/rows). Needs --dp-epsilon."),
    text_model: Optional[str] = typer.Option(None, "--text-model", help="Text columns: fine-tune this local Hugging "
                                             "Face causal language model folder (needs `pip install lookalike[text-hf]`; "
                                             "nothing is downloaded) instead of the built-in text model."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or log lines."),
    ray: bool = typer.Option(False, "--ray", help="Train on Ray (needs the `ray` extra of lookalike): one table's "
                             "model data-parallel on Ray Train workers (PyTorch DDP, each on a shard of the rows); "
                             "related tables' models in parallel as Ray tasks. The same model file."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="With --ray: the cluster to connect to "
                                              "(e.g. auto, or ray://head:10001); default: start Ray on this machine."),
    ray_workers: Optional[int] = typer.Option(None, "--ray-workers", help="With --ray, one table: this many "
                                              "data-parallel workers (default: one per CPU of the cluster, or per GPU "
                                              "with --device cuda)."),
):
    """Train a model on DATA and save it to --out."""
    _setup_logging(quiet)

    def go():
        import lookalike

        # only what the user gave: a schema file's own options (seed, device) must not be overridden by defaults
        options = dict(progress=not quiet, types=_parse_types(type_))
        if seed is not None:
            options["seed"] = seed
        if device != "auto":
            options["device"] = device
        if max_training_time is not None:
            options["max_training_time"] = max_training_time
        if max_epochs is not None:
            options["max_epochs"] = max_epochs
        if training_size is not None:
            options["max_training_rows"] = training_size
        if text_model is not None:
            options["text_model"] = text_model
        if dp_delta is not None and dp_epsilon is None:
            from .errors import ConfigError

            raise ConfigError("--dp-delta needs --dp-epsilon (e.g. --dp-epsilon 5 --dp-delta 1e-6)")
        # Ray's options go to lookalike.train beside the training options (which one trains how)
        on_ray = {k: v for k, v in (("ray", ray), ("ray_address", ray_address), ("ray_workers", ray_workers))
                  if v is not None and v is not False}
        if dp_epsilon is not None:
            options["differential_privacy"] = {"epsilon": dp_epsilon, **({"delta": dp_delta} if dp_delta is not None else {})}
        from .db import is_database_url, mask_url
        from .generator import check_model_path
        from .io import check_writable

        if is_database_url(data):  # related tables from a database's catalog (a schema file may override)
            _not_for_related_tables(("--holdout", holdout, "a share of subjects is kept aside (holdout_share)"))
            check_writable(check_model_path(out))
            include = [t.strip() for t in tables.split(",") if t.strip()] if tables is not None else None
            rg = lookalike.train(tables=data, include=include, db_schema=db_schema, overrides=config_file, **on_ray,
                                 **{k: v for k, v in options.items() if k != "types" or v})
            path = rg.save(out)
            typer.echo(f"model written to {path} (tables {', '.join(rg.tables)} from {mask_url(data)}, "
                       f"{rg.training_['seconds']:.1f}s)")
            if report:
                html = path.with_name(path.name + ".report.html")
                _echo_relational(rg.report(out=html, seed=seed or 0), html)
            return
        if tables is not None or db_schema is not None:
            from .errors import ConfigError

            raise ConfigError("--tables and --schema apply to a database URL (e.g. lookalike train sqlite:///shop.db "
                              "--tables users,orders); for files, list the tables in a --config schema file")
        if config_file is not None:  # related tables: the schema file names every table
            _not_for_related_tables(
                ("DATA", data, f"the tables come from {config_file}; leave DATA out"),
                ("--holdout", holdout, "a share of subjects is kept aside (holdout_share in the schema's options)"))
            check_writable(check_model_path(out))
            rg = lookalike.train(tables=config_file, **on_ray, **{k: v for k, v in options.items() if k != "types" or v})
            path = rg.save(out)
            typer.echo(f"model written to {path} (tables {', '.join(rg.tables)}, {rg.training_['seconds']:.1f}s)")
            if report:
                html = path.with_name(path.name + ".report.html")
                _echo_relational(rg.report(out=html, seed=seed or 0), html)
            return
        if data is None:
            from .errors import ConfigError

            raise ConfigError("pass a DATA table, or --config schema.yaml for related tables")
        from .config import make_config

        config = make_config(options)  # fail on bad options before reading data
        check_writable(check_model_path(out))
        g = lookalike.train(data, holdout=holdout, **on_ray, **config.model_dump(exclude_unset=True))
        path = g.save(out)
        t = g.training_
        dp = t.get("differential_privacy")
        typer.echo(f"model written to {path} ({t['rows']} rows, {t['epochs']} epochs, {t['seconds']:.1f}s"
                   + (f", data-parallel on {t['data_parallel']['workers']} Ray workers" if t.get("data_parallel") else "")
                   + (f", stopped early (overfitting): {', '.join(t['columns_stopped_early'])}"
                      if t.get("columns_stopped_early") else "")
                   + (f", differential privacy: ε {dp['epsilon_spent']:g} spent of {dp['epsilon']:g}, δ {dp['delta_spent']:g}"
                      if dp else "") + ")")
        if report:
            html = path.with_name(path.name + ".report.html")
            m = g.report(out=html, progress=not quiet)
            typer.echo(f"QA report written to {html} (accuracy {m.accuracy.overall:.3f})")

    _run(go)


@app.command()
def generate(
    model: Path = typer.Argument(..., help="Model file written by `lookalike train`."),
    out: str = typer.Option(..., "--out", "-o", help="Output file: .csv, .csv.gz or .parquet; related tables: a folder, "
                            ".sqlite/.duckdb file, or database URL (postgresql://…/db, sqlite:///file.db, duckdb:///file.duckdb)."),
    rows: Optional[int] = typer.Option(None, "--rows", "-n", help="Number of rows (default: as many as were trained on)."),
    seed: Optional[int] = typer.Option(None, help="Seed: same model, options and seed give the same rows."),
    temperature: float = typer.Option(1.0, help="Below 1: more typical rows; above 1: more diverse."),
    top_p: float = typer.Option(1.0, help="Sample only from the most likely values covering this share of probability."),
    seed_data: Optional[Path] = typer.Option(None, "--seed-data", help="Seed table: one output row per seed row, keeping its filled values."),
    impute: list[str] = typer.Option([], "--impute", help="Column that is never null in the output (repeatable)."),
    rebalance: Optional[str] = typer.Option(None, help='Category shares as JSON, e.g. \'{"income": {">50K": 0.5}}\'.'),
    fairness: Optional[str] = typer.Option(None, help='Statistical parity as JSON, e.g. \'{"target": "income", "sensitive": ["sex"]}\'.'),
    device: str = typer.Option("auto", help="auto|cpu|cuda."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    size: list[str] = typer.Option([], "--size", help="Related tables: subject table size TABLE=ROWS (repeatable); --out is a folder or .sqlite."),
    replace: bool = typer.Option(False, "--replace", help="Database URL --out: drop and rewrite tables of the same names already there."),
    workers: int = typer.Option(1, "--workers", "-w", help="Scaling out: draw this many shards at a time in local processes "
                                "(--out is a folder of Parquet parts); with --ray, at most this many Ray tasks at a time."),
    shard_rows: Optional[int] = typer.Option(None, "--shard-rows", help="Scaling out: rows per shard and Parquet part (default "
                                             "100000); the rows depend on the seed and this, not on the workers."),
    ray: bool = typer.Option(False, "--ray", help="Scaling out: draw the shards as Ray tasks (needs Ray: the `ray` "
                             "extra of lookalike); --out is a folder of Parquet parts."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="With --ray: the cluster to connect to "
                                              "(e.g. auto, or ray://head:10001); default: start Ray on this machine."),
):
    """Generate synthetic rows from MODEL into --out (streamed in batches; with a folder, in Parquet parts)."""
    _setup_logging(quiet)

    def go():
        from .db import is_database_url, mask_url
        from .errors import ConfigError
        from .io import check_output_path, check_writable
        from .relational.artifact import FORMAT as RELATIONAL, model_format

        to_db = is_database_url(out)
        if model_format(model) == RELATIONAL:  # related tables: a folder, a database file or a database URL
            _not_for_related_tables(
                ("--rows", rows, "set each subject table's size with --size TABLE=N (e.g. --size users=1000)"),
                ("--seed-data", seed_data, "seeded generation is for one-table models"),
                ("--impute", impute, "imputing columns is for one-table models"),
                ("--rebalance", rebalance, "rebalancing is for one-table models"),
                ("--fairness", fairness, "fairness constraints are for one-table models"))
            shards = ray or workers != 1 or shard_rows is not None or ray_address is not None
            if not to_db and not shards:  # a folder of parts is checked as they are written
                check_writable(Path(out))
            rg = _load(model, device=device)
            rg.sample(_parse_sizes(size), seed=seed, out=out if to_db else Path(out), temperature=temperature,
                      top_p=top_p, replace=replace, workers=workers, shard_rows=shard_rows, ray=ray,
                      ray_address=ray_address, progress=not quiet and shards)
            typer.echo(f"wrote {', '.join(rg.tables)} to {mask_url(out) if to_db else out}"
                       + (" (one folder of Parquet parts per table)" if shards else ""))
            return
        if to_db:
            raise ConfigError("writing to a database needs a related-tables model (train on a database or with "
                              "--config); for this one-table model write a .csv or .parquet file")
        if replace:
            raise ConfigError("--replace applies to a database URL --out")
        out_path = Path(out)
        if size:
            raise ConfigError("--size is for related-tables models; for this one-table model use --rows N")
        if rows is not None and rows < 1:
            raise ConfigError(f"--rows must be a positive number of rows, got {rows}")
        from .distributed import sharded

        if not sharded(out, workers, shard_rows, ray, ray_address):  # a folder is checked as its parts are written
            check_output_path(out_path)
        g = _load(model, device=device)
        path = g.sample(rows, seed=seed, temperature=temperature, top_p=top_p, out=out, progress=not quiet,
                        seed_data=seed_data, impute=impute or None, rebalance=_json_option(rebalance, "--rebalance"),
                        fairness=_json_option(fairness, "--fairness"), workers=workers, shard_rows=shard_rows,
                        ray=ray, ray_address=ray_address)
        typer.echo(f"wrote {path}")

    _run(go)


@app.command()
def impute(
    model: Path = typer.Argument(..., help="Model file written by `lookalike train`."),
    data: Path = typer.Argument(..., help="Table with missing values to fill (CSV or Parquet)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file: .csv, .csv.gz or .parquet."),
    column: list[str] = typer.Option([], "--column", "-c", help="Fill only this column (repeatable; default: all)."),
    seed: Optional[int] = typer.Option(None, help="Seed for reproducible draws."),
):
    """Fill the missing values of DATA, each drawn given the rest of its row."""

    def go():
        from .io import check_output_path, write_table

        check_output_path(out)
        g = _load(model)
        df = g.impute(data, columns=column or None, seed=seed)
        write_table(df, out)
        typer.echo(f"wrote {len(df)} rows to {out}")

    _run(go)


@app.command()
def report(
    model: Optional[Path] = typer.Argument(None, help="A model file: report on a fresh sample against the data it kept aside."),
    synthetic: Optional[Path] = typer.Option(None, help="Synthetic table to score (instead of MODEL)."),
    train: Optional[Path] = typer.Option(None, help="The training table (with --synthetic)."),
    holdout: Optional[Path] = typer.Option(None, help="Real rows never trained on: the reference for accuracy and privacy."),
    target: Optional[str] = typer.Option(None, help="Column to predict for the ML-utility section."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML report path."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the metrics as JSON."),
    seed: int = typer.Option(0, help="Seed for sampling and the report's random draws."),
    seed_data: Optional[Path] = typer.Option(None, "--seed-data", help="With MODEL: score seeded generation (Data QA beside Model QA)."),
    impute: list[str] = typer.Option([], "--impute", help="With MODEL: score data generated with this column imputed."),
    rebalance: Optional[str] = typer.Option(None, help="With MODEL: score rebalanced data (JSON, as for generate)."),
    attacks: bool = typer.Option(True, "--attacks/--no-attacks",
                                 help="Run the privacy attacks (singling out, linkability, inference; needs a holdout)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Write the QA report: accuracy, privacy, fake-vs-real discriminator, ML utility."""
    _setup_logging(quiet)

    def go():
        import lookalike
        from .errors import ConfigError

        if model is not None:
            if synthetic is not None:
                raise ConfigError("pass either MODEL (a fresh sample is scored) or --synthetic TABLE, not both")
            g = _load(model)
            if not isinstance(g, lookalike.Generator):  # related tables
                why = "the report scores every table against the subjects kept aside at training"
                _not_for_related_tables(*((name, value, why) for name, value in (
                    ("--train", train), ("--holdout", holdout), ("--target", target), ("--seed-data", seed_data),
                    ("--impute", impute), ("--rebalance", rebalance))))
                _echo_relational(g.report(out=out, json_out=json_out, seed=seed), out)
                return
            controls = dict(seed_data=seed_data, impute=impute or None, rebalance=_json_option(rebalance, "--rebalance"))
            m = g.report(out=out, json_out=json_out, target=target, seed=seed, progress=not quiet, holdout=holdout,
                         train=train, attacks=attacks, **{k: v for k, v in controls.items() if v is not None})
        else:
            if synthetic is None or train is None:
                raise ConfigError("pass a MODEL file, or both --synthetic and --train")
            from .qa import report as qa_report

            m = qa_report(synthetic, train, holdout=holdout, target=target, out=out, json_out=json_out,
                          seed=seed, progress=not quiet, attacks=attacks)
        typer.echo(f"QA report written to {out}: accuracy {m.accuracy.overall:.3f}"
                   + (f", DCR share {m.privacy.dcr_share:.3f}" if getattr(m.privacy, "dcr_share", None) is not None else "")
                   + (f", privacy attacks: {m.privacy.attacks.verdict} risk" if m.privacy.attacks is not None else ""))

    _run(go)


def _echo_relational(metrics: dict, out: Path) -> None:
    parts = []
    for child, entry in metrics["tables"].items():
        m = entry["synthetic"]
        parts.append(f"{child}: sequence lengths {m['sequence_lengths']:.3f}"
                     + (f", coherence {m['coherence']:.3f}" if m.get("coherence") is not None else ""))
    dangling = sum(v for d in metrics["integrity"].values() for k, v in d.items() if k.endswith(".dangling"))
    typer.echo(f"QA report written to {out}: " + "; ".join(parts) + f"; {dangling} dangling keys")


@app.command()
def demo(
    out: Path = typer.Option(Path("lookalike-demo"), "--out", "-o", help="Folder for the demo's outputs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Train briefly on the bundled Titanic table and write a synthetic CSV (and a QA report)."""
    _setup_logging(quiet)

    def go():
        from importlib.resources import files

        import lookalike

        out.mkdir(parents=True, exist_ok=True)
        src = files("lookalike") / "examples" / "titanic.csv"
        g = lookalike.train(str(src), max_training_time=20, seed=0, progress=not quiet)
        model_path = g.save(out / "titanic.lookalike")
        csv = g.sample(1309, seed=0, out=out / "titanic-synthetic.csv")
        typer.echo(f"model:          {model_path}")
        typer.echo(f"synthetic data: {csv}")
        try:
            m = g.report(out=out / "titanic-report.html", progress=not quiet)
            typer.echo(f"QA report:      {out / 'titanic-report.html'} (accuracy {m.accuracy.overall:.3f})")
        except lookalike.LookalikeError as exc:  # the report needs the `qa` extra
            typer.echo(f"QA report skipped: {exc}")

    _run(go)


@app.command()
def info(model: Path = typer.Argument(..., help="Model file.")):
    """Show a model file's columns, options and training summary."""

    def go():
        import json

        import lookalike

        g = _load(model, device="cpu")
        if isinstance(g, lookalike.Generator):
            about = {"columns": {c.name: c.kind for c in g.schema_.columns},
                     "encoding": {e.name: e.describe() for e in g.encoder_.encoders if hasattr(e, "describe")},
                     "network": {"size": g.config_.model_size, "first_layer": g.model_.first_layer}}
            if getattr(g.text_, "kind", None) == "pretrained":  # text columns written by a fine-tuned LM
                about["text_model"] = g.text_.about(g.encoder_)
            elif g.text_ is not None:  # text columns: their tokenizers and the model writing them
                m = g.text_.model
                about["text_model"] = {"columns": {c: g.encoder_.encoder(c).describe() for c in g.text_.columns},
                                       "vocab_size": m.vocab_size, "embedding": m.embed, "hidden": m.hidden,
                                       "layers": m.layers, "never_replay": sorted(g.text_.replay)}
            par = g.training_.get("data_parallel")
            about["data_parallel"] = (f"trained data-parallel with {par['workers']} workers (Ray Train, PyTorch DDP)"
                                      + (f", restarted {par['restarts']} time(s) after a worker died"
                                         if par.get("restarts") else "") if par else "no (one process)")
            dp = g.training_.get("differential_privacy")
            about["differential_privacy"] = (f"ε {dp['epsilon_spent']:g} spent (of {dp['epsilon']:g} requested), "
                                             f"δ {dp['delta_spent']:g}" if dp else "no")
        else:  # related tables: how they hang together, then each table's columns
            from dataclasses import asdict

            from .relational.layout import derived_columns

            source = g.training_.get("source")
            about = {"source": {"kind": source["kind"], "schema": source.get("schema"), "tables": list(source["tables"])}
                     if source else {"kind": "files or data frames"},
                     "tables": {name: {
                "rows": lay.rows, "primary_key": lay.primary_key,
                "belongs_to": lay.parent and f"{lay.parent} (via {lay.parent_fk})",
                "references": {r.column: r.references for r in lay.plain_refs},
                "children": lay.children, "order_by": lay.order_by,
                **({"series_grid": asdict(lay.calendar)} if lay.calendar else {}),
                "columns": {c: lay.kinds[c] for c in lay.columns},
                "derived_columns": [asdict(d) for d in derived_columns(lay)],
            } for name, lay in ((n, g.layouts_[n]) for n in g.tables)}}
        training = {k: v for k, v in g.training_.items() if k != "source"}  # the source is shown above
        typer.echo(json.dumps({**about, "training": training, "config": g.config_.model_dump(mode="json")},
                              indent=2, default=str))

    _run(go)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind; anything but localhost requires --token."),
    port: int = typer.Option(8000, help="Port."),
    data_dir: Path = typer.Option(Path("lookalike-data"), help="Where datasets, models, outputs and the SQLite state live."),
    token: Optional[str] = typer.Option(None, envvar="LOOKALIKE_TOKEN", help="API token (required beyond localhost)."),
    allow_host: list[str] = typer.Option([], help="Another host name requests may be addressed to (repeatable), "
                                                  "e.g. a reverse proxy's; localhost and --host always are."),
):
    """Start the local web app and REST API (OpenAPI docs at /docs)."""
    _setup_logging(False)

    def go():
        from .server import run

        run(host=host, port=port, data_dir=data_dir, token=token, allowed_hosts=tuple(allow_host))

    _run(go)


def main() -> None:  # pragma: no cover
    app()

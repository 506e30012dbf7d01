"""The ``factoryos`` command."""

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import RenderableType

from factoryos.cli_audit import audit_app
from factoryos.cli_console import err, out
from factoryos.cli_schedule import schedule
from factoryos.cli_security import broker_app, pki_app
from factoryos.cli_trace import trace_app
from factoryos.cli_users import users_app
from factoryos.model import SiteFileError, load_site

if TYPE_CHECKING:
    from factoryos.model import SiteFile
    from factoryos.runtime.settings import Settings

app = typer.Typer(
    help="FactoryOS: connect machines, store their data, run the factory's applications.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
site_app = typer.Typer(help="Work with site files.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (figures go to docs/benchmarks.md).", no_args_is_help=True)
app.add_typer(site_app, name="site")
connect_app = typer.Typer(
    help="Explore devices before adding them to a site file.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")
app.add_typer(connect_app, name="connect")
db_app = typer.Typer(help="The metadata catalog's database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(pki_app, name="pki")
app.add_typer(broker_app, name="broker")
app.add_typer(audit_app, name="audit")
app.add_typer(users_app, name="users")
app.command("schedule")(schedule)
app.add_typer(trace_app, name="trace")


DEMO_SITE = Path(__file__).parent / "sim" / "sites" / "demo.yaml"
DEMO_APPS = DEMO_SITE.with_name("demo-apps.yaml")

SiteOption = Annotated[
    Path, typer.Option("--site", help="Site file (YAML).", exists=False, dir_okay=False)
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the catalog and time series live [FACTORYOS_DATA_DIR]."),
]


UnsBrokerOption = Annotated[
    str | None,
    typer.Option(help="Publish every tag to its UNS topic on this broker, mqtt://host:1883 "
                 "[FACTORYOS_UNS_BROKER]."),
]  # fmt: skip


def _log_to_stderr() -> None:
    """Log INFO and up to stderr, for the long-running services (``edge``, ``ingest``):
    their start-up, connection and bad-input lines are how an operator sees them work."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _load_site_or_exit(path: Path) -> "SiteFile":
    try:
        return load_site(path)
    except SiteFileError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc


@site_app.command("validate")
def site_validate(
    files: Annotated[list[Path], typer.Argument(help="Site files to check.")],
) -> None:
    """Check site files; print every problem with its file, line and field."""
    failed = 0
    for path in files:
        try:
            site = load_site(path)
        except SiteFileError as exc:
            failed += 1
            err.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
            continue
        tags = sum(1 for _ in site.tags())
        equipment = sum(1 for _ in site.equipment())
        out.print(
            f"[green]ok[/green] {path}: site {site.site.name}, {equipment} equipment, "
            f"{tags} tags, {len(site.devices)} devices"
        )
    if failed:
        raise typer.Exit(1)


@site_app.command("schema")
def site_schema() -> None:
    """Print the JSON schema of a site file (for editor completion)."""
    from factoryos.model.site import dump_schema

    sys.stdout.write(json.dumps(dump_schema(), indent=2) + "\n")


def _emit(result: Any, as_json: bool, table: Callable[[Any], RenderableType]) -> None:
    """A benchmark's result: one JSON object, or its table for a person."""
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        out.print(table(result))


@bench_app.command("ingest")
def bench_ingest(
    points: Annotated[int, typer.Option(help="Samples to ingest.", min=1000)] = 10_000_000,
    tags: Annotated[int, typer.Option(help="Distinct tags in the data.", min=1)] = 1000,
    rounds: Annotated[
        int, typer.Option(help="Alternating runs of each path; medians count.", min=1)
    ] = 3,
    backend: Annotated[
        str, typer.Option(help="duckdb (embedded) or postgres (server).")
    ] = "duckdb",
    url: Annotated[
        str, typer.Option(help="PostgreSQL to measure (its own schemas, dropped after).")
    ] = "postgresql://postgres@127.0.0.1:5432/test",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Points per second through the real ingest path, next to the backend's limit (a raw
    DuckDB Arrow append; for PostgreSQL a binary COPY, and a row-by-row INSERT baseline)."""
    from rich.table import Table

    table: Table
    if backend == "postgres":
        from factoryos.bench.ingest_pg import (
            format_postgres_ingest_table,
            run_postgres_ingest_bench,
        )

        result = run_postgres_ingest_bench(points, url, tags, progress=not as_json)
        table = format_postgres_ingest_table(result)
    elif backend == "duckdb":
        from factoryos.bench.ingest import format_ingest_table, run_ingest_bench

        result = run_ingest_bench(points=points, tags=tags, rounds=rounds, progress=not as_json)
        table = format_ingest_table(result)
    else:
        err.print(f"[red]--backend: {backend!r} is not duckdb or postgres[/red]")
        raise typer.Exit(2)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        out.print(table)


def _settings() -> "Settings":
    from factoryos.runtime.settings import Settings

    return Settings()


def _launch(
    site_path: Path,
    data_dir: Path | None,
    host: str | None,
    port: int | None,
    *,
    simulate: bool,
    seed: int,
    feeds: dict[str, str | None],
    apps_file: Path | None = None,
    history_hours: float = 0.0,
) -> None:
    import asyncio

    from rich.panel import Panel

    from factoryos.runtime.launch import LaunchError, check_port_free, run_platform
    from factoryos.runtime.secret_key import SecretKeyError

    settings = _settings().model_copy(update={k: v for k, v in feeds.items() if v is not None})
    site = _load_site_or_exit(site_path)
    host = host or settings.host
    port = port or settings.port
    data = data_dir or settings.data_dir
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    try:
        secret = settings.token_secret(server=not simulate)
    except SecretKeyError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    tls = settings.server_tls()
    url = f"{'https' if tls else 'http'}://{host}:{port}"
    try:
        check_port_free(host, port)
    except LaunchError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    status = err.status("starting FactoryOS")
    status.start()

    def step(text: str) -> None:
        status.update(text)
        err.print(f"[dim]•[/dim] {text}")

    def ready(key: str) -> None:
        status.stop()
        out.print(
            Panel.fit(
                f"web page   [bold]{url}/[/bold]\nAPI docs   {url}/docs\n"
                f"admin key  [bold yellow]{key}[/bold yellow]\n"
                f"           (also in {data / 'admin.key'})\n\nCtrl-C stops.",
                title=f"FactoryOS — site {site.site.name}",
            )
        )

    try:
        asyncio.run(
            run_platform(
                site,
                data,
                host,
                port,
                simulate=simulate,
                seed=seed,
                step=step,
                on_ready=ready,
                feeds=settings.feeds(),
                store_url=settings.store,
                retention_every_s=settings.retention_every_s,
                tls=tls,
                token_secret=secret,
                apps_file=apps_file or settings.apps_file,
                history_hours=history_hours,
            )
        )
    finally:
        status.stop()
    err.print("stopped; data kept in " + str(data))


@app.command()
def demo(
    site: Annotated[Path, typer.Option("--site", help="Site file to simulate.")] = DEMO_SITE,
    data_dir: DataDirOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address [FACTORYOS_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [FACTORYOS_PORT].")] = None,
    seed: Annotated[int, typer.Option(help="Simulator random seed.")] = 0,
    uns_broker: UnsBrokerOption = None,
    apps: Annotated[
        Path | None,
        typer.Option(
            "--apps", help="Apps file (alarms …); default: the demo's, for the demo site."
        ),
    ] = None,
    history_hours: Annotated[
        float,
        typer.Option(
            "--history-hours",
            min=0,
            max=24 * 31,
            help="Simulated hours stored before going live, on a new data directory only.",
        ),
    ] = 48.0,
) -> None:
    """Run the virtual factory, its Modbus drivers, the store, the API and the web page."""
    apps = apps or (DEMO_APPS if site == DEMO_SITE else None)
    feeds: dict[str, str | None] = {"uns_broker": uns_broker}
    _launch(
        site,
        data_dir,
        host,
        port,
        simulate=True,
        seed=seed,
        feeds=feeds,
        apps_file=apps,
        history_hours=history_hours,
    )


@app.command()
def serve(
    site: SiteOption,
    data_dir: DataDirOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address [FACTORYOS_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [FACTORYOS_PORT].")] = None,
    store: Annotated[
        str | None,
        typer.Option(help="Time series in PostgreSQL: postgresql://… [FACTORYOS_STORE]."),
    ] = None,
    nats_url: Annotated[
        str | None,
        typer.Option(help="Ingest edge gateways from this NATS JetStream [FACTORYOS_NATS_URL]."),
    ] = None,
    nats_stream: Annotated[
        str | None, typer.Option(help="Their stream [FACTORYOS_NATS_STREAM].")
    ] = None,
    sparkplug_broker: Annotated[
        str | None,
        typer.Option(
            help="Ingest Sparkplug B gateways from this broker [FACTORYOS_SPARKPLUG_BROKER]."
        ),
    ] = None,
    sparkplug_group: Annotated[
        str | None, typer.Option(help="Their group id [FACTORYOS_SPARKPLUG_GROUP].")
    ] = None,
    uns_broker: UnsBrokerOption = None,
    uns_prefix: Annotated[
        str | None, typer.Option(help="Topic prefix of the UNS [FACTORYOS_UNS_PREFIX].")
    ] = None,
    apps: Annotated[
        Path | None,
        typer.Option("--apps", help="Apps file: alarms … (YAML) [FACTORYOS_APPS_FILE]."),
    ] = None,
) -> None:
    """Poll the site's devices and gateways, store their data, serve the API and web page."""
    feeds = {
        "store": store,
        "nats_url": nats_url,
        "nats_stream": nats_stream,
        "sparkplug_broker": sparkplug_broker,
        "sparkplug_group": sparkplug_group,
        "uns_broker": uns_broker,
        "uns_prefix": uns_prefix,
    }
    _launch(site, data_dir, host, port, simulate=False, seed=0, feeds=feeds, apps_file=apps)


@app.command()
def simulate(
    site: SiteOption,
    hours: Annotated[float, typer.Option(help="Simulated hours of history.", min=0)] = 8.0,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same plant.")] = 0,
    data_dir: DataDirOption = None,
    realtime: Annotated[
        bool,
        typer.Option("--realtime", help="Serve the devices over Modbus TCP in real time instead."),
    ] = False,
) -> None:
    """Run the virtual factory: fast into the store (history + ground truth), or in real time."""
    import asyncio

    from factoryos.runtime.simulate import run_fast, run_realtime

    loaded = _load_site_or_exit(site)
    if realtime:
        asyncio.run(run_realtime(loaded, seed, out))
        return
    run_fast(loaded, seed, hours, data_dir or _settings().data_dir, out)


@app.command()
def query(
    tag: Annotated[
        str, typer.Argument(help="Tag path, e.g. demo/machining/line1/cell1/cnc-01/power_kw.")
    ],
    start: Annotated[str, typer.Option(help="ISO 8601 time, 'now' or relative ('-1h').")] = "-1h",
    end: Annotated[str, typer.Option(help="ISO 8601 time, 'now' or relative.")] = "now",
    every: Annotated[
        str | None, typer.Option(help="Bucket size (10s, 1m, 1h, 1d); raw samples when omitted.")
    ] = None,
    agg: Annotated[
        list[str] | None,
        typer.Option(
            help="Aggregate per bucket: min, max, avg, sum, first, last, count. Repeatable."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Most raw samples.", min=1)] = 1000,
    url: Annotated[str | None, typer.Option(help="FactoryOS API [FACTORYOS_URL].")] = None,
    key: Annotated[
        str | None, typer.Option(help="API key [FACTORYOS_API_KEY]; default: DATA_DIR/admin.key.")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print a tag's history from a running FactoryOS as a table."""
    from factoryos.runtime.query import ClientQueryError, fetch, history_params, history_table

    settings = _settings()
    api_key = key or settings.api_key or _read_key(data_dir or settings.data_dir)
    try:
        path, params = history_params(tag, start, end, every, agg or [], limit)
        body = fetch(url or settings.url, api_key, path, params)
    except ClientQueryError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    out.print(history_table(body))


@app.command()
def export(
    tags: Annotated[list[str], typer.Argument(help="Tag paths to export (up to 1000).")],
    out_file: Annotated[Path, typer.Option("--out", help="File to write.")],
    start: Annotated[str, typer.Option(help="ISO 8601 time, 'now' or relative ('-30d').")] = "-1d",
    end: Annotated[str, typer.Option(help="ISO 8601 time, 'now' or relative.")] = "now",
    fmt: Annotated[
        str, typer.Option("--format", help="csv or parquet (default: from --out's suffix).")
    ] = "",
    url: Annotated[str | None, typer.Option(help="FactoryOS API [FACTORYOS_URL].")] = None,
    key: Annotated[str | None, typer.Option(help="API key [FACTORYOS_API_KEY].")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Export raw history of many tags as CSV or Parquet, streamed to a file."""
    from rich.progress import DownloadColumn, Progress, SpinnerColumn, TextColumn

    from factoryos.runtime.query import ClientQueryError, download, time_span

    settings = _settings()
    api_key = key or settings.api_key or _read_key(data_dir or settings.data_dir)
    chosen = fmt or ("parquet" if out_file.suffix == ".parquet" else "csv")
    try:
        params = {"tag": tags, **time_span(start, end), "format": chosen}
        columns = (SpinnerColumn(), TextColumn("{task.description}"), DownloadColumn())
        with Progress(*columns, console=err) as progress:
            size = download(url or settings.url, api_key, params, out_file, progress)
    except ClientQueryError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    out.print(f"{size:,} bytes of {chosen} written to {out_file}")


def _read_key(data_dir: Path) -> str:
    key_file = data_dir / "admin.key"
    try:
        return key_file.read_text().strip()
    except OSError as exc:
        err.print(
            f"[red]no API key: pass --key, set FACTORYOS_API_KEY, or run the demo "
            f"so that {key_file} exists[/red]"
        )
        raise typer.Exit(2) from exc


@bench_app.command("query")
def bench_query(
    backend: Annotated[str, typer.Option(help="duckdb or postgres.")] = "duckdb",
    points: Annotated[int, typer.Option(help="Samples stored before timing.", min=1)] = (
        100_000_000
    ),
    url: Annotated[str, typer.Option(help="PostgreSQL (a schema of its own, dropped after).")] = (
        "postgresql://postgres@127.0.0.1:5432/test"
    ),
    repeats: Annotated[int, typer.Option(help="Timed calls per query.", min=10)] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Query latency p50/p99: last value of 100,000 tags; one tag's day bucketed to 1 min;
    one tag's 30 days bucketed to 1 h (rollups)."""
    from factoryos.bench.query import format_query_table, run_query_bench

    result = run_query_bench(backend, points=points, url=url, repeats=repeats, progress=not as_json)
    _emit(result, as_json, format_query_table)


@bench_app.command("alarms")
def bench_alarms(
    rules: Annotated[int, typer.Option(help="High-limit rules, one per tag.", min=1)] = 1000,
    rate: Annotated[float, typer.Option(help="Offered samples per second.", min=1)] = 50_000.0,
    seconds: Annotated[float, typer.Option(help="Publish this long.", min=1)] = 20.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Alarm latency from the live stream: sample published → event handed to notifications
    (p50/p99/max, share within the 1 s limit), with the platform's alarm processor."""
    from factoryos.bench.alarms import format_alarm_table, run_alarm_bench

    result = run_alarm_bench(rules, rate, seconds, progress=not as_json)
    _emit(result, as_json, format_alarm_table)


@bench_app.command("cmapss")
def bench_cmapss(
    data: Annotated[Path, typer.Option(help="Folder of train_/test_/RUL_FD00X, .txt or .txt.gz.")],
    subset: Annotated[str, typer.Option(help="FD001 … FD004.")] = "FD001",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Remaining useful life on NASA C-MAPSS, the standard protocol: train on train_FD00X,
    score the last cycle of each test unit against RUL_FD00X (RMSE, PHM08 score)."""
    from factoryos.bench.cmapss import format_cmapss_table, run_cmapss

    result = run_cmapss(data, subset, progress=not as_json)
    _emit(result, as_json, format_cmapss_table)


@bench_app.command("skab")
def bench_skab(
    data: Annotated[Path, typer.Option(help="SKAB data folder (all but anomaly-free is scored).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Anomaly detection on SKAB, the outlier protocol: fit on each file's first 400 rows,
    detect on the rest; point-wise F1, FAR and MAR over all scored rows together."""
    from factoryos.bench.skab import format_skab_table, run_skab

    result = run_skab(data, progress=not as_json)
    _emit(result, as_json, format_skab_table)


def _bench_schedule(
    data: Path,
    instances: str | None,
    time_limit: float,
    workers: int,
    as_json: bool,
    flexible: bool,
) -> None:
    from factoryos.bench.jsp import expand, format_table, run_bench

    names = expand(instances) if instances else None
    results = run_bench(
        data, names, flexible=flexible, time_limit=time_limit, workers=workers, progress=not as_json
    )
    title = f"factoryos bench {'fjsp' if flexible else 'jsp'} ({time_limit:g} s, {workers} workers)"
    _emit(results, as_json, lambda r: format_table(r, title))


InstancesOption = Annotated[
    str | None, typer.Option(help="Names or ranges, e.g. ft06,la01-la20 (default: all).")
]
TimeLimitOption = Annotated[float, typer.Option(help="Solver time per instance, s.", min=0.1)]
WorkersOption = Annotated[int, typer.Option(help="CP-SAT search workers (threads).", min=1)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON list.")]


@bench_app.command("jsp")
def bench_jsp(
    data: Annotated[Path, typer.Option(help="JSPLIB folder: instances.json and instances/.")],
    instances: InstancesOption = None,
    time_limit: TimeLimitOption = 10.0,
    workers: WorkersOption = 2,
    as_json: JsonOption = False,
) -> None:
    """Job-shop makespan on JSPLIB instances: CP-SAT and the best dispatching rule against
    the best-known makespan (gap in %)."""
    _bench_schedule(data, instances, time_limit, workers, as_json, flexible=False)


@bench_app.command("fjsp")
def bench_fjsp(
    data: Annotated[Path, typer.Option(help="Brandimarte folder: instances.json and instances/.")],
    instances: InstancesOption = None,
    time_limit: TimeLimitOption = 60.0,
    workers: WorkersOption = 2,
    as_json: JsonOption = False,
) -> None:
    """Flexible job-shop makespan on the Brandimarte instances: CP-SAT and the best
    dispatching rule against the best-known makespan (gap in %)."""
    _bench_schedule(data, instances, time_limit, workers, as_json, flexible=True)


@bench_app.command("maintenance-sim")
def bench_maintenance_sim(
    weeks: Annotated[int, typer.Option(help="Simulated weeks with injected faults.", min=1)] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the simulator and the fault plan.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Anomaly warnings on the virtual factory: lead time before each injected failure and
    false alarms per machine-week, with the platform's live anomaly path."""
    from factoryos.bench.maintenance_sim import format_sim_table, run_sim_bench

    result = run_sim_bench(weeks, seed, progress=not as_json)
    _emit(result, as_json, format_sim_table)


@bench_app.command("e2e")
def bench_e2e(
    seconds: Annotated[float, typer.Option(help="Sustain the load this long.", min=5)] = 60.0,
    rate: Annotated[float, typer.Option(help="Offered points per second.", min=1)] = 250_000.0,
    tags: Annotated[
        int, typer.Option(help="Tags per poll of the synthetic driver.", min=1)
    ] = 10_000,
    broker: Annotated[str, typer.Option(help="MQTT broker between edge and platform.")] = (
        "mqtt://127.0.0.1:1883"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Edge gateway → Mosquitto (Sparkplug B) → platform → store: sustained points per
    second, latency from sample time to queryable, and lost or duplicated samples."""
    from factoryos.bench.e2e import format_e2e_table, run_e2e_bench

    result = run_e2e_bench(seconds, rate, tags, broker, progress=not as_json)
    _emit(result, as_json, format_e2e_table)


@bench_app.command("resolve")
def bench_resolve(
    identifiers: Annotated[int, typer.Option(help="Identifiers registered.", min=100)] = 100_000,
    seconds: Annotated[float, typer.Option(help="Each measurement this long.", min=0.1)] = 10.0,
    catalog_url: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL for the catalog (a schema of its own, dropped after); "
            "default: SQLite in a temporary folder."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Identifier resolutions per second and p99 latency: the resolver itself (cache and
    catalog, a hot/cold/missing mix) and end to end through the HTTP API."""
    from factoryos.bench.resolve import format_resolve_table, run_resolve_bench

    result = run_resolve_bench(identifiers, seconds, catalog_url=catalog_url, progress=not as_json)
    _emit(result, as_json, format_resolve_table)


@bench_app.command("trace")
def bench_trace(
    events: Annotated[int, typer.Option(help="EPCIS events stored before timing.", min=10_000)] = (
        10_000_000
    ),
    catalog_url: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL for the catalog (a schema of its own, dropped after) or a new "
            "SQLite file (removed after); default: SQLite in a temporary folder."
        ),
    ] = None,
    traces: Annotated[int, typer.Option(help="Timed traces in each direction.", min=1)] = 200,
    depth: Annotated[int, typer.Option(help="Levels each trace follows.", min=1, max=100)] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the generated supply chain.")] = 20260101,
    reindex: Annotated[
        bool,
        typer.Option(
            help="Rebuild the genealogy indexes after the load (`factoryos trace reindex`, as "
            "advised after a large import); --no-reindex times them as loaded."
        ),
    ] = True,
    drop_page_cache: Annotated[
        bool,
        typer.Option(
            help="Drop the kernel's page cache before the traces (Linux, as root, the "
            "database on this machine): pages are read from disk, not left from the rebuild."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Genealogy latency p50/p99: backward traces from pallets and forward traces from raw
    material lots, through aggregations and transformations, over a generated repository."""
    from factoryos.bench.trace import format_trace_table, run_trace_bench

    result = run_trace_bench(
        events, catalog_url, traces, depth, seed=seed, reindex=reindex,
        drop_page_cache=drop_page_cache, progress=not as_json,
    )  # fmt: skip
    _emit(result, as_json, format_trace_table)


CatalogUrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Catalog database URL; default: DATA_DIR/catalog.sqlite."),
]


def _catalog_url(url: str | None, data_dir: Path | None) -> str:
    if url is not None:
        return url
    directory = data_dir or _settings().data_dir
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'catalog.sqlite'}"


@db_app.command("upgrade")
def db_upgrade(
    url: CatalogUrlOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    data_dir: DataDirOption = None,
) -> None:
    """Apply the catalog's migrations (SQLite or PostgreSQL); safe to run again."""
    from factoryos.store.migrate import current, upgrade

    target = _catalog_url(url, data_dir)
    upgrade(target, revision)
    out.print(f"catalog at revision {current(target)}")


@db_app.command("current")
def db_current(url: CatalogUrlOption = None, data_dir: DataDirOption = None) -> None:
    """Print the catalog's revision and the newest one this FactoryOS knows."""
    from factoryos.store.migrate import current, head

    out.print(f"current {current(_catalog_url(url, data_dir)) or '(none)'}, newest {head()}")


@app.command()
def ingest(
    site: SiteOption,
    store: Annotated[
        str, typer.Option(help="postgresql://…[?schema=…] (shared by workers) or a DuckDB file.")
    ],
    catalog: Annotated[str, typer.Option(help="Catalog database URL.")],
    nats_url: Annotated[str, typer.Option(help="NATS JetStream server.")] = "nats://127.0.0.1:4222",
    stream: Annotated[str, typer.Option(help="Stream the gateways publish to.")] = (
        "FACTORYOS_INGEST"
    ),
    durable: Annotated[str, typer.Option(help="Shared consumer: the queue group.")] = (
        "ingest-workers"
    ),
    batch: Annotated[int, typer.Option(help="Messages per fetch.", min=1)] = 256,
    ack_wait: Annotated[
        float, typer.Option(help="Seconds before a dead worker's fetch is redelivered.", min=1)
    ] = 30.0,
    metrics_port: Annotated[int | None, typer.Option(help="Serve /metrics on this port.")] = None,
) -> None:
    """A stateless ingest worker: consume gateways' batches from JetStream as one of a queue
    group, store them idempotently, ack only what is stored. Start as many as you need."""
    from factoryos.runtime.worker import WorkerSettings, serve

    settings = WorkerSettings(batch=batch, ack_wait_s=ack_wait, metrics_port=metrics_port)
    _log_to_stderr()
    serve(
        nats_url, stream, site_file=site, store_url_or_path=store, catalog_url=catalog,
        durable=durable, settings=settings,
    )  # fmt: skip


@connect_app.command("browse")
def connect_browse(
    endpoint: Annotated[str, typer.Argument(help="OPC UA endpoint, opc.tcp://host:4840/path.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the YAML here instead of stdout.")
    ] = None,
    root: Annotated[
        str | None, typer.Option(help="Start at this node id (default Objects).")
    ] = None,
    depth: Annotated[int, typer.Option(help="Deepest level to walk.", min=1, max=50)] = 10,
    name: Annotated[str, typer.Option(help="Device name in the YAML.")] = "opcua-server",
    site: Annotated[
        Path | None, typer.Option(help="Site file with the device's security settings.")
    ] = None,
    device: Annotated[str | None, typer.Option(help="That device's name in --site.")] = None,
) -> None:
    """Browse an OPC UA server and write the site-file tag map of its variables (YAML)."""
    import asyncio

    from factoryos.connect.opcua_browse import browse, browse_to_yaml
    from factoryos.model.devices import OpcUaDevice

    secured: OpcUaDevice | None = None
    if (site is None) != (device is None):
        err.print("[red]--site and --device go together[/red]")
        raise typer.Exit(2)
    if site is not None and device is not None:
        found = _load_site_or_exit(site).device(device)
        if not isinstance(found, OpcUaDevice):
            err.print(f"[red]{site}: device {device} is not an OPC UA device[/red]")
            raise typer.Exit(2)
        secured = found
    variables = asyncio.run(
        browse(None if secured else endpoint, device=secured, root=root, max_depth=depth)
    )
    text = browse_to_yaml(variables, name, endpoint)
    if out_file is None:
        sys.stdout.write(text)
    else:
        out_file.write_text(text)
        err.print(f"{len(variables)} variables written to {out_file}")


@app.command()
def edge(
    config: Annotated[Path, typer.Option("--config", help="Gateway config file (YAML).")],
) -> None:
    """Run an edge gateway: poll the devices next to the machines, keep every sample in a
    durable outbox, and forward it to the platform."""
    from factoryos.edge import main as run_gateway

    _log_to_stderr()
    run_gateway(str(config))


def main() -> None:
    """Entry point: FactoryOS errors print as one clear message, not a traceback."""
    from factoryos.errors import FactoryOSError

    try:
        app()
    except FactoryOSError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)

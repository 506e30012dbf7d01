"""The ``factoryos`` command."""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

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
app.add_typer(bench_app, name="bench")

out = Console()
err = Console(stderr=True)

DEMO_SITE = Path(__file__).parent / "sim" / "sites" / "demo.yaml"

SiteOption = Annotated[
    Path, typer.Option("--site", help="Site file (YAML).", exists=False, dir_okay=False)
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the catalog and time series live [FACTORYOS_DATA_DIR]."),
]


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


@bench_app.command("ingest")
def bench_ingest(
    points: Annotated[int, typer.Option(help="Samples to ingest.", min=1000)] = 10_000_000,
    tags: Annotated[int, typer.Option(help="Distinct tags in the data.", min=1)] = 1000,
    rounds: Annotated[
        int, typer.Option(help="Alternating runs of each path; medians count.", min=1)
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Points per second through the real ingest path, next to a raw DuckDB Arrow append."""
    from factoryos.bench.ingest import format_ingest_table, run_ingest_bench

    result = run_ingest_bench(points=points, tags=tags, rounds=rounds, progress=not as_json)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        out.print(format_ingest_table(result))


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
) -> None:
    import asyncio

    from rich.panel import Panel

    from factoryos.runtime.launch import LaunchError, check_port_free, run_platform

    settings = _settings()
    site = _load_site_or_exit(site_path)
    host = host or settings.host
    port = port or settings.port
    data = data_dir or settings.data_dir
    url = f"http://{host}:{port}"
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
                site, data, host, port, simulate=simulate, seed=seed, step=step, on_ready=ready
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
) -> None:
    """Run the virtual factory, its Modbus drivers, the store, the API and the web page."""
    _launch(site, data_dir, host, port, simulate=True, seed=seed)


@app.command()
def serve(
    site: SiteOption,
    data_dir: DataDirOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address [FACTORYOS_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [FACTORYOS_PORT].")] = None,
) -> None:
    """Poll the site's real devices, store their data and serve the API and web page."""
    _launch(site, data_dir, host, port, simulate=False, seed=0)


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


def main() -> None:
    """Entry point: FactoryOS errors print as one clear message, not a traceback."""
    from factoryos.errors import FactoryOSError

    try:
        app()
    except FactoryOSError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)

"""`marquee`: the operator's command line — serve, inspect plugins, run them, check plugins.

Commands that talk to a running base service take `--url` (env MARQUEE_URL, default
http://127.0.0.1:8080); admin commands take `--token` (env ADMIN_TOKEN).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    help="Marquee: gather the events of many venues from plugin services.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
Url = Annotated[
    str, typer.Option("--url", envvar="MARQUEE_URL", help="The base service's address.")
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="ADMIN_TOKEN", help="The admin token.", show_default=False),
]
_STATE_STYLE = {
    "ok": "green",
    "failing": "red",
    "unreachable": "red",
    "rate_limited": "yellow",
    "incompatible": "magenta",
    "pending": "blue",
}
DEFAULT_URL = "http://127.0.0.1:8080"


def _client(url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


def _fail(response: httpx.Response) -> None:
    """Exit with the problem document's explanation if the request failed."""
    if response.is_success:
        return
    try:
        detail = response.json().get("detail") or response.reason_phrase
    except ValueError:
        detail = response.text[:200]
    console.print(f"[red]error {response.status_code}:[/red] {escape(str(detail))}")
    raise typer.Exit(1)


def _age(value: str | None) -> str:
    if not value:
        return "-"
    seconds = (datetime.now(UTC) - datetime.fromisoformat(value)).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{int(seconds // size)}{unit}"
            break
    else:
        text = f"{int(seconds)}s"
    return f"in {text}" if future else f"{text} ago"


@app.command()
def serve() -> None:
    """Run the base service (the same as `python -m base_service`)."""
    from base_service.__main__ import main

    raise typer.Exit(main())


@app.command()
def plugins(url: Url = DEFAULT_URL) -> None:
    """Show every plugin's state, last run and next run."""
    with _client(url) as client:
        response = client.get("/v1/plugins")
    _fail(response)
    table = Table("plugin", "state", "last run", "counts f/i/u/r/q", "next run", "last error")
    for item in response.json()["items"]:
        run = item["last_run"] or {}
        counts = run.get("counts") or {}
        numbers = "/".join(
            str(counts.get(k, "-"))
            for k in ("fetched", "inserted", "updated", "removed", "quarantined")
        )
        state = item["state"] + (" (running)" if item["running"] else "")
        style = _STATE_STYLE.get(item["state"], "")
        table.add_row(
            escape(item["plugin_id"]),
            f"[{style}]{state}[/{style}]" if style else state,
            f"{run.get('outcome', '-')} {_age(run.get('finished_at'))}",
            numbers,
            _age(item["next_run_at"]),
            escape((item["last_error"] or "")[:60]),
        )
    console.print(table)


@app.command()
def run(
    plugin: Annotated[str, typer.Argument(help="The plugin's name in PLUGIN_URLS.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; apply nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Apply even what the snapshot guards hold back.")
    ] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the run.")] = 600,
) -> None:
    """Run a plugin now and wait for the outcome (or preview it with --dry-run)."""
    with _client(url, token) as client:
        if dry_run:
            with console.status(f"dry run of {plugin}: fetching and validating…"):
                response = client.post(f"/v1/plugins/{plugin}/dry-run", timeout=timeout)
            _fail(response)
            _print_run(response.json(), "would")
            raise typer.Exit(0 if response.json()["outcome"] == "dry_run" else 1)
        before = client.get(f"/v1/plugins/{plugin}")
        _fail(before)
        previous = (before.json()["last_run"] or {}).get("run_id", 0)
        _fail(client.post(f"/v1/plugins/{plugin}/runs", params={"force": force} if force else {}))
        finished = _wait_for_run(client, plugin, previous, timeout)
    _print_run(finished, "")
    raise typer.Exit(0 if finished["outcome"] == "success" else 1)


def _wait_for_run(
    client: httpx.Client, plugin: str, previous: int, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with console.status(f"running {plugin}…") as status:
        while time.monotonic() < deadline:
            runs = client.get(f"/v1/plugins/{plugin}/runs", params={"limit": 5})
            _fail(runs)
            newer = [r for r in runs.json()["items"] if r["run_id"] > previous]
            if newer:
                latest = min(newer, key=lambda r: r["run_id"])
                if latest["outcome"] != "running":
                    return dict(latest)
                status.update(f"running {plugin}: run {latest['run_id']} in progress…")
            time.sleep(0.5)
    console.print(f"[red]no finished run of {plugin} within {timeout:g}s[/red]")
    raise typer.Exit(1)


def _print_run(run: dict[str, Any], verb: str) -> None:
    counts = run["counts"]
    prefix = f"{verb} " if verb else ""
    console.print(
        f"{run['outcome']}: fetched {counts['fetched']}, {prefix}insert {counts['inserted']}, "
        f"{prefix}update {counts['updated']}, {prefix}remove {counts['removed']}, "
        f"quarantined {counts['quarantined']}"
    )
    for record in run.get("quarantine", [])[:10]:
        console.print(
            f"  quarantined {escape(str(record['event_id']))}: {escape(record['reason'])}"
        )
    if run.get("error"):
        console.print(f"[red]{escape(run['error_kind'])}:[/red] {escape(run['error'])}")


@app.command("check-plugin")
def check_plugin(
    plugin_url: Annotated[str, typer.Argument(help="The running plugin's base URL.")],
    token: Annotated[
        str | None, typer.Option(help="The plugin's bearer token, if it enforces one.")
    ] = None,
    json_report: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    fuzz: Annotated[
        bool, typer.Option("--fuzz/--no-fuzz", help="Fuzz the plugin's API with schemathesis.")
    ] = True,
) -> None:
    """Check a running plugin against the plugin contract (the conformance kit)."""
    from base_service.conformance.cli import main

    argv = [
        plugin_url,
        *(["--token", token] if token else []),
        *(["--json"] if json_report else []),
        *([] if fuzz else ["--no-fuzz"]),
    ]
    raise typer.Exit(main(argv))


@app.command("export-openapi")
def export_openapi(
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """Print the base service's OpenAPI document (YAML)."""
    from base_service.api.openapi_doc import render_openapi_yaml

    text = render_openapi_yaml()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        console.print(f"wrote {output}")

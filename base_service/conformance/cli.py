"""The command line: `marquee-conformance URL [--token T] [--json] [--timeout S] ...`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from base_service.conformance.context import Context
from base_service.conformance.probe import Probe
from base_service.conformance.report import Header, Status, render_json, render_text
from base_service.conformance.runner import run_all
from base_service.conformance.spec import SpecNotFound, find_spec, spec_version

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; it exits with status 2 on bad arguments."""
    parser = argparse.ArgumentParser(
        prog="marquee-conformance",
        description=(
            "Check a running Marquee plugin service against the plugin contract "
            "(openapi/plugin-api.yaml). Exit status: 0 every check passed or was skipped, "
            "1 a check failed, 2 bad arguments."
        ),
    )
    parser.add_argument(
        "url", type=_base_url, help="the plugin's base URL, e.g. http://127.0.0.1:8081"
    )
    parser.add_argument("--token", help="the bearer token the plugin expects, if it has one")
    parser.add_argument("--json", action="store_true", help="print one JSON document, not text")
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=10.0,
        metavar="S",
        help="seconds to wait for each answer (default 10)",
    )
    parser.add_argument(
        "--max-examples",
        type=_positive(int),
        default=25,
        metavar="N",
        help="requests schemathesis generates per operation and phase (default 25)",
    )
    parser.add_argument("--no-fuzz", action="store_true", help="skip the schemathesis fuzzing")
    parser.add_argument(
        "--spec",
        type=Path,
        metavar="PATH",
        help="openapi/plugin-api.yaml, when the kit runs outside a Marquee checkout",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run every check against the plugin, print the report, and return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        spec: Path | None = find_spec(args.spec)
        spec_problem = None
    except SpecNotFound as exc:
        spec, spec_problem = None, str(exc)
    probe = Probe(args.url, args.token, args.timeout)
    context = Context(
        probe,
        spec=spec,
        spec_problem=spec_problem,
        max_examples=args.max_examples,
        timeout=args.timeout,
        fuzz=not args.no_fuzz,
    )
    try:
        results = run_all(context)
    finally:
        probe.close()
    header = Header(args.url, spec_version(spec) if spec else None)
    sys.stdout.write(render_json(header, results) if args.json else render_text(header, results))
    return EXIT_FAILED if any(r.status is Status.FAIL for r in results) else EXIT_PASSED


def _base_url(value: str) -> str:
    """An http(s) URL with a host; argparse turns the ValueError into exit status 2."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        raise argparse.ArgumentTypeError(f"not a URL: {value!r}") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {value!r}")
    if url.query or url.fragment:
        raise argparse.ArgumentTypeError(f"give the base URL, without a query: {value!r}")
    return str(url).rstrip("/")


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type: a number of `kind` above zero."""

    def parse(value: str) -> int | float:
        """The number, or an argparse error."""
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0: {value!r}")
        return number

    return parse

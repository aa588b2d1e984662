"""Render the status page in headless Chromium and save docs/status-page.png.

    uv run python scripts/screenshot_status_page.py [--out docs/status-page.png]

The scene: the example plugin serving its sample venues, and a second plugin whose events
endpoint answers 500, both read by a base service on a temporary SQLite database. Needs
Chromium at /usr/bin/chromium (or CHROMIUM=path).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402

import example_plugin_service.app  # noqa: E402
import example_plugin_service.config  # noqa: E402
from tests.support.base import base_settings, running_base, wait_for_run  # noqa: E402
from tests.support.fake_plugin import FakePlugin, problem  # noqa: E402
from tests.support.servers import serve_app  # noqa: E402

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _upstream_down(_: Request) -> Response:
    return problem(500, "ticketing backend answered: connection pool exhausted")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "status-page.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--phone-out", type=Path, help="also save a 390x844 phone screenshot")
    args = parser.parse_args()

    tickets = FakePlugin()
    tickets.faults["/v1/events"] = _upstream_down
    example = example_plugin_service.app.create_app(example_plugin_service.config.Settings())
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve_app(example) as example_url,
        serve_app(tickets.app()) as tickets_url,
    ):
        settings = base_settings(
            f"sqlite+aiosqlite:///{Path(tmp) / 'marquee.db'}",
            # `localhost` reads better than a loopback address in the picture.
            f"ics={example_url} tickets={tickets_url}".replace("127.0.0.1", "localhost"),
            retry_attempts=1,
        )
        with running_base(settings) as client:
            wait_for_run(client, "ics")
            wait_for_run(client, "tickets")
            base_url = str(client.base_url).rstrip("/")
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                    args=CHROMIUM_ARGS,
                )
                try:
                    page = browser.new_page(
                        viewport={"width": args.width, "height": 800},
                        color_scheme="light",
                    )
                    page.goto(f"{base_url}/")
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(args.out), full_page=True)
                    if args.phone_out:
                        page.set_viewport_size({"width": 390, "height": 844})
                        args.phone_out.parent.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(args.phone_out), full_page=True)
                finally:
                    browser.close()
    shown = args.out.resolve()
    if shown.is_relative_to(ROOT):
        shown = shown.relative_to(ROOT)
    print(f"wrote {shown} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The status page in a real headless Chromium: what an operator sees, on a desktop and a phone.

Needs Chromium at /usr/bin/chromium; without it these tests skip, unless
MARQUEE_REQUIRE_BROWSER=1 (then they fail). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.base import ADMIN_TOKEN, base_settings, plugin_view, running_base, wait_for_run
from tests.support.fake_plugin import FakePlugin, make_event, problem
from tests.support.servers import serve_app

CHROMIUM = Path("/usr/bin/chromium")
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
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Scene:
    """A running base service with one healthy and one failing plugin."""

    client: httpx.Client
    url: str


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, once for the module."""
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM}: the browser tests need it"
        if os.environ.get("MARQUEE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """`good` (eight events) and `bad` (its events answer 500), both run once."""
    good = FakePlugin(events=[make_event(n) for n in range(8)])
    bad = FakePlugin()
    bad.faults["/v1/events"] = lambda _: problem(500, "the upstream calendar is down")
    database = tmp_path_factory.mktemp("status-page") / "marquee.db"
    with serve_app(good.app()) as good_url, serve_app(bad.app()) as bad_url:
        settings = base_settings(
            f"sqlite+aiosqlite:///{database}", f"good={good_url} bad={bad_url}"
        )
        with running_base(settings) as client:
            wait_for_run(client, "good")
            wait_for_run(client, "bad")
            yield Scene(client=client, url=str(client.base_url).rstrip("/"))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    try:
        yield context.new_page()
    finally:
        context.close()


def test_page_shows_the_failing_plugin_as_failing(page: Page, scene: Scene) -> None:
    page.goto(f"{scene.url}/")
    expect(page).to_have_title("⚠ Marquee status")
    expect(page.locator("h1")).to_have_text("1 of 2 plugins needs attention")
    rows = page.locator("table.plugins tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-plugin", "bad")  # worst first
    bad = page.locator("tr[data-plugin='bad']")
    expect(bad.locator("td[data-label='State'] .badge").first).to_have_text("failing")
    expect(bad.locator(".error .kind")).to_have_text("http_error")
    expect(bad.locator(".error .msg")).to_contain_text("the upstream calendar is down")
    good = page.locator("tr[data-plugin='good']")
    expect(good.locator("td[data-label='State'] .badge").first).to_have_text("ok")
    expect(good.locator(".counts")).to_contain_text("8 fetched")
    expect(page.locator("article.venue")).to_have_count(1)
    expect(page.locator("article.venue .events li")).to_have_count(5)
    expect(page.locator("article.venue footer")).to_contain_text("and 3 more")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page.png"), full_page=True)


def test_run_now_works_through_the_browser(page: Page, scene: Scene) -> None:
    before = plugin_view(scene.client, "good")["last_run"]["run_id"]
    page.goto(f"{scene.url}/")

    page.fill("#admin-token", "not-the-token")
    page.locator("tr[data-plugin='good'] button").click()
    page.wait_for_url("**/?error=bad_token&plugin=good")
    expect(page.locator(".flash")).to_have_text("Wrong admin token: nothing was run.")

    page.fill("#admin-token", ADMIN_TOKEN)
    page.locator("tr[data-plugin='good'] button").click()
    page.wait_for_url("**/?ran=good")
    expect(page.locator(".flash")).to_have_text(
        "Run of good requested: it starts as soon as a run slot is free."
    )
    assert ADMIN_TOKEN not in page.url
    view = wait_for_run(scene.client, "good", after=before)
    assert view["last_run"]["trigger"] == "manual"


def test_phone_viewport_has_no_horizontal_scrolling(browser: Browser, scene: Scene) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{scene.url}/")
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[2], widths
        assert widths[1] <= widths[2], widths
        # One column: the table's rows are stacked cards as wide as the screen allows.
        expect(page.locator("table.plugins thead")).not_to_be_in_viewport()
        for row in page.locator("table.plugins tbody tr").all():
            box = row.bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= PHONE["width"]
        bad = page.locator("tr[data-plugin='bad']")
        expect(bad.locator("td[data-label='State'] .badge").first).to_have_text("failing")
        # Each cell's label sits in a gutter to its left, clear of the cell's content.
        indent = bad.locator("td[data-label='State']").evaluate(
            "cell => parseFloat(getComputedStyle(cell).paddingLeft)"
        )
        assert indent >= 100
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "status-page-phone.png"), full_page=True)
    finally:
        context.close()

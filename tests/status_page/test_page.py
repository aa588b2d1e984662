"""The status page over real HTTP: a real base service, fake plugins on loopback, real SQLite."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from base_service.api.problems import install_problem_handlers
from base_service.api.routes import status_page
from base_service.store.database import Store
from tests.status_page.helpers import FORM, flash, plugin_row, run_form, venue_card
from tests.support.base import (
    ADMIN_TOKEN,
    base_settings,
    plugin_view,
    running_base,
    wait_for_run,
    wait_until,
)
from tests.support.fake_plugin import FakePlugin, make_event, problem
from tests.support.servers import serve_app


def test_failing_plugin_comes_first_with_its_error_and_ok_plugin_shows_counts(
    fake_plugin: tuple[FakePlugin, str], broken_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(3)]
    _, broken_url = broken_plugin
    with running_base(base_settings(sqlite_url, f"good={url} bad={broken_url}")) as client:
        wait_for_run(client, "good")
        wait_for_run(client, "bad")
        response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert '<meta http-equiv="refresh" content="30">' in page
    assert "1 of 2 plugins needs attention" in page
    assert "2 plugins:" in page
    assert "<b>1</b> failing" in page
    assert "<b>1</b> ok" in page
    assert "database reachable" in page

    bad = plugin_row(page, "bad")
    assert 'data-state="failing"' in bad
    assert '<span class="badge tone-bad">failing</span>' in bad
    assert '<code class="kind">http_error</code>' in bad
    assert "GET /v1/events answered 500" in bad
    assert "the upstream calendar is down" in bad
    assert re.search(r'class="num failures">1</td>', bad)
    assert "last success: never" in bad

    good = plugin_row(page, "good")
    assert '<span class="badge tone-ok">ok</span>' in good
    assert ">success</span>" in good
    counts = {"fetched": 3, "inserted": 3, "updated": 0, "removed": 0, "quarantined": 0}
    for label, value in counts.items():
        assert f"<b>{value}</b> {label}" in good
    # The age is relative; the absolute UTC time is in the title.
    assert re.search(r'<time datetime="[^"]+Z" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">', good)
    assert re.search(r">(just now|\d+ s ago)</time>", good)
    assert re.search(r">in \d+ (s|min)</time>", good)  # next run, within the manifest's hour
    assert "Fake plugin" in good  # the manifest's name
    # Worst first, though `good` was registered first.
    assert page.index('id="plugin-bad"') < page.index('id="plugin-good"')


def test_plugins_that_have_not_run_are_pending(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    _, url = fake_plugin
    settings = base_settings(
        sqlite_url, f"one={url} two={url}/again", first_run_spread_seconds=3600
    )
    with running_base(settings) as client:
        page = client.get("/").text
    assert "2 of 2 plugins have not run yet" in page
    assert "<b>2</b> pending" in page
    row = plugin_row(page, "one")
    assert '<span class="badge tone-info">pending</span>' in row
    assert "not run yet" in row
    assert "No venues yet" in page


def test_hostile_error_message_and_event_title_are_escaped(
    fake_plugin: tuple[FakePlugin, str], broken_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [
        make_event(0, title="<script>alert('title')</script> & <b>co</b>"),
        make_event(1, url="javascript:alert('event')"),
    ]
    plugin.venues[0]["url"] = "javascript:alert('venue')"
    broken, broken_url = broken_plugin
    broken.faults["/v1/events"] = lambda _: problem(500, "<script>alert('error')</script>")
    with running_base(base_settings(sqlite_url, f"good={url} bad={broken_url}")) as client:
        wait_for_run(client, "good")
        wait_for_run(client, "bad")
        page = client.get("/").text
    assert "<script" not in page.lower()
    assert "<b>co</b>" not in page
    assert "&lt;script&gt;alert(&#39;error&#39;)&lt;/script&gt;" in plugin_row(page, "bad")
    card = venue_card(page, "good", "hall")
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;" in card
    # Links a plugin gives are kept only when they are http(s).
    assert "javascript:" not in page
    assert "Show 1" in card


def test_venues_show_freshness_and_next_events_in_local_time(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.venues = [{"id": "hall", "name": "The Hall", "timezone": "America/New_York"}]
    past = datetime.now(UTC) - timedelta(days=30)
    plugin.events = [
        make_event(99, title="Long gone", start=past.isoformat(), end=None),
        *(make_event(n) for n in range(8)),
        make_event(
            100,
            title="Holiday market",
            start="2029-12-31T00:00:00+09:00",
            end="2030-01-01T00:00:00+09:00",
            all_day=True,
            timezone="Asia/Tokyo",
        ),
    ]
    plugin.events[2]["status"] = "cancelled"  # Show 1
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        page = client.get("/").text
    card = venue_card(page, "fake", "hall")
    assert "The Hall" in card
    assert "America/New_York" in card
    assert re.search(r"updated <time [^>]+>(just now|\d+ s ago)</time>", card)
    # 2030-01-01T20:00Z is 15:00 in New York.
    assert '<time datetime="2030-01-01T15:00:00-05:00">Tue 01 Jan 2030, 15:00 EST</time>' in card
    # An all-day event shows its date where it happens (New York is still on the 30th).
    assert ">Mon 31 Dec 2029</time>" in card
    titles = re.findall(r"(Show \d|Long gone|Holiday market)", card)
    assert titles == ["Holiday market", "Show 0", "Show 1", "Show 2", "Show 3"]
    assert "<s>Show 1</s>" in card
    assert '<span class="badge tone-bad">cancelled</span>' in card
    assert ">and 4 more</a>" in card
    assert 'href="/v1/venues/fake/hall"' in card
    assert 'href="/v1/venues/fake/hall/events?from=' in card
    for link in ("/docs", "/openapi.json", "/metrics", "/v1/events"):
        assert f'href="{link}"' in page


def test_venues_are_bounded(fake_plugin: tuple[FakePlugin, str], sqlite_url: str) -> None:
    plugin, url = fake_plugin
    plugin.venues = [
        {"id": f"v{n:02}", "name": f"Venue {n:02}", "timezone": "UTC"} for n in range(52)
    ]
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        page = client.get("/").text
    assert page.count('<article class="venue"') == 50
    assert '<span class="count">52</span>' in page
    assert "and 2 more venues" in page
    assert "No upcoming events." in venue_card(page, "fake", "v00")


def test_run_now_form_with_the_admin_token_runs_the_plugin(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    _, url = fake_plugin
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        first = wait_for_run(client, "fake")["last_run"]["run_id"]
        page = client.get("/").text
        assert '<input id="admin-token" name="token" type="password"' in page
        assert 'formaction="/ui/plugins/fake/run"' in plugin_row(page, "fake")
        assert ADMIN_TOKEN not in page

        response = run_form(client, "fake", ADMIN_TOKEN)
        assert response.status_code == 303
        assert response.headers["location"] == "/?ran=fake"
        view = wait_for_run(client, "fake", after=first)
        assert view["last_run"]["trigger"] == "manual"

        shown = client.get(response.headers["location"]).text
        assert flash(shown) == "Run of fake requested: it starts as soon as a run slot is free."
        # The flash is not shown again by the next refresh.
        assert '<meta http-equiv="refresh" content="30; url=/">' in shown


def test_run_now_form_with_a_wrong_token_runs_nothing(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    _, url = fake_plugin
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        before = wait_for_run(client, "fake")
        response = run_form(client, "fake", ADMIN_TOKEN + "x")
        assert response.status_code == 303
        assert response.headers["location"] == "/?error=bad_token&plugin=fake"
        assert flash(client.get(response.headers["location"]).text) == (
            "Wrong admin token: nothing was run."
        )
        # A token in the URL is never read.
        response = client.post(f"/ui/plugins/fake/run?token={ADMIN_TOKEN}", headers=FORM)
        assert response.headers["location"] == "/?error=bad_token&plugin=fake"
        after = plugin_view(client, "fake")
    # A run-now request moves next_run_at to now; none was made.
    assert after["next_run_at"] == before["next_run_at"]
    assert after["last_run"]["run_id"] == before["last_run"]["run_id"]
    assert not after["running"]


def test_run_now_form_reports_an_unknown_plugin_and_a_run_in_progress(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        first = wait_for_run(client, "fake")["last_run"]["run_id"]
        response = run_form(client, "nope", ADMIN_TOKEN)
        assert response.headers["location"] == "/?error=unknown"
        assert flash(client.get("/?error=unknown").text) == "No plugin by that name is registered."

        plugin.delay = 1.0
        assert run_form(client, "fake", ADMIN_TOKEN).headers["location"] == "/?ran=fake"
        wait_until(lambda: plugin_view(client, "fake")["running"], what="the run to start")
        response = run_form(client, "fake", ADMIN_TOKEN)
        assert response.status_code == 303
        assert response.headers["location"] == "/?error=running&plugin=fake"
        page = client.get(response.headers["location"]).text
        assert flash(page) == "A run of fake is already in progress."
        row = plugin_row(page, "fake")
        assert '<span class="badge tone-info running">running</span>' in row
        assert re.search(r'formaction="/ui/plugins/fake/run" disabled>', row)
        plugin.delay = 0
        wait_for_run(client, "fake", after=first)


def test_without_admin_token_there_is_no_form_and_the_post_is_forbidden(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    _, url = fake_plugin
    with running_base(base_settings(sqlite_url, f"fake={url}", admin_token=None)) as client:
        wait_for_run(client, "fake")
        page = client.get("/").text
        response = run_form(client, "fake", ADMIN_TOKEN)
    assert "<form" not in page
    assert "<button" not in page
    assert 'type="password"' not in page
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": "admin actions are disabled: ADMIN_TOKEN is not set",
    }


def test_run_now_form_takes_only_a_small_urlencoded_body(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    _, url = fake_plugin
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        too_big = client.post("/ui/plugins/fake/run", content="token=" + "a" * 5000, headers=FORM)
        as_json = client.post("/ui/plugins/fake/run", json={"token": ADMIN_TOKEN})
        not_utf8 = client.post("/ui/plugins/fake/run", content=b"token=\xff\xfe", headers=FORM)
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
    assert as_json.status_code == 415
    assert not_utf8.status_code == 400


def test_page_is_not_in_the_api_document_and_is_not_cached(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    _, url = fake_plugin
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        response = client.get("/")
        paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert not any(path.startswith("/ui/") for path in paths)
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "form-action 'self'" in response.headers["content-security-policy"]


def test_unreachable_database_is_said_with_503(tmp_path: Path) -> None:
    settings = base_settings(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", "fake=http://127.0.0.1:9")
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(status_page.router)
    # A database in a folder that does not exist cannot be opened.
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'm.db'}")
    # The page reads only the settings and the store of the app's services.
    store = Store(engine)
    app.state.services = SimpleNamespace(settings=settings, store=store)
    try:
        with serve_app(app) as url:
            response = httpx.get(f"{url}/", timeout=10)
    finally:
        asyncio.run(store.dispose())
    assert response.status_code == 503
    assert "The database cannot be reached" in response.text
    assert "database unreachable" in response.text
    assert "OperationalError" in response.text
    assert 'id="venues-h"' not in response.text

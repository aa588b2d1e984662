"""Runs end to end: a real base service against a fake plugin on loopback, real SQLite."""

from __future__ import annotations

from tests.support.base import (
    ADMIN_TOKEN,
    all_events,
    base_settings,
    plugin_view,
    run_now,
    running_base,
    wait_for_run,
    wait_until,
)
from tests.support.fake_plugin import FakePlugin, fail_on_cursor, fail_times, make_event


def test_first_run_stores_every_page(fake_plugin: tuple[FakePlugin, str], sqlite_url: str) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(5)]
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        view = wait_for_run(client, "fake")
        assert view["state"] == "ok"
        assert view["last_run"]["counts"] == {
            "pages": 3,
            "fetched": 5,
            "inserted": 5,
            "updated": 0,
            "removed": 0,
            "quarantined": 0,
        }
        events = all_events(client, limit=2)
    assert [e["id"] for e in events] == [f"ev-{n}" for n in range(5)]
    assert {e["plugin_id"] for e in events} == {"fake"}
    assert events[0]["start"] == "2030-01-01T20:00:00Z"


def test_failed_second_page_changes_nothing(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(4)]
    with running_base(base_settings(sqlite_url, f"fake={url}", retry_attempts=1)) as client:
        wait_for_run(client, "fake")
        before = all_events(client)
        plugin.events = [make_event(n, title="changed") for n in range(1, 6)]
        plugin.faults["/v1/events"] = fail_on_cursor("2")
        view = run_now(client, "fake")
        assert view["state"] == "failing"
        assert view["last_run"]["outcome"] == "failed"
        assert view["last_run"]["error_kind"] == "http_error"
        assert "500" in view["last_error"]
        assert view["consecutive_failures"] == 1
        assert all_events(client) == before


def test_bad_event_is_quarantined_and_the_rest_stored(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    naive = make_event(2)
    naive["start"] = "2030-01-03T20:00:00"
    plugin.events = [make_event(0), make_event(1), naive, make_event(3, venue="nowhere")]
    plugin.events.append(make_event(4))
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        view = wait_for_run(client, "fake")
        run = view["last_run"]
        assert view["state"] == "ok"
        assert run["counts"]["quarantined"] == 2
        assert run["counts"]["inserted"] == 3
        detail = client.get(f"/v1/plugins/fake/runs/{run['run_id']}").json()
        reasons = {q["event_id"]: q["reason"] for q in detail["quarantine"]}
        assert "timezone" in reasons["ev-2"]
        assert "nowhere" in reasons["ev-3"]
        assert [e["id"] for e in all_events(client)] == ["ev-0", "ev-1", "ev-4"]


def test_too_many_bad_events_fail_the_run(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0), make_event(1, venue="x"), make_event(2, venue="y")]
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        view = wait_for_run(client, "fake")
        assert view["state"] == "failing"
        assert view["last_run"]["error_kind"] == "too_many_invalid_events"
        assert all_events(client) == []


def test_changes_and_removals_are_applied(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(4)]
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        plugin.events = [make_event(0), make_event(1, title="Moved"), make_event(4)]
        view = run_now(client, "fake")
        counts = view["last_run"]["counts"]
        assert (counts["inserted"], counts["updated"], counts["removed"]) == (1, 1, 2)
        events = {e["id"]: e for e in all_events(client)}
        assert sorted(events) == ["ev-0", "ev-1", "ev-4"]
        assert events["ev-1"]["title"] == "Moved"
        removed = {
            e["id"]: e for e in all_events(client, include_removed="true") if e["removed_at"]
        }
        assert sorted(removed) == ["ev-2", "ev-3"]
        plugin.events.append(make_event(2))
        counts = run_now(client, "fake")["last_run"]["counts"]
        assert (counts["inserted"], counts["updated"], counts["removed"]) == (0, 1, 0)


def test_duplicate_ids_keep_the_first_and_are_quarantined(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0), make_event(1), make_event(1, title="Second copy")]
    plugin.events.append(make_event(2))
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        view = wait_for_run(client, "fake")
        assert view["last_run"]["counts"]["quarantined"] == 1
        titles = {e["id"]: e["title"] for e in all_events(client)}
    assert titles == {"ev-0": "Show 0", "ev-1": "Show 1", "ev-2": "Show 2"}


def test_transient_errors_are_retried(fake_plugin: tuple[FakePlugin, str], sqlite_url: str) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0)]
    plugin.faults["/v1/manifest"] = fail_times(2, 503, {"Retry-After": "0"})
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        view = wait_for_run(client, "fake")
    assert view["state"] == "ok"
    assert sum(1 for path, _, _ in plugin.requests if path == "/v1/manifest") == 3


def test_client_errors_are_not_retried(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.faults["/v1/manifest"] = fail_times(5, 401)
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        view = wait_for_run(client, "fake")
    assert view["state"] == "failing"
    assert view["last_run"]["error_kind"] == "auth"
    assert sum(1 for path, _, _ in plugin.requests if path == "/v1/manifest") == 1


def test_requests_carry_token_request_id_and_user_agent(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    overrides = {"fake": {"token": "plugin-token"}}
    settings = base_settings(sqlite_url, f"fake={url}", plugin_overrides=overrides)
    with running_base(settings) as client:
        wait_for_run(client, "fake")
    _, _, headers = plugin.requests[0]
    assert headers["authorization"] == "Bearer plugin-token"
    assert headers["user-agent"].startswith("marquee-base/")
    assert len(headers["x-request-id"]) == 32
    assert headers["traceparent"].startswith(f"00-{headers['x-request-id']}-")


def test_unreachable_plugin_does_not_stop_the_base(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0)]
    urls = f"fake={url} down=http://127.0.0.1:9"
    with running_base(base_settings(sqlite_url, urls, retry_attempts=1)) as client:
        down = wait_for_run(client, "down")
        assert down["state"] == "unreachable"
        assert down["last_run"]["error_kind"] == "unreachable"
        assert wait_for_run(client, "fake")["state"] == "ok"
        assert [e["id"] for e in all_events(client)] == ["ev-0"]
        assert client.get("/healthz").json()["status"] == "ok"


def test_run_now_needs_the_admin_token(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    _, url = fake_plugin
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        missing = client.post("/v1/plugins/fake/runs")
        wrong = client.post("/v1/plugins/fake/runs", headers={"Authorization": "Bearer nope"})
        unknown = client.post(
            "/v1/plugins/nope/runs", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert unknown.status_code == 404
    with running_base(base_settings(sqlite_url, f"fake={url}", admin_token=None)) as client:
        refused = client.post(
            "/v1/plugins/fake/runs", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
    assert refused.status_code == 403
    assert "ADMIN_TOKEN" in refused.json()["detail"]


def test_restart_keeps_data_and_next_run(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0), make_event(1)]
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        first = wait_for_run(client, "fake")
        next_run_at = first["next_run_at"]
    requests_before = len(plugin.requests)
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        view = plugin_view(client, "fake")
        assert view["next_run_at"] == next_run_at
        assert view["last_run"]["run_id"] == first["last_run"]["run_id"]
        assert [e["id"] for e in all_events(client)] == ["ev-0", "ev-1"]
    assert len(plugin.requests) == requests_before  # no run on restart: it was not due


def test_never_two_runs_of_one_plugin_at_once(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0)]
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        first = wait_for_run(client, "fake")
        plugin.delay = 1.0  # every request now takes a second: the next run is slow
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert client.post("/v1/plugins/fake/runs", headers=auth).status_code == 202
        wait_until(lambda: plugin_view(client, "fake")["running"], what="the run to start")
        again = client.post("/v1/plugins/fake/runs", headers=auth)
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        view = wait_for_run(client, "fake", first["last_run"]["run_id"])
        runs = client.get("/v1/plugins/fake/runs").json()["items"]
    assert view["state"] == "ok"
    assert [run["trigger"] for run in runs] == ["manual", "schedule"]


def test_a_dry_run_shows_the_diff_and_applies_nothing(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(4)]
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        first = wait_for_run(client, "fake")
        before = all_events(client)
        plugin.events = [make_event(0), make_event(1, title="New"), make_event(7, venue="x")]
        plugin.events.append(make_event(8))
        preview = client.post("/v1/plugins/fake/dry-run", headers=auth)
        assert client.post("/v1/plugins/fake/dry-run").status_code == 401
        after = all_events(client)
        view = plugin_view(client, "fake")
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["outcome"] == "dry_run"
    counts = body["counts"]
    assert (counts["inserted"], counts["updated"], counts["removed"]) == (1, 1, 2)
    assert counts["quarantined"] == 1 and body["quarantine"][0]["event_id"] == "ev-7"
    assert after == before
    assert view["last_run"]["run_id"] == first["last_run"]["run_id"]  # not a run


def test_run_now_carries_the_callers_trace_to_the_plugin(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(0)]
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        first = wait_for_run(client, "fake")
        calls_before = len(plugin.requests)
        response = client.post(
            "/v1/plugins/fake/runs",
            headers={
                "Authorization": f"Bearer {ADMIN_TOKEN}",
                "traceparent": f"00-{trace}-00f067aa0ba902b7-01",
            },
        )
        assert response.status_code == 202
        wait_for_run(client, "fake", first["last_run"]["run_id"])
    run_calls = plugin.requests[calls_before:]
    assert run_calls
    for _, _, headers in run_calls:
        assert headers["traceparent"].startswith(f"00-{trace}-")
        assert headers["x-request-id"] == trace
    spans = {headers["traceparent"].split("-")[2] for _, _, headers in run_calls}
    assert len(spans) == len(run_calls)  # a new span per call


def test_a_withdrawn_event_still_going_on_is_in_a_window_with_the_removed(
    fake_plugin: tuple[FakePlugin, str], database_url: str
) -> None:
    """A run records the longest event of its snapshot, which bounds a `from` window from
    below; an event the snapshot withdrew may be longer, and a window that includes removed
    events must still find it."""
    plugin, url = fake_plugin
    festival = make_event(0, id="festival", end="2030-03-01T00:00:00+00:00")  # two months
    plugin.events = [festival, make_event(1), make_event(40)]
    with running_base(base_settings(database_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        plugin.events = [make_event(1), make_event(40)]  # the festival is withdrawn
        assert run_now(client, "fake")["last_run"]["counts"]["removed"] == 1
        window = {"from": "2030-02-01T00:00:00Z"}
        assert [e["id"] for e in all_events(client, **window)] == ["ev-40"]
        with_removed = all_events(client, **window, include_removed="true")
    assert [e["id"] for e in with_removed] == ["festival", "ev-40"]
    assert with_removed[0]["removed_at"] is not None

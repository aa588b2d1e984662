"""The `marquee` command line against a real base service."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from base_service.cli import app
from tests.support.base import ADMIN_TOKEN, base_settings, running_base, wait_for_run
from tests.support.fake_plugin import FakePlugin, fail_times, make_event

runner = CliRunner()


def test_plugins_run_and_dry_run(fake_plugin: tuple[FakePlugin, str], sqlite_url: str) -> None:
    plugin, url = fake_plugin
    plugin.events = [make_event(n) for n in range(3)]
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        base = str(client.base_url)
        listing = runner.invoke(app, ["plugins", "--url", base])
        plugin.events.append(make_event(5))
        preview = runner.invoke(
            app, ["run", "fake", "--dry-run", "--url", base, "--token", ADMIN_TOKEN]
        )
        ran = runner.invoke(app, ["run", "fake", "--url", base], env={"ADMIN_TOKEN": ADMIN_TOKEN})
        plugin.faults["/v1/manifest"] = fail_times(9, 500)
        failed = runner.invoke(app, ["run", "fake", "--url", base, "--token", ADMIN_TOKEN])
        refused = runner.invoke(app, ["run", "fake", "--url", base], env={"ADMIN_TOKEN": ""})
    assert listing.exit_code == 0, listing.output
    assert "fake" in listing.output and "ok" in listing.output
    assert preview.exit_code == 0, preview.output
    assert "would insert 1" in preview.output
    assert ran.exit_code == 0, ran.output
    assert "success: fetched 4, insert 1, update 0, remove 0" in ran.output
    assert failed.exit_code == 1 and "http_error" in failed.output
    assert refused.exit_code == 1 and "error 401" in refused.output


def test_export_openapi_matches_the_published_document(tmp_path: Path) -> None:
    out = tmp_path / "api.yaml"
    result = runner.invoke(app, ["export-openapi", "--output", str(out)])
    assert result.exit_code == 0, result.output
    published = Path(__file__).resolve().parents[2] / "openapi" / "base-api.yaml"
    assert out.read_text() == published.read_text()
    to_stdout = runner.invoke(app, ["export-openapi"])
    assert to_stdout.exit_code == 0 and to_stdout.output == published.read_text()


def test_help_reads_well() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "plugins", "run", "check-plugin", "export-openapi"):
        assert command in result.output


def test_plugin_text_is_never_read_as_markup(
    fake_plugin: tuple[FakePlugin, str], sqlite_url: str
) -> None:
    plugin, url = fake_plugin
    from tests.support.fake_plugin import problem

    plugin.faults["/v1/manifest"] = lambda _: problem(400, "[/] [link=http://evil]x[/link] [/oops]")
    with running_base(base_settings(sqlite_url, f"fake={url}")) as client:
        wait_for_run(client, "fake")
        listing = runner.invoke(app, ["plugins", "--url", str(client.base_url)])
    assert listing.exit_code == 0, listing.output
    assert "[/oops]" in listing.output or "[/]" in listing.output


def test_check_plugin_passes_the_kits_options_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kit itself runs against real plugins in tests/conformance; here it is stood in for,
    # to see what `marquee check-plugin` hands it.
    import base_service.conformance.cli as kit

    given: list[list[str]] = []
    monkeypatch.setattr(kit, "main", lambda argv: given.append(argv) or 0)
    url = "http://127.0.0.1:9000"
    plain = runner.invoke(app, ["check-plugin", url])
    every = runner.invoke(app, ["check-plugin", url, "--token", "t", "--json", "--no-fuzz"])
    assert (plain.exit_code, every.exit_code) == (0, 0), plain.output + every.output
    assert given == [[url], [url, "--token", "t", "--json", "--no-fuzz"]]

"""Plugin calls honour the environment's proxies, as httpx reads them, read once at start-up."""

from __future__ import annotations

import json

import pytest

from base_service.client import HttpClients, PluginClient
from base_service.config import PluginConfig, Settings
from base_service.errors import PluginUnreachable
from tests.support.fake_plugin import FakePlugin
from tests.support.servers import free_port, serve_app

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_inherited_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def _manifest_via(url: str) -> dict[str, object]:
    settings = Settings(database_url="sqlite+aiosqlite://", retry_attempts=1)
    plugin = PluginConfig(
        plugin_id="fake", url=url, interval_override=None, read_timeout=5.0, token=None
    )
    async with HttpClients(settings).new() as http:
        reply = await PluginClient(http, plugin, settings).get("/v1/manifest")
    return dict(json.loads(reply.body))


async def test_a_plugin_behind_an_http_proxy_is_reached_through_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The fake plugin plays the proxy: it answers the absolute-form requests a proxy gets.
    # The plugin's own host name cannot be resolved, so only the proxy can have answered.
    fake = FakePlugin()
    with serve_app(fake.app()) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        manifest = await _manifest_via("http://plugin.invalid")
    assert manifest["plugin_id"] == "fake"
    assert fake.requests, "the proxy saw no request"


async def test_no_proxy_hosts_are_called_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakePlugin()
    with serve_app(fake.app()) as url:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert (await _manifest_via(url))["plugin_id"] == "fake"
        monkeypatch.delenv("NO_PROXY")
        with pytest.raises(PluginUnreachable):  # the dead proxy, now that it is in the way
            await _manifest_via(url)

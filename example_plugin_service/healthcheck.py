"""Container health probe: `python -m example_plugin_service.healthcheck` exits 0 when alive."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from example_plugin_service.config import Settings

PROBE_TIMEOUT_SECONDS = 2.0


def health_url(settings: Settings) -> str:
    """The service's own /v1/health URL, reached over loopback when it binds every interface."""
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/v1/health"


def main() -> int:
    """Exit 0 if /v1/health answers 200 (whatever the feeds' state), else 1."""
    settings = Settings()
    request = urllib.request.Request(health_url(settings))
    if settings.plugin_token is not None:
        # The probe is a client like any other: with a token configured, it must send it.
        request.add_header("Authorization", f"Bearer {settings.plugin_token.get_secret_value()}")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_SECONDS) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError):
        return 1


if __name__ == "__main__":
    sys.exit(main())

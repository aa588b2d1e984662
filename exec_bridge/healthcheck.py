"""Container health probe: `python -m exec_bridge.healthcheck` exits 0 when the bridge answers."""

from __future__ import annotations

import sys
import urllib.request

from exec_bridge.config import Settings

PROBE_TIMEOUT_SECONDS = 2.0


def main() -> int:
    """Exit 0 if /v1/health answers 200, whatever the command's state; else 1."""
    settings = Settings()
    host = settings.host
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    request = urllib.request.Request(f"http://{host}:{settings.port}/v1/health")
    if settings.plugin_token is not None:
        request.add_header("Authorization", f"Bearer {settings.plugin_token.get_secret_value()}")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_SECONDS) as response:
            return 0 if response.status == 200 else 1
    except OSError:  # URLError and HTTPError included
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Reading the status page the way a test needs to: one plugin's row, the page's flash."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import httpx

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def plugin_row(page: str, plugin_id: str) -> str:
    """The HTML of one plugin's row in the table."""
    match = re.search(rf'<tr id="plugin-{re.escape(plugin_id)}".*?</tr>', page, re.DOTALL)
    assert match, f"no row for plugin {plugin_id!r} on the page"
    return match.group(0)


def venue_card(page: str, plugin_id: str, venue_id: str) -> str:
    """The HTML of one venue's card."""
    card_id = re.escape(f"venue-{plugin_id}-{venue_id}")
    pattern = rf'<article class="venue" id="{card_id}".*?</article>'
    match = re.search(pattern, page, re.DOTALL)
    assert match, f"no card for venue {plugin_id}/{venue_id} on the page"
    return match.group(0)


def flash(page: str) -> str | None:
    """The text of the page's flash message, if it shows one."""
    match = re.search(r'<p class="flash[^"]*" role="status">(.*?)</p>', page, re.DOTALL)
    return match.group(1) if match else None


def run_form(client: httpx.Client, plugin_id: str, token: str) -> httpx.Response:
    """Submit the page's run-now form for a plugin, as a browser would."""
    return client.post(
        f"/ui/plugins/{plugin_id}/run", content=urlencode({"token": token}), headers=FORM
    )

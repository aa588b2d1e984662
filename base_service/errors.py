"""The exceptions Marquee raises, rooted at `MarqueeError`.

    MarqueeError
    ├── ConfigError               the settings cannot work; start-up stops
    ├── RunInProgress             a run was asked for while the plugin's run is going on
    ├── UnknownPlugin             no registered plugin has that id
    ├── LeaseLost                 another replica took over a plugin this one was running
    └── PluginError               a run failed because of what the plugin did (or did not do)
        ├── PluginUnreachable     no connection: refused, unresolvable host, reset
        ├── PluginTimeout         connect/read timeout or the run's overall deadline
        ├── PluginHTTPError       an error status; `status`, `retry_after`, `problem` kept
        ├── RedirectRefused       a redirect to another host or from https to http
        ├── ResponseTooLarge      a body over MAX_RESPONSE_BYTES
        ├── ContractViolation     the body is not what the contract says (JSON, shape)
        ├── IncompatibleContract  the plugin speaks a contract major version we do not
        ├── RunLimitExceeded      too many pages or events, or a cursor that repeats
        ├── TooManyInvalidEvents  the quarantined share passed QUARANTINE_MAX_RATIO
        ├── SnapshotShrunk        the snapshot would remove too many stored events
        └── IdentityChanged       the manifest names another plugin than before

Every `PluginError` has a stable `kind` (shown in run records, the API and metrics) and says
whether it is `transient`, which is the only thing the retry policy looks at.
"""

from __future__ import annotations


class MarqueeError(Exception):
    """Base of every error Marquee raises on purpose."""


class ConfigError(MarqueeError):
    """A setting is malformed or inconsistent; the message names it."""


class RunInProgress(MarqueeError):
    """A run of this plugin is already going on."""


class UnknownPlugin(MarqueeError):
    """No plugin with this id is registered."""


class LeaseLost(MarqueeError):
    """This replica no longer holds the plugin's lease; its run must not be applied."""


class PluginError(MarqueeError):
    """A run failed because of the plugin's behaviour."""

    kind = "plugin_error"
    transient = False
    retry_after: float | None = None


class PluginUnreachable(PluginError):
    """The plugin could not be connected to."""

    kind = "unreachable"
    transient = True


class PluginTimeout(PluginError):
    """The plugin did not answer in time."""

    kind = "timeout"
    transient = True


# Problem `type`s a plugin may send (see openapi/plugin-api.yaml): kind, and whether transient.
PROBLEM_TYPES: dict[str, tuple[str, bool]] = {
    "urn:marquee:problem:transient": ("transient", True),
    "urn:marquee:problem:rate-limited": ("rate_limited", True),
    "urn:marquee:problem:upstream-unavailable": ("upstream_unavailable", True),
    "urn:marquee:problem:auth": ("auth", False),
    "urn:marquee:problem:misconfigured": ("misconfigured", False),
}


class PluginHTTPError(PluginError):
    """The plugin answered with an error status; a known problem `type` refines its meaning."""

    kind = "http_error"
    _TRANSIENT = frozenset({408, 429, 502, 503, 504})

    def __init__(
        self,
        message: str,
        *,
        status: int,
        retry_after: float | None = None,
        problem: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.problem = problem
        self.transient = status in self._TRANSIENT
        if status == 429:
            self.kind = "rate_limited"
        elif status in (401, 403):
            self.kind = "auth"
        problem_type = (problem or {}).get("type")
        if isinstance(problem_type, str) and problem_type in PROBLEM_TYPES:
            self.kind, self.transient = PROBLEM_TYPES[problem_type]


class RedirectRefused(PluginError):
    """The plugin redirected somewhere the base service will not follow."""

    kind = "redirect_refused"


class ResponseTooLarge(PluginError):
    """A response body passed the size cap."""

    kind = "response_too_large"


class ContractViolation(PluginError):
    """A response does not match the plugin contract."""

    kind = "contract_violation"


class IncompatibleContract(PluginError):
    """The plugin speaks a contract version the base service does not."""

    kind = "incompatible"


class RunLimitExceeded(PluginError):
    """A run passed the page or event cap, or its cursors went round in a circle."""

    kind = "limit_exceeded"


class TooManyInvalidEvents(PluginError):
    """Too large a share of a run's events failed validation."""

    kind = "too_many_invalid_events"


class SnapshotShrunk(PluginError):
    """A full snapshot would remove more of the stored events than the shrink guard allows."""

    kind = "shrink_guard"


class IdentityChanged(PluginError):
    """The manifest's plugin_id differs from the one stored: another plugin at this URL?"""

    kind = "identity_changed"

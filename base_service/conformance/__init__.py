"""The plugin conformance kit: checks a running plugin service against the plugin contract.

    python -m base_service.conformance URL [--token T] [--json] [--timeout S] [--max-examples N]
    marquee-conformance URL ...                      # the same, as an installed console script

It calls the plugin the way the base service does and reports one line per check (PASS, FAIL
or SKIP) with the reason and the request that showed a failure; the exit status is 0 when
nothing failed, 1 when something did, 2 for bad arguments.

Modules: `probe` (HTTP to the plugin), `walk` (following `next_cursor`), `context` (what the
checks share), `documents`, `paging`, `filters`, `problems`, `auth`, `optional` (the checks),
`fuzz` (schemathesis), `runner` (their order, and PASS/FAIL/SKIP), `report` (text and JSON),
`spec` (where the contract document is), `cli` (arguments and exit status).

**Where the contract file comes from.** The checks validate with the models generated from
`openapi/plugin-api.yaml` (`base_service.generated.plugin_api`, through
`base_service.validation`), so they need no file. Only the fuzzing step hands the document
itself to schemathesis. The kit does not keep a copy of it (a copy would drift): `spec.py`
computes its place from this package's location, `<checkout>/openapi/plugin-api.yaml`, which
exists in a source checkout and in an editable install. An installed wheel does not ship the
`openapi/` folder; there `--spec PATH` (or `MARQUEE_PLUGIN_SPEC`) names the file, and without
one the fuzz check is skipped with a message that says so.
"""

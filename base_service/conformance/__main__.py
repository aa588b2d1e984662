"""`python -m base_service.conformance URL`: run the conformance kit against a plugin."""

from base_service.conformance.cli import main

raise SystemExit(main())

"""Exec bridge: serves the output of a configured command over the Marquee plugin contract."""

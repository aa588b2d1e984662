"""Marquee base service: gathers events from plugin services and serves them."""

__version__ = "0.1.0"

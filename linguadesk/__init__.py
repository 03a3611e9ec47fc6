"""Linguadesk: shared settings and model provisioning used by every package."""

__version__ = "0.1.0"

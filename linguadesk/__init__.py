"""Linguadesk: shared settings and model provisioning used by every package."""

import os

__version__ = "0.1.0"

# torch's OpenMP threads spin for a long time after each call; on a small machine the
# spinning starves the Chroma and numpy work that follows every query embedding
# (measured: retrieval 12 ms -> 7 ms). Must be set before torch is imported.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

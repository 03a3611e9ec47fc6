"""Entry point of the ``linguadesk`` command (``[project.scripts]``, ``python -m``); the
commands are in :mod:`adapters.cli.main` and its group modules."""

from __future__ import annotations

from adapters.cli.main import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":
    main()

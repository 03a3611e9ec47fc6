"""What every command shares: the two consoles, the error line, and the progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from types import TracebackType
from typing import Literal, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from adapters.platforms import PlatformError
from linguadesk.provision import ProvisioningError
from linguadesk.settings import ConfigError

P = ParamSpec("P")
R = TypeVar("R")
Reporter = Callable[[str, int, int], None]  # (phase or file, done, total)
Columns = Literal["percent", "eta", "count", "bytes"]  # after the bar

out = Console(soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, emoji=False)

_FIXABLE = (ProvisioningError, FileNotFoundError, PermissionError, PlatformError, ConfigError)
_COUNTERS: dict[str, tuple[type[ProgressColumn], ...]] = {
    "percent": (TaskProgressColumn,),
    "eta": (TaskProgressColumn, TimeRemainingColumn),
    "count": (MofNCompleteColumn, TimeElapsedColumn),
    "bytes": (DownloadColumn, TimeRemainingColumn),
}


def fail(text: str, code: int = 2) -> typer.Exit:
    """Print the error line; raise what this returns."""
    err.print(f"[bold red]Error:[/] {escape(text)}", highlight=False)
    return typer.Exit(code)


def _store_unavailable(exc: Exception) -> bool:
    # Only retrieval.vector_store raises it, and importing it loads chromadb: not for a check.
    module = sys.modules.get("retrieval.vector_store")
    return module is not None and isinstance(exc, module.StoreUnavailable)


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can fix into one clear line and exit code 2."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if isinstance(exc, _FIXABLE) or _store_unavailable(exc):
                raise fail(str(exc)) from None
            raise

    return wrapper


def progress_bar(counter: Columns = "eta", *, transient: bool = True) -> Progress:
    """The bar of every long command, on stderr: the task, the bar, then ``counter``."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        *(column() for column in _COUNTERS[counter]),
        console=err,
        transient=transient,
    )


def phase_reporter(bar: Progress, name: Callable[[str], str] = str.capitalize) -> Reporter:
    """A ``progress(phase, done, total)`` callback drawing one task of ``bar`` per phase."""
    tasks: dict[str, TaskID] = {}

    def report(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(name(phase), total=total)
        bar.update(tasks[phase], completed=done, total=total)

    return report


class ModelProgress:
    """Byte bars for provisioning models, one per file, shown only once a download starts."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._report: Reporter | None = None

    def __call__(self, label: str, done: int, total: int) -> None:
        if self._report is None:
            self._bar = progress_bar("bytes")
            self._bar.start()
            self._report = phase_reporter(self._bar, name=str)
        self._report(label, done, total)

    def __enter__(self) -> ModelProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def command_line(command: str) -> str:
    """``linguadesk <command>`` with the options it was given, for a report."""
    return f"linguadesk {command} " + " ".join(sys.argv[len(command.split()) + 1 :])


def write_json(path: Path, report: dict, *, indent: int = 1, ensure_ascii: bool = False) -> None:
    path.write_text(json.dumps(report, indent=indent, ensure_ascii=ensure_ascii), encoding="utf-8")

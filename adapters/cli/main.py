"""The ``linguadesk`` command: models, knowledge-base admin, and asking from the terminal."""

from __future__ import annotations

import os
import warnings

import typer
from pydantic import ValidationError

from linguadesk.logs import configure_logging
from linguadesk.settings import BUILTIN_EMBEDDING_MODEL, get_settings

from . import bench, chat, conversations, evals, gaps, kb, models, serve
from .console import fail

app = typer.Typer(
    help="Linguadesk: a multilingual support bot grounded in your FAQ.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(chat.ask)
app.command()(chat.chat)
app.command()(serve.serve)
app.add_typer(models.app, name="models")
app.add_typer(kb.app, name="kb")
app.add_typer(evals.app, name="eval")
app.add_typer(bench.app, name="bench")
app.add_typer(conversations.app, name="conversations")
app.add_typer(gaps.app, name="gaps")


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if get_settings().embeddings.model == BUILTIN_EMBEDDING_MODEL:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    configure_logging(get_settings())
    try:
        # transformers loads torch (seconds): only once a command runs, never for --help.
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


@app.callback()
def _setup() -> None:
    try:
        _quiet_libraries()
    except ValidationError as exc:
        raise fail(
            f"Invalid settings: {exc}. Fix the LINGUADESK_* variables or linguadesk.toml."
        ) from None
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise fail(f"Cannot read the settings file: {exc}. Fix linguadesk.toml.") from None


def main() -> None:
    app()

"""``linguadesk models``: provision the embedded models."""

from __future__ import annotations

from typing import Annotated

import typer

from linguadesk.settings import get_settings
from runtime import fetch_models

from .console import ModelProgress, guarded, out

app = typer.Typer(help="Provision the embedded models.", no_args_is_help=True)


@app.command("fetch")
@guarded
def models_fetch(
    llm: Annotated[bool, typer.Option(help="Also provision the embedded LLM (GGUF).")] = True,
) -> None:
    """Build the offline embedding model and assemble the LLM file (verified by sha256)."""
    settings = get_settings()
    with ModelProgress() as report:
        embedding, gguf = fetch_models(settings, report, llm=llm)
    out.print(f"Embedding model: {embedding}")
    if gguf:
        out.print(f"LLM: {gguf}")
    elif settings.llm.url:
        out.print(f"LLM: served at {settings.llm.url} (nothing to fetch)")

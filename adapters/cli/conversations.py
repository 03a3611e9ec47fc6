"""``linguadesk conversations``: handed-off conversations, their history, failed turns."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from linguadesk.settings import get_settings
from runtime import build_desk, open_failed_turns

from .console import fail, guarded, out

app = typer.Typer(help="Conversations: handoffs to people.", no_args_is_help=True)


@app.command("failed")
@guarded
def conversations_failed(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Turns that got an apology instead of an answer (the LLM or the store was down), for a
    follow-up."""
    turns = open_failed_turns(get_settings()).read()
    if as_json:
        out.print_json(json.dumps(turns, ensure_ascii=False))
        return
    if not turns:
        out.print("No turn failed.")
    for t in turns:
        when = datetime.fromtimestamp(t["at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        out.print(
            f"{when} UTC  {t['conversation']}  [{t['stage']}: {t['error']}]  {t['text']}",
            markup=False,
            highlight=False,
        )


@app.command("list")
@guarded
def conversations_list() -> None:
    """Conversations a person has (the bot stays quiet in them)."""
    keys = build_desk(get_settings()).handed_off()
    if not keys:
        out.print("No conversation is handed off.")
    for key in keys:
        out.print(key, markup=False, highlight=False)


@app.command("show")
@guarded
def conversations_show(key: Annotated[str, typer.Argument(help="A conversation key.")]) -> None:
    """The conversation's state and history."""
    desk = build_desk(get_settings())
    view = desk.view(key)
    out.print(f"language {view.language or '-'}, handed off {'yes' if view.handed_off else 'no'}")
    rated = {f.reply_id: f for f in desk.feedback(key)}
    for m in desk.history(key):
        out.print(f"{m.role}: {m.text}", markup=False, highlight=False)
        if m.id in rated:
            f = rated[m.id]
            out.print(
                f"  feedback: {'👍' if f.rating == 'up' else '👎'} {f.comment}".rstrip(),
                markup=False,
                highlight=False,
                emoji=False,
            )


@app.command("release")
@guarded
def conversations_release(
    key: Annotated[str, typer.Argument(help="A conversation key.")],
) -> None:
    """Give a handed-off conversation back to the bot."""
    if not build_desk(get_settings()).release(key):
        raise fail(
            f"{key} is not handed off; 'linguadesk conversations list' shows those that are.", 1
        )
    out.print(f"Released {key}: the bot answers it again.", markup=False)

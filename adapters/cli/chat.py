"""``linguadesk ask`` and ``linguadesk chat``: the bot in the terminal."""

from __future__ import annotations

import json
import sys
import uuid
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from bot.conversations import conversation_key
from bot.reply import Reply, Status, Turn
from linguadesk.settings import get_settings
from runtime import build_engine

from .console import ModelProgress, err, guarded, out

CHANNEL = "cli"

if TYPE_CHECKING:
    from bot.engine import Engine


def _engine() -> Engine:
    with ModelProgress() as report:
        # slack_sdk and the catalogs (babel): not for --help.
        from adapters.slack.notifier import slack_handoff_notifiers

        settings = get_settings()
        return build_engine(settings, progress=report, notifiers=slack_handoff_notifiers(settings))


def _print_reply(reply: Reply, conversation: str = "") -> None:
    # bot.messages reads its catalogs with babel (~80 ms): not for --help; the engine has it.
    from bot.messages import message

    for token in reply:
        out.print(token, end="", highlight=False, markup=False)
        sys.stdout.flush()
    if reply.status == Status.HANDED_OFF:
        out.print(
            f"[dim](a person has this conversation; the bot stays quiet until "
            f"'linguadesk conversations release {escape(conversation)}')[/]",
            end="",
        )
    out.print()
    if reply.citations:
        out.print(f"[dim]{message('sources', reply.language)}:[/]")
        for c in reply.citations:
            link = f" — {c.url}" if c.url else ""
            out.print(f"  [{c.number}] {c.title}{link}", style="dim", markup=False, highlight=False)
    if reply.offer_handoff:
        out.print(f"[dim]→ {message('talk_to_human', reply.language)}: /human[/]")
    if reply.handoff is not None:
        with err.status("Notifying the team…"):
            try:
                event = reply.handoff.result(timeout=300)
                out.print(f"[dim](handoff {event.id} sent)[/]")
            except Exception as exc:  # delivery problems are logged by the service
                out.print(f"[dim](handoff not delivered: {type(exc).__name__})[/]")


def _reply_json(reply: Reply) -> str:
    text = reply.final()
    return json.dumps(
        {
            "text": text,
            "language": reply.language,
            "status": reply.status,
            "confidence": round(reply.confidence, 4),
            "grounded": reply.grounded,
            "query": reply.query,
            "offer_handoff": reply.offer_handoff,
            "error": reply.error,
            "citations": [c.__dict__ for c in reply.citations],
        },
        ensure_ascii=False,
    )


@guarded
def ask(
    question: Annotated[str, typer.Argument(help="The customer's question, in any language.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the reply as JSON.")] = False,
) -> None:
    """Answer one question, streamed, with citations."""
    reply = _engine().answer(
        Turn(question, conversation_id=conversation_key(CHANNEL, uuid.uuid4().hex), channel=CHANNEL)
    )
    if as_json:
        out.print_json(_reply_json(reply))
    else:
        _print_reply(reply)
    if reply.error:
        raise typer.Exit(3)


@guarded
def chat(
    conversation: Annotated[
        str | None, typer.Option(help="Continue this conversation key (see 'conversations list').")
    ] = None,
) -> None:
    """Talk to the bot in the terminal (multi-turn). /new starts over, /human asks for a
    person, /quit leaves."""
    engine = _engine()
    with err.status("Starting the language model…"):
        _ = engine.llm
    conversation = conversation or conversation_key(CHANNEL, uuid.uuid4().hex)
    out.print(
        "[bold]Linguadesk[/] — ask in any language. /new starts a new conversation, "
        "/human asks for a person, /quit leaves."
    )
    out.print(f"[dim]conversation {escape(conversation)}[/]")
    while True:
        try:
            text = out.input("[bold cyan]you>[/] ")
        except (EOFError, KeyboardInterrupt):
            out.print()
            return
        command = text.strip().lower()
        if command in ("/quit", "/exit"):
            return
        if command == "/new":
            conversation = conversation_key(CHANNEL, uuid.uuid4().hex)
            out.print(f"[dim]New conversation {escape(conversation)}.[/]")
            continue
        if not command:
            continue
        out.print("[bold green]bot>[/] ", end="")
        if command == "/human":
            reply = engine.start_handoff(
                Turn("", conversation_id=conversation, channel=CHANNEL), reason="customer_asked"
            )
        else:
            reply = engine.answer(Turn(text, conversation_id=conversation, channel=CHANNEL))
        _print_reply(reply, conversation)

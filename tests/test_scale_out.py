"""Two bot workers on one Redis and one Chroma server (both real processes started here): any
worker serves any turn of a conversation; a Chroma server that goes away mid-conversation costs
the customer an apology, not a hung request."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from pydantic import SecretStr

from bot.failed_turns import open_failed_turn_log
from bot.messages import message
from tests.conftest import EXAMPLES
from tests.services import chroma_server
from tests.web_server import LiveApp


@pytest.mark.llm
def test_two_workers_continue_one_conversation_then_survive_chroma_going_away(
    settings, redis_url, embeddings, use_encoder, tmp_path
):
    from adapters.web.app import create_app
    from knowledge.admin import KnowledgeBase
    from retrieval.vector_store import FaqStore
    from runtime import build_engine

    with chroma_server(tmp_path / "chroma") as (chroma_url, chroma_process):
        config = settings.updated(
            {
                "chroma.url": chroma_url,
                "redis_url": SecretStr(redis_url),
                "web.session_secret": SecretStr("one-secret-for-every-worker-0123456789"),
                "chroma.collection": f"faq-{uuid.uuid4().hex[:8]}",
            }
        )
        workers = []
        for _ in range(2):  # each worker has its own clients, as separate processes would
            store = FaqStore(config, embeddings, use_encoder=use_encoder)
            kb = KnowledgeBase(store)
            if not workers:
                assert kb.ingest([EXAMPLES]).ok
            workers.append(create_app(config, build_engine(config, store=store), kb))

        with LiveApp(workers[0]) as url_a, LiveApp(workers[1]) as url_b:
            a, b = (
                httpx.Client(base_url=url_a, timeout=180),
                httpx.Client(base_url=url_b, timeout=180),
            )
            created = a.post("/v1/conversations", json={"locale": "en"}).json()
            path = f"/v1/conversations/{created['id']}"
            auth = {"Authorization": f"Bearer {created['token']}"}  # valid on both workers

            first = a.post(path + "/messages", headers=auth, json={"text": "Do you ship to Japan?"})
            assert first.status_code == 200 and first.json()["citations"], first.text
            # The follow-up goes to the other worker, which knows the conversation from Redis
            # and rewrites "it" from the history.
            second = b.post(
                path + "/messages", headers=auth, json={"text": "And how long does it take?"}
            )
            assert second.status_code == 200, second.text
            # (Which shipping entry answers "it" varies with the model's rewrite.)
            titles = [c["title"].lower() for c in second.json()["citations"]]
            assert any("ship" in t or "deliver" in t for t in titles), second.json()
            shown = a.get(path, headers=auth).json()
            assert [m["role"] for m in shown["messages"]] == ["human", "ai"] * 2

            chroma_process.kill()  # the Chroma server dies mid-conversation
            chroma_process.wait(10)
            started = time.monotonic()
            third = b.post(
                path + "/messages", headers=auth, json={"text": "Can I pay with PayPal?"}
            )
            assert third.status_code == 200 and time.monotonic() - started < 60
            assert third.json()["text"] == message("llm_unavailable", "en")
            kept = open_failed_turn_log(config).read()
            assert [(t["conversation"], t["stage"]) for t in kept][-1:] == [
                (f"web:{created['id']}", "retrieval")
            ]

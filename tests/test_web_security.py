"""Attacks on `linguadesk serve`, each through a real uvicorn server on 127.0.0.1: admin-key
guessing, one IPv6 /64 posing as many customers, a worker's turn budget, response headers,
ops pages behind the key, and handoff floods. Webhook signatures and Slack handoff posts are
checked at their receivers."""

from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import Future

import httpx
import pytest
from pydantic import SecretStr

from bot.messages import message
from linguadesk.settings import ConfigError
from tests.conftest import EXAMPLES, WEBHOOK_SECRET
from tests.recording_server import RecordingServer, slack_web_api
from tests.test_web_api import (
    ADMIN_KEY,
    start_conversation,
    web,  # noqa: F401  (the fixture)
)
from tests.web_server import LiveApp

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


# --- 4. admin-key guessing ----------------------------------------------------------------


def test_a_locked_out_address_is_refused_even_with_the_right_key(web):
    with (
        web({"web.admin_api_key": SecretStr(ADMIN_KEY)}) as (url, _),
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        assert client.get("/v1/admin/stats", headers=ADMIN).status_code == 200
        codes = [
            client.get("/v1/admin/stats", headers={"Authorization": f"Bearer guess{n}"}).status_code
            for n in range(12)
        ]
        assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
        # The right key no longer tells anything apart: refused before it is compared.
        right = client.get("/v1/admin/stats", headers=ADMIN)
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0


def test_a_short_admin_key_is_refused_at_start(settings, loaded_kb):
    from adapters.web.app import create_app
    from runtime import build_engine

    config = settings.updated({"web.admin_api_key": SecretStr("short-key-123")})
    with pytest.raises(ConfigError, match="at least 32"):
        create_app(config, build_engine(config, store=loaded_kb.store), loaded_kb)


# --- 5. addresses, proxies and the worker's budget ----------------------------------------


def test_one_ipv6_64_is_one_customer_for_the_rate_limits(web):
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 here, as it would from the proxy.
    with (
        web({"web.rate_limit_new_conversations": "20/minute"}) as (url, _),
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        codes = [
            client.post(
                "/v1/conversations",
                json={"locale": "en"},
                headers={"X-Forwarded-For": f"2001:db8:7:1:{n:x}:0:0:1"},
            ).status_code
            for n in range(22)
        ]
        assert codes.count(201) == 20 and codes[20:] == [429, 429]
        # Another /64 is another customer.
        other = client.post(
            "/v1/conversations",
            json={"locale": "en"},
            headers={"X-Forwarded-For": "2001:db8:7:2::1"},
        )
        assert other.status_code == 201


def test_client_addresses_count_by_network():
    from adapters.web.protection import client_address

    assert client_address("2001:db8:1:2:aaaa::1", 64) == "2001:db8:1:2::/64"
    assert client_address("2001:db8:1:2:ffff::9", 64) == "2001:db8:1:2::/64"
    assert client_address("::ffff:203.0.113.9", 64) == "203.0.113.9"
    assert client_address("203.0.113.9", 64) == "203.0.113.9"
    assert client_address(None, 64) == "unknown"


def test_trusting_every_proxy_is_refused_at_start(settings, loaded_kb):
    from adapters.web.app import create_app
    from runtime import build_engine

    for proxies, words in (
        (["*"], 'not "*"'),
        (["lb.internal"], "not an IP address"),
        (["0.0.0.0/0"], "too wide"),
        (["::/0"], "too wide"),
        (["0.0.0.0/1", "128.0.0.0/1"], "too wide"),
        (["203.0.112.0/20"], "too wide"),
    ):
        config = settings.updated({"web.trusted_proxies": proxies})
        with pytest.raises(ConfigError, match=words):
            create_app(config, build_engine(config, store=loaded_kb.store), loaded_kb)


def test_a_worker_takes_no_more_turns_than_its_budget(web):
    with (
        web({"web.rate_limit_worker_turns": "3/minute"}) as (url, _),
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        codes = []
        for n in range(5):  # each from its own address and conversation
            conversation_id, auth = start_conversation(client, "fr")
            codes.append(
                client.post(
                    f"/v1/conversations/{conversation_id}/handoff",
                    headers={**auth, "X-Forwarded-For": f"198.51.100.{n}"},
                    json={"locale": "fr"},
                )
            )
        assert [r.status_code for r in codes] == [200, 200, 200, 429, 429]
        assert codes[-1].json()["message"] == message("busy", "fr")


# --- 6. response headers and ops pages ----------------------------------------------------


def test_each_kind_of_response_gets_its_headers(loaded_kb, settings):
    from adapters.web.app import create_app
    from runtime import build_engine

    engine = build_engine(settings, store=loaded_kb.store)
    site = EXAMPLES.parents[0] / "demo-shop"
    with (
        LiveApp(create_app(settings, engine, loaded_kb, site=site)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        api = client.post("/v1/conversations", json={"locale": "en"})
        missing = client.get("/v1/nothing-here")
        for response in (api, missing, client.get("/healthz")):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert "default-src 'none'" in response.headers["content-security-policy"]
        script = client.get("/widget.js")
        assert script.headers["x-content-type-options"] == "nosniff"
        assert script.headers["cross-origin-resource-policy"] == "cross-origin"
        assert "x-frame-options" not in script.headers
        docs = client.get("/docs")
        policy = docs.headers["content-security-policy"]
        assert docs.status_code == 200 and "'unsafe-inline'" not in policy.split("style-src")[0]
        assert "script-src https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/ 'sha256-" in policy
        assert "frame-ancestors 'none'" in policy
        page = client.get("/")
        assert page.status_code == 200 and '<script src="/demo.js">' in page.text
        assert "<script>" not in page.text, "the demo page must run under script-src 'self'"
        assert "script-src 'self';" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "SAMEORIGIN"


def test_ops_pages_can_need_the_admin_key_or_be_off(web):
    basic = "Basic " + base64.b64encode(f"ops:{ADMIN_KEY}".encode()).decode()
    with (
        web({"web.admin_api_key": SecretStr(ADMIN_KEY), "web.public_ops": "admin"}) as (url, _),
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        for path in ("/metrics", "/docs", "/openapi.json"):
            refused = client.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"].startswith("Basic")
            assert client.get(path, headers=ADMIN).status_code == 200, path
            assert client.get(path, headers={"Authorization": basic}).status_code == 200, path
        assert client.get("/healthz").status_code == 200  # load balancers still see health
    with (
        web({"web.public_ops": "off"}) as (url, _),
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        for path in ("/metrics", "/docs", "/openapi.json", "/redoc"):
            assert client.get(path).status_code == 404, path
        assert client.get("/healthz").status_code == 200


# --- 9. handoffs: Slack posts as written, bounded and rate-limited ------------------------


def _event(text: str):
    from bot.handoff import HandoffEvent

    return HandoffEvent(
        "web:abc",
        "en",
        f"Customer says {text}",
        [{"role": "human", "text": text, "text_en": text}],
        "customer_asked",
    )


def test_a_customers_mentions_stay_text_in_the_team_channel():
    from adapters.slack.notifier import SlackNotifier

    hostile = (
        "<!channel> @here @channel <https://evil.example|click> <@U123>\n"
        "*Bot:* A refund of $500 was approved by a manager."
    )
    with RecordingServer(slack_web_api) as slack:
        SlackNotifier("xoxb-test-token", "C0SUPPORT", base_url=f"{slack.url}/api/").send(
            _event(hostile)
        )
    posted = slack.received[0].json()
    # Our own header is mrkdwn, shown verbatim; the customer's words only ever as rich text,
    # which Slack shows literally (no mrkdwn, no mentions, no links).
    mrkdwn = [block["text"] for block in posted["blocks"] if "text" in block]
    assert mrkdwn and all(t["type"] == "mrkdwn" and t["verbatim"] is True for t in mrkdwn)
    assert not any("channel>" in t["text"] or "$500" in t["text"] for t in mrkdwn)
    [rich] = [block for block in posted["blocks"] if block["type"] == "rich_text"]
    pieces = [piece for element in rich["elements"] for piece in element["elements"]]
    assert all(piece["type"] == "text" for piece in pieces), "no mention or link elements"
    labels = [p["text"] for p in pieces if p.get("style", {}).get("bold")]
    assert labels == ["Summary:", "Customer:"], "a message cannot add a bold 'Bot:' line"
    assert any(hostile == p["text"] for p in pieces), "the customer's words, unchanged"
    assert posted["parse"] == "none" and posted["link_names"] in (False, "false", 0, "0")
    assert posted["unfurl_links"] in (False, "false", 0, "0")


def test_the_handoff_message_is_labelled_in_the_team_language():
    from adapters.slack.notifier import SlackNotifier

    event = _event("Wo ist meine Bestellung?")
    event.transcript.append({"role": "ai", "text": "Einen Moment.", "text_en": "One moment."})
    with RecordingServer(slack_web_api) as slack:
        SlackNotifier(
            "xoxb-test-token", "C0SUPPORT", base_url=f"{slack.url}/api/", team_language="de"
        ).send(event)
    [rich] = [b for b in slack.received[0].json()["blocks"] if b["type"] == "rich_text"]
    pieces = [piece for element in rich["elements"] for piece in element["elements"]]
    labels = [p["text"] for p in pieces if p.get("style", {}).get("bold")]
    assert labels == [
        message(k, "de") for k in ("team_summary", "team_said_customer", "team_said_bot")
    ]
    assert labels[0] != message("team_summary", "en")


def test_handoffs_are_limited_per_conversation_and_the_queue_is_bounded(loaded_kb, settings):
    from bot.engine import Engine, Turn
    from bot.handoff import HandoffService
    from retrieval.hybrid import HybridSearch
    from retrieval.retriever import FaqRetriever

    class Stuck:  # a team channel that never finishes delivering
        def __init__(self):
            self.gate = Future()

        def send(self, event):
            self.gate.result(timeout=30)

    stuck = Stuck()
    service = HandoffService(
        [stuck], None, settings.data_dir / "outbox", queue_max=1, per_conversation="2/hour"
    )
    engine = Engine(
        FaqRetriever(search=HybridSearch(loaded_kb.store), k=4),
        lambda: None,
        min_confidence=settings.answers.min_confidence,
        handoff=service,
    )
    try:
        first = engine.start_handoff(Turn("", conversation_id="c1"), language="de")
        assert first.final() == message("handoff_started", "de")
        # The queue holds one: another conversation is told to try again, nothing is queued.
        busy = engine.start_handoff(Turn("", conversation_id="c2"), language="ja")
        assert busy.status == "handoff_limited" and busy.final() == message("busy", "ja")
        assert not engine.conversations.state("c2").handed_off
        stuck.gate.set_result(None)
        first.handoff.result(timeout=30)
        engine.release("c1")
        # Once more is within c1's two per hour; the third is refused.
        again = engine.start_handoff(Turn("", conversation_id="c1"), language="de")
        again.final()
        again.handoff.result(timeout=30)
        engine.release("c1")
        third = engine.start_handoff(Turn("", conversation_id="c1"), language="de")
        assert third.status == "handoff_limited" and third.final() == message("slow_down", "de")
    finally:
        if not stuck.gate.done():
            stuck.gate.set_result(None)


def test_handoffs_are_limited_per_address_however_they_are_asked_for(web):
    with (
        RecordingServer() as team,
        web({"handoff.webhook_url": team.url, "handoff.rate_limit_ip": "2/hour"}) as (url, engine),
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        statuses = []
        for _ in range(3):
            conversation_id, auth = start_conversation(client, "en")
            statuses.append(
                client.post(
                    f"/v1/conversations/{conversation_id}/messages",
                    headers=auth,
                    json={"text": "I want to talk to a human"},
                ).json()
            )
        assert [s["status"] for s in statuses] == ["handoff", "handoff", "handoff_limited"]
        assert statuses[-1]["text"] == message("slow_down", "en")
        conversation_id, auth = start_conversation(client, "en")
        button = client.post(
            f"/v1/conversations/{conversation_id}/handoff", headers=auth, json={"locale": "en"}
        )
        assert button.json()["status"] == "handoff_limited"


def test_a_slow_team_receiver_does_not_hold_the_answer_slots(web):
    """The slot covers the summary's LLM work, not the wait for a slow webhook."""

    answered = []
    let_go = threading.Event()

    def slow(received):
        let_go.wait(60)
        answered.append(received)
        return 200, {"ok": True}

    with (
        RecordingServer(slow) as team,
        web(
            {
                "handoff.webhook_url": team.url,
                "web.max_concurrent_turns": 1,
                "web.queue_timeout_s": 2,
            }
        ) as (url, _),
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        codes = []
        for _ in range(2):
            conversation_id, auth = start_conversation(client, "en")
            codes.append(
                client.post(
                    f"/v1/conversations/{conversation_id}/handoff",
                    headers=auth,
                    json={"locale": "en"},
                ).status_code
            )
        assert codes == [200, 200], "the second handoff got the slot the first had freed"
        assert not answered, "the receiver had answered a delivery meanwhile"
        let_go.set()


# --- 10. the handoff webhook: signed with a timestamp, required --------------------------


def test_a_recorded_webhook_cannot_be_replayed_later():
    from bot.handoff import WebhookNotifier, verify_webhook

    with RecordingServer() as receiver:
        WebhookNotifier(receiver.url, WEBHOOK_SECRET).send(_event("hello"))
    got = receiver.received[0]
    sent_at = int(got.headers["x-linguadesk-timestamp"])
    assert abs(sent_at - time.time()) < 60
    assert verify_webhook(WEBHOOK_SECRET, got.headers, got.body)
    # The same request, replayed six minutes later, is refused.
    assert not verify_webhook(WEBHOOK_SECRET, got.headers, got.body, now=sent_at + 360)
    # A fresh timestamp on the old body does not match the signature.
    fresh = {**got.headers, "x-linguadesk-timestamp": str(sent_at + 360)}
    assert not verify_webhook(WEBHOOK_SECRET, fresh, got.body, now=sent_at + 360)
    # Nor does another body, or another secret.
    assert not verify_webhook(WEBHOOK_SECRET, got.headers, got.body + b" ")
    assert not verify_webhook("another-secret-0123456789abcdef0123", got.headers, got.body)
    # Crafted headers are refused, not raised on.
    for crafted in (
        {"x-linguadesk-timestamp": "9" * 4000},
        {"x-linguadesk-timestamp": "-1"},
        {"x-linguadesk-signature": "sha256=ü"},
        {"x-linguadesk-timestamp": ""},
    ):
        assert not verify_webhook(WEBHOOK_SECRET, {**got.headers, **crafted}, got.body)
    assert not verify_webhook(WEBHOOK_SECRET, {}, got.body)


def test_a_webhook_without_a_secret_is_refused_at_start(settings):
    from runtime import build_handoff

    for secret in (None, SecretStr("too-short")):
        config = settings.updated(
            {"handoff.webhook_url": "http://127.0.0.1:9/hook", "handoff.webhook_secret": secret}
        )
        with pytest.raises(ConfigError, match="LINGUADESK_HANDOFF__WEBHOOK_SECRET"):
            build_handoff(config, lambda: None)

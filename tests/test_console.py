"""The support console at /admin: its session (the admin key for an HttpOnly SameSite=Strict
cookie, a CSRF token for every change), and the page itself in the real Chromium against the
real app: sign in, the inbox and a reply to a handoff, a gap draft approved, the charts, and
hostile text from customers and the FAQ shown as text."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.conversations import ConversationState, Feedback, Message, Role, conversation_key
from bot.messages import message
from tests.web_server import LiveApp

ADMIN_KEY = "console-test-admin-key-0123456789abcdef"
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
# Set to a folder (docs/) to keep the screenshots the browser test takes.
SCREENSHOTS = os.environ.get("LINGUADESK_SCREENSHOTS")


@contextmanager
def console_app(settings, kb, changes: dict | None = None):
    from adapters.web.app import create_app
    from runtime import build_engine

    config = settings.updated({"web.admin_api_key": SecretStr(ADMIN_KEY), **(changes or {})})
    engine = build_engine(config, store=kb.store)
    with LiveApp(create_app(config, engine, kb)) as url:
        yield url, engine


def sign_in(client: httpx.Client) -> str:
    signed = client.post("/v1/admin/session", json={"key": ADMIN_KEY})
    assert signed.status_code == 200, signed.text
    return signed.json()["csrf"]


def handed_off(engine, key: str, *messages: Message) -> None:
    """A conversation a person has, as a handoff leaves it."""
    engine.conversations.append(key, *messages)
    engine.conversations.save_state(
        key,
        ConversationState(
            language=messages[0].language, handed_off=True, handed_off_at=time.time()
        ),
    )


def test_the_console_needs_a_session_and_a_csrf_token_and_never_shows_the_key(settings, loaded_kb):
    with (
        console_app(settings, loaded_kb) as (url, engine),
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        page = client.get("/admin")
        assert page.status_code == 200 and "/admin/console.js" in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        script = client.get("/admin/console.js").text
        assert message("console_sign_in", "ja") in script and "innerHTML" not in script

        # No session: refused, whatever the request.
        assert client.get("/v1/admin/conversations").status_code == 401
        client.cookies.set("linguadesk_console", "9999999999.forged.signature")
        refused = client.get("/v1/admin/conversations")
        assert refused.status_code == 401 and refused.json()["error"] == "session_expired"
        client.cookies.clear()
        for forged in (b"1.a.\xe9", b"..", b"x" * 3000):
            cookie = {"Cookie": b"linguadesk_console=" + forged}
            assert client.get("/v1/admin/stats", headers=cookie).status_code == 401
        # Yesterday's cookies of a whole shift behind one address lock nobody out.
        from adapters.web.protection import session_secret
        from adapters.web.sessions import ConsoleSessions

        stale = ConsoleSessions(session_secret(settings), ADMIN_KEY, ttl_s=-60).new()
        for _ in range(12):
            client.cookies.set("linguadesk_console", stale)
            assert client.get("/v1/admin/stats").status_code == 401
        client.cookies.clear()

        wrong = client.post("/v1/admin/session", json={"key": "not-the-key"})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        signed = client.post("/v1/admin/session", json={"key": ADMIN_KEY}, headers={"Origin": url})
        assert signed.status_code == 200
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert ADMIN_KEY not in cookie and ADMIN_KEY not in signed.text
        csrf = signed.json()["csrf"]

        # Reading needs the session only; changing needs the CSRF token too.
        assert client.get("/v1/admin/stats").status_code == 200
        assert client.get("/v1/admin/session").json()["csrf"] == csrf  # after a reload
        key = conversation_key("web", "abc123")
        handed_off(engine, key, Message(Role.HUMAN, "I need a person", "en"))
        for headers in ({}, {"X-CSRF-Token": "guessed"}):
            changed = client.post(f"/v1/admin/conversations/{key}/release", headers=headers)
            assert changed.status_code == 403 and changed.json()["error"] == "csrf_token_missing"
        assert engine.conversations.state(key).handed_off  # nothing changed
        foreign = client.post(
            f"/v1/admin/conversations/{key}/release",
            headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403 and engine.conversations.state(key).handed_off
        released = client.post(
            f"/v1/admin/conversations/{key}/release", headers={"X-CSRF-Token": csrf}
        )
        assert released.status_code == 200 and not engine.conversations.state(key).handed_off

        # Signing in from another site's page is refused; so is the key sent by a page.
        assert (
            client.post(
                "/v1/admin/session",
                json={"key": ADMIN_KEY},
                headers={"Origin": "https://evil.example"},
            ).status_code
            == 403
        )
        from_page = httpx.get(
            f"{url}/v1/admin/stats", headers={"Authorization": f"Bearer {ADMIN_KEY}", "Origin": url}
        )
        assert from_page.status_code == 403

        # Signing out ends it in this browser.
        out = client.delete("/v1/admin/session", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200 and 'linguadesk_console=""' in out.headers["set-cookie"]
        client.cookies.clear()
        assert client.get("/v1/admin/stats").status_code == 401

    # A new admin key ends every session signed under the old one.
    with httpx.Client(timeout=60) as client:
        with console_app(settings, loaded_kb) as (url, _):
            client.base_url = httpx.URL(url)
            sign_in(client)
            assert client.get(f"{url}/v1/admin/stats").status_code == 200
        other = {"web.admin_api_key": SecretStr("another-admin-key-0123456789abcdefgh")}
        with console_app(settings, loaded_kb, other) as (url, _):
            assert client.get(f"{url}/v1/admin/stats").status_code == 401


def test_the_console_api_lists_searches_and_counts_conversations(settings, loaded_kb):
    with (
        console_app(settings, loaded_kb) as (url, engine),
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        client.headers["X-CSRF-Token"] = sign_in(client)
        waiting = conversation_key("slack", "T1", "C2", "1700000000.000100")
        handed_off(engine, waiting, Message(Role.HUMAN, "Wo bleibt mein Paket?", "de"))
        answered = conversation_key("web", "answered1")
        engine.conversations.append(
            answered,
            Message(Role.HUMAN, "Can I pay with PayPal?", "en"),
            Message(Role.AI, "Yes, we accept PayPal [1].", "en", id="r1"),
        )
        assert engine.desk.rate(answered, "r1", "down", "too short")

        inbox = client.get("/v1/admin/conversations", params={"status": "handed_off"}).json()
        assert [c["id"] for c in inbox] == [waiting]
        assert inbox[0]["channel"] == "slack" and inbox[0]["language"] == "de"
        found = client.get("/v1/admin/conversations", params={"q": "paypal"}).json()
        assert [c["id"] for c in found] == [answered] and found[0]["feedback"] == {"down": 1}
        assert client.get("/v1/admin/conversations", params={"channel": "discord"}).json() == []
        assert [
            c["id"] for c in client.get("/v1/admin/conversations", params={"language": "de"}).json()
        ] == [waiting]
        shown = client.get(f"/v1/admin/conversations/{answered}").json()
        assert shown["transcript"][1]["feedback"] == {"rating": "down", "comment": "too short"}
        assert client.get("/v1/admin/conversations/web:gone").status_code == 404

        hits = client.post("/v1/admin/search", json={"query": "Can I pay with PayPal?"}).json()
        assert hits and 0 <= hits[0]["relevance"] <= 1 and hits[0]["source"]
        listed = client.get("/v1/admin/entries").json()
        assert listed["total"] == loaded_kb.stats().entries

        from bot.turn_log import TurnRecord

        for outcome, seconds in (("answered", 1.0), ("answered", 3.0), ("no_answer", 2.0)):
            engine.turns.record(TurnRecord("turn", "web", "ja", outcome, seconds))
        numbers = client.get("/v1/admin/overview", params={"since": "1h"}).json()
        assert numbers["turns"] == 3 and numbers["by_language"] == {"ja": 3}
        assert numbers["rates"]["answered"] == pytest.approx(2 / 3, abs=1e-3)
        assert numbers["p50_seconds"] == 2.0 and numbers["feedback"]["down"] == 1
        chart = client.get("/v1/admin/overview/languages.svg", params={"since": "1h", "lang": "de"})
        assert chart.headers["content-type"].startswith("image/svg+xml")
        assert "Japanisch" in chart.text and "<script" not in chart.text
        assert client.get("/v1/admin/overview", params={"since": "soon"}).status_code == 422


def console_page(browser, url: str, language: str = "en"):
    context = browser.new_context(locale=language, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/admin")
    return context, page, errors


def console_sign_in(page, language: str = "en") -> None:
    page.get_by_label(message("console_key", language)).fill(ADMIN_KEY)
    page.get_by_role("button", name=message("console_sign_in", language)).click()
    page.get_by_role("tab", name=message("console_inbox", language)).wait_for()


def shoot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"console-{name}.png"))


def test_hostile_text_from_customers_and_the_faq_shows_as_text_in_the_console(
    settings, kb, tmp_path
):
    from bot.gaps import GapTurn
    from tests.test_widget_browser import browser_session

    faq = tmp_path / "hostile.md"
    faq.write_text(f"## {HOSTILE} How do returns work?\nSend it back within 30 days. {HOSTILE}\n")
    assert kb.ingest([faq]).ok
    with console_app(settings, kb) as (url, engine), browser_session() as browser:
        key = conversation_key("web", "hostile1")
        handed_off(
            engine,
            key,
            Message(Role.HUMAN, f"Hi {HOSTILE}", "en"),
            Message(Role.AI, f"Answer {HOSTILE}", "en", id="r1"),
        )
        engine.conversations.add_feedback(key, Feedback("r1", "down", HOSTILE, "Answer"))
        for n in range(3):
            engine.gaps.record(
                GapTurn(f"Do you sell {HOSTILE} gift cards?", "no_answer", "en", f"web:g{n}", "web")
            )
        context, page, errors = console_page(browser, url)
        try:
            console_sign_in(page)
            page.locator("button[data-conversation]").first.click()
            page.locator(".msg.human .text", has_text=HOSTILE).wait_for()
            page.locator(".rating.down", has_text=HOSTILE).wait_for()
            page.get_by_role("tab", name=message("console_gaps", "en")).click()
            page.locator(".gap li", has_text=HOSTILE).first.wait_for(timeout=120_000)
            page.get_by_role("tab", name=message("console_kb", "en")).click()
            page.locator("td", has_text=HOSTILE).first.wait_for()
            assert page.evaluate("window.__pwned") is None
            assert page.locator("main img[src=x], main script").count() == 0
            assert not errors, errors
        finally:
            context.close()


@pytest.mark.llm
def test_a_german_agent_answers_a_japanese_customer_approves_a_gap_and_sees_the_charts(
    settings, loaded_kb
):
    """The console in German, the customer in Japanese (the widget's API), through the real
    llama.cpp server."""
    from bot.gaps import GapLog
    from common.language import detect_language
    from tests.conftest import WEBHOOK_SECRET
    from tests.recording_server import RecordingServer
    from tests.test_team_chat import seeded_gaps
    from tests.test_web_api import start_conversation
    from tests.test_widget_browser import browser_session

    de = "de"
    with (
        RecordingServer() as team,
        console_app(
            settings,
            loaded_kb,
            {
                "handoff.webhook_url": f"{team.url}/handoff",
                "handoff.webhook_secret": SecretStr(WEBHOOK_SECRET),
            },
        ) as (url, engine),
        httpx.Client(base_url=url, timeout=300) as customer,
        browser_session() as browser,
    ):
        seeded_gaps(GapLog(settings.data_dir / "gaps.jsonl"))
        conversation, auth = start_conversation(customer, "ja")
        asked = customer.post(
            f"/v1/conversations/{conversation}/messages",
            headers={**auth, "Accept": "application/json"},
            json={"text": "注文した靴がまだ届きません。返品はできますか？", "locale": "ja"},
        )
        assert asked.status_code == 200, asked.text
        handoff = customer.post(
            f"/v1/conversations/{conversation}/handoff", headers=auth, json={"locale": "ja"}
        )
        assert handoff.json()["status"] == "handoff", handoff.text

        context, page, errors = console_page(browser, url, "de-DE")
        try:
            console_sign_in(page, de)
            assert page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it
            assert ADMIN_KEY not in str(page.evaluate("JSON.stringify(localStorage)"))

            # The inbox: the Japanese customer, their message translated into German.
            page.locator("button[data-conversation]").first.click()
            page.locator(".msg.human .other").first.wait_for(timeout=240_000)
            translation = page.locator(".msg.human .other").first.inner_text()
            assert detect_language(translation.split(":", 1)[1]).language == "de", translation
            page.get_by_label(message("console_your_name", de)).fill("Anna")
            page.get_by_role("button", name=message("team_take", de)).click()
            page.locator(".card .meta", has_text="Anna").first.wait_for()
            page.get_by_label(message("console_reply", de)).fill(
                "Ihre Rückerstattung wurde heute überwiesen. Sie kommt innerhalb von 5 Werktagen an."
            )
            page.get_by_role("button", name=message("console_send", de)).click()
            sent = page.locator("#sent .msg.agent")
            sent.wait_for(timeout=240_000)
            japanese = sent.inner_text()
            assert detect_language(japanese).language == "ja" and "5" in japanese, japanese
            shoot(page, "inbox")

            # The customer reads it in Japanese, signed; given back, the bot is theirs again.
            seen = customer.get(f"/v1/conversations/{conversation}", headers=auth).json()
            agent = [m for m in seen["messages"] if m["role"] == "agent"]
            assert agent and agent[-1]["text"] == japanese and agent[-1]["author"] == "Anna"
            page.get_by_role("button", name=message("team_give_back", de)).click()
            page.locator("#status.ok").wait_for()
            seen = customer.get(f"/v1/conversations/{conversation}", headers=auth).json()
            assert seen["messages"][-1]["text"] == message("handoff_released", "ja")
            assert not engine.conversations.state(conversation_key("web", conversation)).handed_off

            # Gaps: 240 failed turns in 6 languages, grouped; one draft edited and approved.
            page.evaluate("localStorage.setItem('linguadesk-console-gaps-translate', 'false')")
            page.get_by_role("tab", name=message("console_gaps", de)).click()
            card = page.locator(".gap").first
            card.wait_for(timeout=240_000)
            assert page.locator(".gap").count() >= 6
            card.get_by_role("button", name=message("console_draft", de)).click()
            answer = card.get_by_label(message("console_answer", de))
            answer.wait_for(timeout=240_000)
            question = card.get_by_label(message("console_question", de)).input_value()
            answer.fill(
                "Ja. Wählen Sie an der Kasse die Option aus; sie kostet 3,50 € pro Bestellung."
            )
            shoot(page, "gaps")
            card.get_by_role("button", name=message("console_approve", de)).click()
            card.locator(".approved").wait_for(timeout=120_000)

            # The knowledge base finds the approved entry for its question.
            page.get_by_role("tab", name=message("console_kb", de)).click()
            page.get_by_label(message("console_question", de)).fill(question)
            page.get_by_role("button", name=message("console_test", de)).click()
            top = page.locator("#kb-hits tbody tr").first
            top.wait_for()
            assert "gaps:approved" in top.inner_text(), (question, top.inner_text())

            # The overview: the turns counted, four charts drawn.
            page.get_by_role("tab", name=message("console_overview", de)).click()
            page.locator("img[data-chart]").nth(3).wait_for()
            page.wait_for_function(
                "[...document.querySelectorAll('img[data-chart]')]"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
            assert int(page.locator(".tile b").first.inner_text()) >= 1
            shoot(page, "overview")
            assert not errors, errors
        finally:
            context.close()

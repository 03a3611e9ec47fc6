"""The widget in a real browser: Debian's Chromium driven by Playwright, on the demo shop page
served by the real app (real store, embeddings and llama.cpp server)."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

import httpx
import pytest
from pydantic import SecretStr

from bot.messages import message
from common.language import detect_language
from linguadesk.settings import Settings
from tests.conftest import EXAMPLES, MODELS_DIR, ROOT, WEBHOOK_SECRET
from tests.recording_server import RecordingServer
from tests.web_server import LiveApp

CHROMIUM = os.environ.get("LINGUADESK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# What a root CI container needs; the network flags stop Chromium calling Google's services.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = "<img src=x onerror=alert(1)>"
ADMIN_KEY = "widget-test-admin-key-0123456789"
WIDGET = "#linguadesk-widget"

pytestmark = pytest.mark.llm


@contextmanager
def browser_session():
    """Chromium, launched by Playwright (skips the test where it is not installed)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; "
            "`make test` does it when run as root)"
        )
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser():
    with browser_session() as launched:
        yield launched


@pytest.fixture(scope="module")
def shop(tmp_path_factory, embeddings, use_encoder):
    """The demo shop page and the API on one origin, over the sample FAQ plus an entry whose
    question and answer carry HTML."""
    from adapters.web.app import create_app
    from knowledge.admin import KnowledgeBase
    from retrieval.vector_store import FaqStore
    from runtime import build_engine

    folder = tmp_path_factory.mktemp("widget")
    hostile = folder / "reviews.md"
    hostile.write_text(
        "---\nurl: https://shop.example.com/help/reviews\n---\n"
        f"## How do I add a photo to my product review? {HOSTILE}\n"
        f"Open your order, choose 'Write a review' and press 'Add photo'. Reviews show text "
        f"exactly as typed, so {HOSTILE} and <script>alert(2)</script> appear as written.\n"
    )
    with RecordingServer() as team:  # the support team's handoff webhook
        settings = Settings(
            data_dir=folder / "data",
            model_dir=MODELS_DIR,
            handoff={
                "webhook_url": f"{team.url}/handoff",
                "webhook_secret": SecretStr(WEBHOOK_SECRET),
            },
            web={"admin_api_key": SecretStr(ADMIN_KEY)},
        )
        store = FaqStore(settings, embeddings, use_encoder=use_encoder)
        kb = KnowledgeBase(store)
        assert kb.ingest([EXAMPLES, hostile]).ok
        engine = build_engine(settings, store=store)
        app = create_app(settings, engine, kb, site=ROOT / "examples" / "demo-shop")
        with LiveApp(app) as url:
            yield url, engine


@contextmanager
def open_widget(browser, url: str, locale: str, query: str = ""):
    """A fresh browser context in ``locale`` on the demo page, the widget opened."""
    context = browser.new_context(locale=locale, viewport={"width": 1100, "height": 760})
    try:
        page = context.new_page()
        page.alerts = []
        page.on("dialog", lambda dialog: (page.alerts.append(dialog.message), dialog.dismiss()))
        page.goto(f"{url}/{query}")
        page.locator(f"{WIDGET} .launcher").click()
        page.locator(f"{WIDGET} .panel").wait_for(state="visible")
        yield page
    finally:
        context.close()


def ask(page, text: str) -> str:
    """Types a question, waits for the whole answer; returns its text."""
    done = page.locator(f"{WIDGET} .msg.bot .tools")
    before = done.count()
    with page.expect_response(lambda r: r.url.endswith("/messages")) as response:
        page.locator(f"{WIDGET} textarea").fill(text)
        page.keyboard.press("Enter")
    assert response.value.headers["content-type"].startswith("text/event-stream")
    done.nth(before).wait_for(timeout=180_000)
    return page.locator(f"{WIDGET} .msg.bot .body").last.inner_text()


def shadow(page, script: str):
    return page.evaluate(
        f"(() => {{ const root = document.querySelector('{WIDGET}').shadowRoot; "
        f"return {script}; }})()"
    )


def test_spanish_customer_gets_streamed_answers_follow_ups_and_history(browser, shop):
    url, engine = shop
    with open_widget(browser, url, "es-ES") as page:
        # Opening moves focus to the text box; the UI follows the browser's language.
        assert shadow(page, "root.activeElement && root.activeElement.id") == "ld-input"
        assert page.locator(f"{WIDGET} textarea").get_attribute("placeholder") == message(
            "widget_placeholder", "es"
        )
        assert page.locator(f"{WIDGET} .launcher").get_attribute("aria-expanded") == "true"
        # Chunks are shown as they arrive: count how often the answer's text changes.
        shadow(
            page,
            "(window.__changes = 0, new MutationObserver(() => window.__changes++)"
            ".observe(root.querySelector('.log'), {subtree: true, childList: true, "
            "characterData: true}), true)",
        )

        answer = ask(page, "¿Cuánto tarda el envío internacional?")
        assert detect_language(answer).language == "es", answer
        assert page.evaluate("window.__changes") >= 3  # question, empty answer, text, sources
        link = page.locator(f"{WIDGET} .msg.bot .sources a").first
        assert link.get_attribute("href").startswith("https://shop.example.com/")
        assert link.get_attribute("rel") == "noopener noreferrer nofollow"

        follow_up = ask(page, "¿Y cuánto cuesta el envío exprés?")
        assert detect_language(follow_up).language == "es", follow_up

        helpful = page.get_by_role("button", name=message("feedback_helpful", "es")).first
        helpful.click()
        page.get_by_role("status").first.wait_for()
        assert (
            page.get_by_role("button", name=message("feedback_helpful", "es")).first.get_attribute(
                "aria-pressed"
            )
            == "true"
        )
        conversation = page.evaluate(f"JSON.parse(localStorage.getItem('linguadesk:{url}')).id")
        assert [f.rating for f in engine.conversations.feedback(f"web:{conversation}")] == ["up"]

        page.reload()
        page.locator(f"{WIDGET} .panel").wait_for(state="visible")  # it stays open
        questions = page.locator(f"{WIDGET} .msg.user").all_inner_texts()
        assert [q.split("\n")[-1] for q in questions] == [
            "¿Cuánto tarda el envío internacional?",
            "¿Y cuánto cuesta el envío exprés?",
        ]
        assert page.locator(f"{WIDGET} .msg.bot .sources a").count() >= 2

        # Escape closes the panel and gives focus back to the launcher.
        page.locator(f"{WIDGET} textarea").focus()
        page.keyboard.press("Escape")
        page.locator(f"{WIDGET} .panel").wait_for(state="hidden")
        assert shadow(page, "root.activeElement.className") == "launcher"

        # "New conversation" starts over with the greeting.
        page.locator(f"{WIDGET} .launcher").click()
        page.get_by_role("button", name=message("new_conversation", "es")).click()
        page.locator(f"{WIDGET} .msg.user").first.wait_for(state="detached")
        greeting = page.locator(f"{WIDGET} .msg.bot")
        greeting.first.wait_for()
        assert greeting.count() == 1
        assert greeting.first.inner_text().endswith(message("greeting", "es"))


def test_arabic_page_gets_a_right_to_left_panel(browser, shop):
    url, _ = shop
    with open_widget(browser, url, "en-US", "?lang=ar") as page:
        panel = page.locator(f"{WIDGET} .panel")
        assert panel.get_attribute("dir") == "rtl" and panel.get_attribute("lang") == "ar"
        assert panel.evaluate("node => getComputedStyle(node).direction") == "rtl"
        assert page.locator(f"{WIDGET} textarea").get_attribute("placeholder") == message(
            "widget_placeholder", "ar"
        )
        assert page.get_by_role("button", name=message("talk_to_human", "ar")).is_visible()
        answer = ask(page, "كم تستغرق مدة الشحن الدولي؟")
        assert detect_language(answer).language == "ar", answer
        assert page.locator(f"{WIDGET} .sources h3").last.inner_text() == message("sources", "ar")


def test_html_from_the_faq_the_model_or_the_customer_is_shown_as_text(browser, shop):
    url, _ = shop
    with open_widget(browser, url, "en-US") as page:
        page.locator(f"{WIDGET} textarea").fill(f"<b>hi</b>{HOSTILE}")
        page.keyboard.press("Enter")
        page.locator(f"{WIDGET} .msg.user").first.wait_for()
        assert HOSTILE in page.locator(f"{WIDGET} .msg.user").first.inner_text()
        page.locator(f"{WIDGET} .msg.bot .tools").first.wait_for(timeout=180_000)

        ask(page, "How do I add a photo to my product review?")
        shown = page.locator(f"{WIDGET} .log").inner_text()
        assert HOSTILE in shown  # the entry's title, as its citation, at least
        # The model's Markdown goes through the same renderer: links only to http(s)/mailto.
        rendered = page.evaluate("""() => {
            const box = document.createElement('div');
            box.append(window.Linguadesk.renderMarkdown(
              '**bold** [x](javascript:alert(3)) <script>alert(4)</script> ' +
              '<img src=y onerror=alert(5)> [ok](https://shop.example.com/a)', []));
            return {html: box.innerHTML, links: [...box.querySelectorAll('a')].map(a => a.href)};
        }""")
        assert rendered["links"] == ["https://shop.example.com/a"]
        assert "<strong>bold</strong>" in rendered["html"] and "&lt;script&gt;" in rendered["html"]
        page.wait_for_timeout(300)
        assert shadow(page, "root.querySelectorAll('img, script, iframe').length") == 0
        assert page.alerts == []


def test_the_page_css_does_not_reach_the_widget(browser, shop):
    url, _ = shop
    with open_widget(browser, url, "en-US") as page:
        page_button = page.locator("main button").first
        assert page_button.evaluate("b => getComputedStyle(b).textTransform") == "uppercase"
        send = page.locator(f"{WIDGET} form button")
        assert send.evaluate("b => getComputedStyle(b).textTransform") == "none"
        assert "Georgia" not in send.evaluate("b => getComputedStyle(b).fontFamily")
        # …and the widget adds no styles to the page.
        assert page.evaluate("document.styleSheets.length") == 1


def test_a_refused_message_goes_back_into_the_box_with_a_localized_notice(browser, shop):
    url, _ = shop
    with open_widget(browser, url, "fr-FR") as page:
        page.locator(f"{WIDGET} .msg.bot").first.wait_for()  # the greeting: conversation started
        too_long = "Est-ce que vous livrez en Suisse ? " * 80
        # The box stops typing at 2,000 characters; a server configured lower refuses sooner.
        shadow(page, "root.querySelector('textarea').removeAttribute('maxlength')")
        page.locator(f"{WIDGET} textarea").fill(too_long)
        page.keyboard.press("Enter")
        page.locator(f"{WIDGET} .msg.notice").wait_for()
        assert (
            page.locator(f"{WIDGET} .msg.notice")
            .inner_text()
            .endswith(message("message_too_long", "fr"))
        )
        assert page.locator(f"{WIDGET} textarea").input_value() == too_long.strip()
        assert page.locator(f"{WIDGET} .msg.user").count() == 0


def test_a_person_of_the_team_answers_in_the_widget_after_a_handoff(browser, shop):
    url, engine = shop
    with open_widget(browser, url, "de-DE") as page:
        page.locator(f"{WIDGET} .msg.bot").first.wait_for()
        page.get_by_role("button", name=message("talk_to_human", "de")).last.click()
        handed = page.locator(f"{WIDGET} .msg.bot").nth(1)
        handed.wait_for()
        assert handed.inner_text().endswith(message("handoff_started", "de"))
        conversation = page.evaluate(f"JSON.parse(localStorage.getItem('linguadesk:{url}')).id")
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=url, headers=admin, timeout=30) as team:
            sent = team.post(
                f"/v1/admin/conversations/{conversation}/messages",
                json={"text": "Hallo, hier ist **Anna** vom Support. Wie kann ich helfen?"},
            )
            assert sent.status_code == 200, sent.text
            reply = page.locator(f"{WIDGET} .msg.agent")
            reply.wait_for(timeout=15_000)  # the widget polls every 4 s while a person has it
            assert reply.locator(".who").inner_text() == message("widget_agent", "de")
            assert reply.locator("strong").inner_text() == "Anna"
            page.reload()  # kept across page loads, and not shown twice
            page.locator(f"{WIDGET} .msg.agent").first.wait_for()
            page.wait_for_timeout(5000)
            assert page.locator(f"{WIDGET} .msg.agent").count() == 1
            assert team.post(f"/v1/admin/conversations/{conversation}/release").json()["released"]
        page.wait_for_function(
            f"() => !JSON.parse(localStorage.getItem('linguadesk:{url}')).waiting", timeout=15_000
        )


def test_the_event_stream_reader_takes_crlf_split_across_chunks(browser, shop):
    url, _ = shop
    with open_widget(browser, url, "en-US") as page:
        events = page.evaluate("""async () => {
            const chunks = ['event: token\\r', '\\ndata: {"text": "a"}\\r\\n\\r', '\\n',
                            'event: done\\r\\ndata: {"text": "a"}\\r\\n\\r\\n'];
            const body = new ReadableStream({start(c) {
                for (const x of chunks) c.enqueue(new TextEncoder().encode(x)); c.close(); }});
            const seen = [];
            await window.Linguadesk.readEvents(new Response(body), (e, p) => seen.push([e, p.text]));
            return seen;
        }""")
        assert events == [["token", "a"], ["done", "a"]]


def test_a_shop_on_another_origin_embeds_the_widget_under_its_own_strict_policy(
    browser, tmp_path, embeddings, use_encoder
):
    """The security headers must not break embedding: widget.js from the bot's origin, on a
    shop page whose own CSP allows nothing inline but styles, and only the bot for scripts and
    requests."""
    from adapters.web.app import create_app
    from knowledge.admin import KnowledgeBase
    from retrieval.vector_store import FaqStore
    from runtime import build_engine
    from tests.web_server import FileServer

    page_dir = tmp_path / "shop"
    page_dir.mkdir()
    with FileServer(page_dir) as shop_url:
        settings = Settings(
            data_dir=tmp_path / "data", model_dir=MODELS_DIR, web={"allowed_origins": [shop_url]}
        )
        store = FaqStore(settings, embeddings, use_encoder=use_encoder)
        kb = KnowledgeBase(store)
        assert kb.ingest([EXAMPLES]).ok
        with LiveApp(create_app(settings, build_engine(settings, store=store), kb)) as bot:
            script = httpx.get(f"{bot}/widget.js")
            assert script.headers["cross-origin-resource-policy"] == "cross-origin"
            (page_dir / "index.html").write_text(
                "<!doctype html><html lang='en'><head><meta http-equiv='Content-Security-Policy'"
                f" content=\"default-src 'none'; script-src {bot}; connect-src {bot}; "
                "style-src 'unsafe-inline'\"><title>Another shop</title></head><body>"
                f"<h1>Another shop</h1><script src='{bot}/widget.js' defer></script>"
                "</body></html>"
            )
            with open_widget(browser, shop_url, "en-US") as page:
                answer = ask(page, "How much does express shipping cost?")
                assert answer.strip() and detect_language(answer).language == "en", answer
                assert not page.alerts

"""Citation links (security finding 7): an entry link that is not a plain http(s) or mailto
address is refused at ingest, naming the entry, and one stored before that check leaves the
engine as "" (the citation stays, without its link), so no API client gets a javascript: URL."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from bot.engine import Engine, Turn
from bot.reply import citation as _citation
from common.hits import Hit
from common.language import detect_language
from common.links import is_safe_link, link_problem, safe_link
from knowledge.chunking import entries_to_chunks
from knowledge.entries import Chunk, FaqEntry, SourceError
from retrieval.hybrid import HybridSearch
from retrieval.retriever import FaqRetriever

UNSAFE = [
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    " JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "\x01javascript:alert(1)",
    "file:///etc/passwd",
    "/help/returns",
    "https://user:secret@shop.example.com/help",
    "https:shop.example.com",
    "https://shop.example.com/a b",
    "https://shop.example.com/\u200b",
    "http://[::1",
    "mailto:",
    "https://shop.example.com/x)[pay](https://evil.example)",
]
SAFE = [
    "https://shop.example.com/help#returns",
    "http://shop.example.com",
    "HTTPS://SHOP.EXAMPLE.COM",
    "mailto:help@shop.example.com?subject=Order",
    "https://shop.example.com/wiki/Foo_(bar)",
    "http://[::1]:8080/help",
]
GIFT = "Do you offer gift wrapping?"


@pytest.mark.parametrize("url", UNSAFE)
def test_unsafe_links_are_not_shown(url):
    assert not is_safe_link(url) and link_problem(url) and safe_link(url) == ""


@pytest.mark.parametrize("url", SAFE)
def test_plain_web_and_mail_links_are_shown(url):
    assert is_safe_link(url) and safe_link(f" {url} ") == url


def _entries_file(tmp_path, kind: str, url: str):
    good = {
        "question": "Do you ship to Norway?",
        "answer": "Yes, in 5 days.",
        "url": "https://shop.example.com/help#norway",
    }
    bad = {"question": GIFT, "answer": "Yes, for €3 per item.", "url": url}
    path = tmp_path / f"faq.{kind}"
    if kind == "json":
        path.write_text(json.dumps([good, bad]), "utf-8")
    elif kind == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(good))
        writer.writeheader()
        writer.writerows([good, bad])
        path.write_text(out.getvalue(), "utf-8")
    else:  # Markdown: the entry link is the front matter's url + "#slug"
        path.write_text(
            f"---\nurl: {json.dumps(url)}\n---\n## {GIFT}\nYes, for €3 per item.\n", "utf-8"
        )
    return path


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "vbscript:msgbox(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
    ],
)
@pytest.mark.parametrize("kind", ["md", "json", "csv"])
def test_chunking_refuses_the_whole_file_naming_the_entry(tmp_path, kind, url):
    from knowledge.loaders import load_file

    path = _entries_file(tmp_path, kind, url)
    with pytest.raises(SourceError) as refused:
        entries_to_chunks(load_file(path, path.name), path.name, detect_language=lambda _: "en")
    scheme = url.replace("\t", "").strip().split(":")[0].lower()
    assert refused.value.problem == (
        f"entry {GIFT!r} has a link that is not http(s) ({scheme}:…); use an https:// address"
    )
    assert refused.value.source == path.name
    assert refused.value.line or kind == "json"  # a JSON array has no line numbers


@pytest.mark.parametrize("kind", ["md", "json", "csv"])
def test_ingest_of_a_file_with_an_unsafe_link_stores_nothing(kb, tmp_path, kind):
    for url in ("javascript:alert(1)", " JaVaScRiPt:alert(1)", "java\tscript:alert(1)"):
        report = kb.ingest([_entries_file(tmp_path, kind, url)])
        assert not report.ok and len(report.errors) == 1
        refusal = f"entry {GIFT!r} has a link that is not http(s) (javascript:…)"
        assert refusal in str(report.errors[0])
        assert kb.store.count() == 0


def test_the_sample_faq_links_pass(kb):
    from tests.conftest import EXAMPLES

    report = kb.ingest([EXAMPLES])
    assert report.ok, report.errors
    urls = [meta["url"] for _, meta in kb.store.metadata_where()]
    assert urls and all(u.startswith("https://shop.example.com/") for u in urls)


@pytest.mark.parametrize("url", UNSAFE)
def test_a_stored_unsafe_link_becomes_an_empty_citation_url(url):
    doc = Document(
        "Q\n\nA", metadata={"entry_id": "e1", "title": GIFT, "url": url, "source": "gift.json"}
    )
    citation = _citation(1, Hit(doc, 1.0, 0.9))
    assert citation.url == "" and citation.title == GIFT and citation.id == "e1"
    assert _citation(1, Hit(Document("Q", metadata={"url": SAFE[0]}), 1.0, 0.9)).url == SAFE[0]


def _store_with_unsafe_link(store, url: str = "javascript:alert(document.cookie)") -> None:
    """An entry written by an older ingest, before links were checked."""
    entry = FaqEntry(
        question=GIFT,
        answer="Yes, gift wrapping costs €3 per item; choose it at checkout.",
        url="https://shop.example.com/help#gift",
    )
    chunks = entries_to_chunks([entry], "gift.json", detect_language=lambda _: "en")
    store.upsert([Chunk(c.id, c.text, {**c.metadata, "url": url}) for c in chunks])
    store.bump_revision()


def test_the_engine_cites_a_stored_unsafe_entry_without_its_link(store, settings):
    _store_with_unsafe_link(store)
    assert next(store.metadata_where())[1]["url"].startswith("javascript:")
    answer = AIMessage("Yes, gift wrapping costs €3 per item [1].")
    llm = GenericFakeChatModel(messages=iter([answer]))
    engine = Engine(
        FaqRetriever(search=HybridSearch(store), k=4),
        llm,
        min_confidence=settings.answers.min_confidence,
    )
    reply = engine.answer(Turn(GIFT, conversation_id="links1"))
    reply.final()
    assert reply.status == "answered" and [c.title for c in reply.citations] == [GIFT]
    assert reply.citations[0].url == ""


@pytest.mark.llm
def test_no_unsafe_link_leaves_the_web_api(loaded_kb, settings):
    from adapters.web.app import create_app
    from runtime import build_engine
    from tests.web_server import LiveApp

    _store_with_unsafe_link(loaded_kb.store)
    engine = build_engine(settings, store=loaded_kb.store)
    with (
        LiveApp(create_app(settings, engine, loaded_kb)) as url,
        httpx.Client(base_url=url, timeout=300) as client,
    ):
        created = client.post("/v1/conversations", json={"locale": "en"})
        assert created.status_code == 201, created.text
        auth = {"Authorization": f"Bearer {created.json()['token']}"}
        answered = client.post(
            f"/v1/conversations/{created.json()['id']}/messages", headers=auth, json={"text": GIFT}
        )
        assert answered.status_code == 200, answered.text
        body = answered.json()
    assert body["status"] == "answered" and detect_language(body["text"]).language == "en"
    assert GIFT in [c["title"] for c in body["citations"]], body["citations"]
    assert all(
        c["url"] == "" or c["url"].startswith(("http://", "https://")) for c in body["citations"]
    ), body["citations"]

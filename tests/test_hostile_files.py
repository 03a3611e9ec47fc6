"""Hostile files (security finding 3): each attack as input. Loaders stay linear and capped;
files from outside are parsed in a child process whose time and memory are limited, and a
file over a limit is refused by name with nothing of it stored."""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from knowledge import isolation
from knowledge.admin import KnowledgeBase
from knowledge.entries import SourceError
from knowledge.isolation import load_isolated
from knowledge.limits import IngestLimits
from knowledge.loaders import load_file
from tests.conftest import EXAMPLES
from tests.web_server import LiveApp

ADMIN_KEY = "test-admin-key-hostile-0123456789"
MB = 1024 * 1024


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def refusal(path: Path, limits: IngestLimits | None = None) -> SourceError:
    with pytest.raises(SourceError) as info:
        load_file(path, path.name) if limits is None else load_file(path, path.name, limits)
    return info.value


def seconds(load) -> float:
    start = time.perf_counter()
    load()
    return time.perf_counter() - start


# --- YAML front matter ----------------------------------------------------------------------


def alias_bomb(levels: int) -> str:
    """Each line holds nine aliases of the one above: the title expands 9x per line."""
    lines = ["---", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        name, above = "abcdefgh"[level], "abcdefgh"[level - 1]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{above}"] * 9) + "]")
    return "\n".join([*lines, f"title: *{name}", "---", "Our opening hours.", ""])


def test_yaml_alias_bomb_in_front_matter_is_refused(tmp_path):
    bomb = alias_bomb(5)
    assert len(bomb.encode()) < 250  # expands to a 428,103-character title when aliases resolve
    error = refusal(write(tmp_path, "bomb.md", bomb))
    assert "bomb.md, line 3:" in str(error) and "YAML alias" in error.problem
    merge = "---\nbase: &b {product: shop}\nother:\n  <<: *b\n---\n## Q?\nA.\n"
    assert refusal(write(tmp_path, "merge.md", merge)).line == 4


def test_front_matter_is_capped_at_64_kb(tmp_path):
    huge = "---\n" + "".join(f"key{n}: {'x' * 60}\n" for n in range(2000)) + "---\n## Q?\nA.\n"
    error = refusal(write(tmp_path, "huge.md", huge))
    assert "front matter is longer than 64 KB" in error.problem
    unclosed = refusal(write(tmp_path, "open.md", "---\ntitle: x\n## Q?\nA.\n"))
    assert "never closed" in unclosed.problem and unclosed.line == 1


def test_front_matter_tags_repeated_on_every_entry_count_against_the_text_cap(tmp_path):
    tags = ", ".join(f"tag{n}" for n in range(150))  # ~1 KB on each of 200 entries
    text = f"---\ntags: [{tags}]\n---\n" + "".join(f"## Q{n}?\nA.\n" for n in range(200))
    path = write(tmp_path, "tags.md", text)
    assert len(load_file(path, path.name)) == 200
    error = refusal(path, IngestLimits(max_text_chars=100_000))
    assert "expands into more than" in error.problem and "split it" in error.problem


# --- Markdown: lines that made the regexes backtrack quadratically ---------------------------

MARKDOWN_ATTACKS = {
    # one line: a heading with a long run of whitespace inside
    "heading whitespace": lambda n: "## a" + " " * n + "b\nThe answer.\n",
    # one line: a body line that is almost all whitespace ("Also asked:" check)
    "body whitespace": lambda n: "## Question?\n" + " \t" * (n // 2) + "x\n",
    # pathological whitespace lines: many long lines of spaces and tabs below a heading
    "whitespace lines": lambda n: "## Q?\n" + ("\t " * 1000 + "y\n") * (n // 2001),
    # "Also asked" lines after the answer: each used to re-join the whole answer so far
    "also asked lines": lambda n: "## Q?\nA.\n" + "Also asked: more\n" * (n // 17),
}


@pytest.mark.parametrize("attack", MARKDOWN_ATTACKS)
def test_markdown_attacks_up_to_1_mb_parse_within_a_second(tmp_path, attack):
    # Doubling sizes: a quadratic parser fails at the first small size instead of hanging.
    for size in (16 * 1024, 64 * 1024, 256 * 1024, MB):
        path = write(tmp_path, "attack.md", MARKDOWN_ATTACKS[attack](size))
        assert path.stat().st_size >= size * 0.9
        try:
            took = seconds(lambda p=path: load_file(p, p.name))
        except SourceError as exc:
            pytest.fail(f"{attack} at {size} bytes was refused: {exc}")
        assert took <= 1.0, f"{attack}: {size} bytes took {took:.2f} s"


def test_the_fixed_markdown_parser_reads_headings_as_before(tmp_path):
    text = (
        "## Closed heading ##\nA.\n\n##  C#  \nB.\n\n##   ##\nC.\n\n"
        "## Q?\n> Also asked: one | two\nvariants: three\nD.\nAlso asked: kept\n"
    )
    entries = load_file(write(tmp_path, "h.md", text), "h.md")
    assert [e.question for e in entries] == ["Closed heading", "C#", "##", "Q?"]
    assert entries[3].variants == ["one", "two", "three"]
    assert entries[3].answer == "D.\nAlso asked: kept"
    long_question = refusal(write(tmp_path, "q.md", "## Why" + " x" * 100_000 + "\n"))
    assert long_question.line == 1 and len(str(long_question)) < 300


# --- HTML: one pass over siblings ------------------------------------------------------------

HTML_ATTACKS = {
    "headings without answers": "<h2>Question</h2>" * 20_000,
    "headings with answers": "<h2>Question?</h2><p>Answer.</p>" * 10_000,
    "dt without dd": "<dl>" + "<dt>Question?</dt>" * 10_000 + "</dl>",
    "nested details": "<details>" * 8000 + "<p>Text.</p>",
}


@pytest.mark.parametrize("attack", HTML_ATTACKS)
def test_html_with_many_headings_and_siblings_is_read_in_linear_time(tmp_path, attack):
    path = write(tmp_path, "page.html", HTML_ATTACKS[attack])
    took = seconds(lambda: load_file(path, path.name))
    assert took < 5.0, f"{attack}: {took:.2f} s"  # was 15 to 30 s (quadratic)


def test_html_answers_follow_their_heading_and_dt_its_next_dd(tmp_path):
    html = (
        "<h2>A?</h2><p>a1</p>text<p>a2</p><h1>Section</h1><p>not A</p><h3>B?</h3><p>b</p>"
        "<div><h2>C?</h2><p>c</p></div>"
    )
    assert [(e.question, e.answer) for e in load_file(write(tmp_path, "h.html", html), "h")] == [
        ("A?", "a1\na2"),
        ("B?", "b\nC?\nc"),
        ("C?", "c"),
    ]
    dl = "<dl><dt>One?</dt><dt>Two?</dt><dd>Both.</dd><dt>None?</dt></dl>"
    assert [(e.question, e.answer) for e in load_file(write(tmp_path, "d.html", dl), "d")] == [
        ("One?", "Both."),
        ("Two?", "Both."),
    ]


def test_html_whose_text_repeats_is_capped(tmp_path):
    # 3,000 <dt> share one 100 KB <dd>: 300 MB of answers from a 130 KB page.
    page = "<dl>" + "<dt>Q?</dt>" * 3000 + "<dd>" + "x" * 100_000 + "</dd></dl>"
    error = refusal(write(tmp_path, "repeat.html", page))
    assert "expands into more than 20 MB of text" in error.problem


# --- PDF ----------------------------------------------------------------------------------------


def faq_page_pdf(pairs: int = 15) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=8)
    for n in range(pairs):
        pdf.cell(0, 6, f"Question {n} about shipping?", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 6, f"Answer {n}: it ships in {n + 1} days.", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def pdf_of(pages: list[bytes]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for data in pages:
        writer.add_page(PdfReader(io.BytesIO(data)).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def shared_stream_pdf(pages: int) -> bytes:
    """One FAQ page, and pages-1 more that all point at its content stream object."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import IndirectObject, NameObject

    writer = PdfWriter()
    first = writer.add_page(PdfReader(io.BytesIO(faq_page_pdf())).pages[0])
    contents = first.raw_get("/Contents")
    if not isinstance(contents, IndirectObject):
        contents = writer._add_object(contents)
        first[NameObject("/Contents")] = contents
    for _ in range(pages - 1):
        page = writer.add_blank_page()
        page[NameObject("/Contents")] = contents
        page[NameObject("/Resources")] = first.raw_get("/Resources")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_whose_pages_share_one_content_stream_is_read_once(tmp_path):
    single = write(tmp_path, "one.pdf", shared_stream_pdf(1))
    shared = write(tmp_path, "shared.pdf", shared_stream_pdf(1000))
    assert shared.stat().st_size < 200 * 1024
    expected = [(e.question, e.answer) for e in load_file(single, "one.pdf")]
    assert len(expected) == 15
    entries: list = []
    took = seconds(lambda: entries.extend(load_file(shared, "shared.pdf")))
    assert [(e.question, e.answer) for e in entries] == expected  # not 15,000 duplicates
    assert took < 3.0, f"{took:.2f} s"


def test_pdf_pages_and_extracted_text_are_capped(tmp_path):
    path = write(tmp_path, "three.pdf", pdf_of([faq_page_pdf(n) for n in (3, 4, 5)]))
    assert len(load_file(path, path.name)) == 12
    pages = refusal(path, IngestLimits(max_pdf_pages=2))
    assert str(pages).startswith("three.pdf: has 3 pages, more than the 2 one file may have")
    text = refusal(path, IngestLimits(max_text_chars=200))
    assert "expands into more than" in text.problem


# --- the child process and its limits ---------------------------------------------------------


def deep_html() -> str:
    # BeautifulSoup's tree builder is quadratic in nesting depth; the limits bound that.
    return "<div><p>q</p>x" * 30_000


def test_isolated_parse_gives_the_same_entries_and_errors(tmp_path):
    for path in sorted(EXAMPLES.iterdir()):
        assert load_isolated(path, path.name, IngestLimits()) == load_file(path, path.name)
    bad = write(tmp_path, "bad.md", "## One?\nyes\n\n## Two?\n\n## Three?\nok\n")
    with pytest.raises(SourceError) as info:
        load_isolated(bad, "upload:bad.md", IngestLimits())
    assert str(info.value).startswith("upload:bad.md, line 4: question 'Two?' has no answer")


def test_a_file_that_takes_too_long_is_stopped(tmp_path):
    path = write(tmp_path, "deep.html", deep_html())
    start = time.monotonic()
    with pytest.raises(SourceError) as info:
        load_isolated(path, "upload:deep.html", IngestLimits(parse_timeout_s=1))
    assert str(info.value).startswith("upload:deep.html: took longer than 1 s to read; split it")
    assert time.monotonic() - start < 1 + isolation._START_S + 2


def test_a_file_that_expands_in_memory_is_stopped(tmp_path):
    # 9 MB of JSON that becomes 3 million lists (~250 MB).
    path = write(tmp_path, "lists.json", "[" + "[]," * 3_000_000 + "[]]")
    with pytest.raises(SourceError, match="lists.json: expands beyond 150 MB when read"):
        load_isolated(path, "lists.json", IngestLimits(parse_memory_mb=150))
    with pytest.raises(SourceError, match="lists.json: entry #1 is not an object"):
        load_isolated(path, "lists.json", IngestLimits())


def test_a_crashing_parser_is_reported_not_raised(tmp_path, monkeypatch):
    path = write(tmp_path, "a.md", "## Q?\nA.\n")
    monkeypatch.setattr(isolation, "_COMMAND", [sys.executable, "-c", "import os; os.abort()"])
    with pytest.raises(
        SourceError,
        match=r"a.md: could not be parsed \(the parser was killed "
        "by SIGABRT",
    ):
        load_isolated(path, "a.md", IngestLimits())


# --- through the web admin API, with /healthz polled meanwhile --------------------------------


@pytest.fixture
def live(store, settings):
    """``(url, admin headers)`` of a live app whose KB parses uploads with a 2 s limit."""
    from adapters.web.app import create_app
    from knowledge.admin import KnowledgeBase
    from runtime import build_engine

    kb = KnowledgeBase(store, IngestLimits(parse_timeout_s=2))
    config = settings.updated({"web.admin_api_key": SecretStr(ADMIN_KEY)})
    with LiveApp(create_app(config, build_engine(config, store=store), kb)) as url:
        yield url, {"Authorization": f"Bearer {ADMIN_KEY}"}


class HealthPoller(threading.Thread):
    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.latencies, self.stop = url, [], threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=600) as client:
            while not self.stop.is_set():
                start = time.perf_counter()
                response = client.get("/healthz")
                self.latencies.append((time.perf_counter() - start, response.status_code))
                time.sleep(0.05)


def test_hostile_uploads_are_refused_while_healthz_keeps_answering(live):
    url, key = live
    # One 1 MB line: a heading with runs of whitespace (the quadratic regex case), no answer.
    one_line = ("## Why" + ("x" + " " * 4095) * 256).encode()
    assert len(one_line) > MB
    with httpx.Client(base_url=url, timeout=600) as client:
        assert client.get("/healthz").status_code == 200
        before = client.get("/v1/admin/stats", headers=key).json()["entries"]
        poller = HealthPoller(url)
        poller.start()
        try:
            start = time.perf_counter()
            line = client.post(
                "/v1/admin/sources",
                headers=key,
                files={"file": ("line.md", one_line, "text/markdown")},
            ).json()
            line_s = time.perf_counter() - start
            deep = client.post(
                "/v1/admin/sources",
                headers=key,
                files={"file": ("deep.html", deep_html(), "text/html")},
            ).json()
        finally:
            poller.stop.set()
            poller.join(timeout=30)
        assert not line["ok"] and line_s < 5, line_s
        assert line["errors"][0].startswith("upload:line.md, line 1: question 'Why")
        assert "has no answer below it" in line["errors"][0] and len(line["errors"][0]) < 400
        assert not deep["ok"]
        assert deep["errors"][0].startswith("upload:deep.html: took longer than 2 s to read")
        sources = client.get("/v1/admin/sources", headers=key).json()
        assert not [s for s in sources if s["source"].startswith("upload:")]
        assert client.get("/v1/admin/stats", headers=key).json()["entries"] == before
    assert len(poller.latencies) >= 10  # polled all through the 2 s parse of deep.html
    assert {status for _, status in poller.latencies} == {200}
    slowest = max(latency for latency, _ in poller.latencies)
    assert slowest < 0.2, f"/healthz took {slowest * 1000:.0f} ms during the uploads"


def test_only_a_few_files_are_parsed_at_once(tmp_path):
    """Each parse is a child of up to parse_memory_mb: past the cap an upload is refused at
    once, naming it, and the slot frees when a parse ends."""
    kb = KnowledgeBase(store=None, limits=IngestLimits(parse_timeout_s=2, max_concurrent_parses=1))
    slow = threading.Thread(target=kb.ingest_upload, args=("deep.html", deep_html().encode()))
    slow.start()
    time.sleep(0.5)  # the first child is reading its file now
    started = time.monotonic()
    refused = kb.ingest_upload("faq.md", b"## Q?\nA.\n", dry_run=True)
    assert time.monotonic() - started < 0.5
    assert str(refused.errors[0]).startswith(
        "upload:faq.md: was not read: the most files that are read at once (1) are being read"
    )
    slow.join(30)


def test_the_parsing_child_sees_none_of_the_servers_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("LINGUADESK_WEB__ADMIN_API_KEY", "admin-key-that-must-not-leak-0123456789")
    monkeypatch.setenv("LINGUADESK_DISCORD__BOT_TOKEN", "discord-token-that-must-not-leak")
    path = write(tmp_path, "a.md", "## Q?\nA.\n")
    dump = (
        "import json, os, sys; print(json.dumps({'entries': [{'question': 'env', "
        "'answer': json.dumps(dict(os.environ))}]}))"
    )
    monkeypatch.setattr(isolation, "_COMMAND", [sys.executable, "-c", dump])
    [entry] = load_isolated(path, "a.md", IngestLimits())
    seen = json.loads(entry.answer)
    assert "PATH" in seen
    assert not any("LINGUADESK" in name or "leak" in value for name, value in seen.items())

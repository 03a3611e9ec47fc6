"""Read FAQ sources (Markdown, CSV/TSV, JSON/JSONL, HTML, PDF) into ``FaqEntry`` lists.

Every loader either returns the whole file's entries or raises ``SourceError`` naming
the file and line: a source is never half-read. Files may be hostile (uploads, URLs), so every
pass over them is linear: no regex that backtracks, no scan repeated per heading or page, and
what a file may expand into is capped by ``IngestLimits``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from .entries import FaqEntry, SourceError
from .limits import IngestLimits

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag
    from pypdf import PageObject, PdfReader

_QUESTION_ENDS = ("?", "？", "؟")
# str.splitlines() also breaks on form feeds and U+2028, which would shift line numbers
# and split valid JSONL strings.
_LINES = re.compile(r"\r\n|\r|\n")
MAX_FRONT_MATTER_CHARS = 64 * 1024


def lines_of(text: str) -> list[str]:
    return _LINES.split(text)


def slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.lower(), flags=re.UNICODE).strip("-")[:80]


def decode_text(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            source,
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded); save it as UTF-8",
            line,
        ) from exc


def _split_list(value: object, separators: str) -> list[str]:
    """A list as is, or one string split on the separators (a regex class)."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [t.strip() for t in re.split(separators, str(value)) if t.strip()]


def _tags(value: object) -> list[str]:
    return _split_list(value, r"[;|,]")


def _variants(value: object) -> list[str]:
    """Other wordings of a question; '|' or new lines (questions contain commas)."""
    return _split_list(value, r"[|\n]")


def _entry_from_record(record: dict, source: str, where: str, line: int | None) -> FaqEntry:
    fields = {str(k).strip().lower(): v for k, v in record.items() if k is not None}
    missing = [f for f in ("question", "answer") if not str(fields.get(f) or "").strip()]
    if missing:
        raise SourceError(source, f"{where} has no {' and no '.join(missing)}", line)
    return FaqEntry(
        question=str(fields["question"]),
        answer=str(fields["answer"]),
        title=str(fields.get("title") or ""),
        url=str(fields.get("url") or ""),
        language=str(fields.get("language") or ""),
        product=str(fields.get("product") or ""),
        tags=_tags(fields.get("tags")),
        updated_at=str(fields.get("updated_at") or ""),
        variants=_variants(fields.get("variants", fields.get("also_asked"))),
        line=line,
    )


class _TextBudget:
    """Counts the text a file expands into; refuses it past ``IngestLimits.max_text_chars``."""

    def __init__(self, source: str, limits: IngestLimits) -> None:
        self.source, self.left, self.limit = source, limits.max_text_chars, limits.max_text_chars

    def spend(self, *texts: str) -> None:
        self.left -= sum(map(len, texts))
        if self.left < 0:
            raise SourceError(
                self.source,
                f"expands into more than "
                f"{self.limit / 1024 / 1024:g} MB of text (the most one file may "
                "hold: LINGUADESK_INGEST__MAX_TEXT_MB); split it into smaller files",
            )

    def spend_entry(self, entry: FaqEntry) -> None:
        self.spend(
            entry.question,
            entry.answer,
            entry.title,
            entry.url,
            entry.language,
            entry.product,
            entry.updated_at,
            *entry.tags,
            *entry.variants,
        )


# --- Markdown -----------------------------------------------------------------------------

# These parse one line each with string methods: the regexes they replace backtracked
# quadratically on long runs of whitespace.


def _heading(line: str) -> tuple[int, str] | None:
    """``## Text ##`` -> (2, 'Text'); None unless 1-6 '#' and a space start the line."""
    text = line.lstrip("#")
    level = len(line) - len(text)
    if not 1 <= level <= 6 or not text[:1].isspace():
        return None
    text = text.strip()
    unclosed = text.rstrip("#")  # an optional closing run of '#' after a space
    if unclosed != text and unclosed[-1:].isspace():
        text = unclosed.rstrip()
    return level, text


def _fence(line: str) -> str:
    """The ``` or ~~~ run that opens or closes a code block, else ''."""
    text = line.lstrip()
    if not text.startswith(("```", "~~~")):
        return ""
    return text[: len(text) - len(text.lstrip(text[0]))]


def _also_asked(line: str) -> str | None:
    """The list of an "Also asked: A | B" (or "Variants:") line, optionally quoted with '>'."""
    text = line.lstrip()
    if text.startswith(">"):
        text = text[1:].lstrip()
    for label in ("also asked", "variants"):
        if text[: len(label)].lower() == label:
            rest = text[len(label) :].lstrip()
            if rest.startswith(":") and len(rest) > 1:
                return rest[1:].strip()
    return None


class _NoAliasLoader(yaml.BaseLoader):
    """BaseLoader keeps every value a string ('language: no' stays Norwegian); anchors and
    aliases are refused, since a few aliases expand a few hundred bytes into gigabytes."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise _AliasRefused(self.peek_event().start_mark)
        return super().compose_node(parent, index)


class _AliasRefused(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        self.mark = mark


def _front_matter(lines: list[str], source: str) -> tuple[dict, int]:
    if not lines or lines[0].strip() != "---":
        return {}, 0
    size = 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
        size += len(lines[end]) + 1
        if size > MAX_FRONT_MATTER_CHARS:
            raise SourceError(
                source,
                f"front matter is longer than "
                f"{MAX_FRONT_MATTER_CHARS // 1024} KB (is its closing '---' "
                "missing?); keep it to a few 'key: value' lines",
                end + 1,
            )
    else:
        raise SourceError(source, "front matter opened with '---' is never closed", 1)
    try:
        meta = yaml.load("\n".join(lines[1:end]), Loader=_NoAliasLoader) or {}
    except _AliasRefused as exc:
        raise SourceError(
            source,
            "front matter uses a YAML alias ('*name'); write the value out instead",
            exc.mark.line + 2,
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SourceError(
            source, f"front matter is not valid YAML ({exc})", (mark.line + 2) if mark else 1
        ) from exc
    if not isinstance(meta, dict):
        raise SourceError(source, "front matter must be 'key: value' lines", 2)
    return meta, end + 1


def load_markdown(text: str, source: str) -> list[FaqEntry]:
    """``## Question`` (or ``###``) headings with the answer below; ``#`` is a section."""
    lines = lines_of(text)
    meta, start = _front_matter(lines, source)
    base_url = str(meta.get("url") or "")
    section = ""
    entries: list[FaqEntry] = []
    current: tuple[str, int] | None = None
    body: list[str] = []
    fence = ""

    def flush() -> None:
        if current is None:
            return
        question, line = current
        variants: list[str] = []
        kept = []
        answered = False  # variants are only read before the answer starts
        for text in body:
            also = None if answered else _also_asked(text)
            if also is not None:
                variants += _variants(also)
            else:
                kept.append(text)
                answered = answered or bool(text.strip())
        answer = "\n".join(kept).strip()
        if not answer:
            shown = question if len(question) <= 80 else question[:79] + "…"
            raise SourceError(source, f"question '{shown}' has no answer below it", line)
        entries.append(
            FaqEntry(
                question=question,
                answer=answer,
                url=f"{base_url}#{slug(question)}" if base_url else "",
                language=str(meta.get("language") or ""),
                product=str(meta.get("product") or ""),
                tags=_tags(meta.get("tags")) + ([section] if section else []),
                updated_at=str(meta.get("updated_at") or ""),
                variants=variants,
                line=line,
            )
        )

    for number, raw in enumerate(lines[start:], start=start + 1):
        marker = _fence(raw)
        if marker and not fence:
            fence = marker
        elif marker and marker.startswith(fence):
            fence = ""
        heading = None if fence else _heading(raw)
        if heading and heading[0] == 1:
            flush()
            current, body = None, []
            section = heading[1]
        elif heading and heading[0] in (2, 3):
            flush()
            current, body = (heading[1], number), []
        elif current is not None:
            body.append(raw)
    flush()
    if not entries:
        article = "\n".join(lines[start:]).strip()
        if article:
            title = section or str(meta.get("title") or Path(source).stem)
            entries.append(
                FaqEntry(
                    question=title,
                    answer=article,
                    url=base_url,
                    language=str(meta.get("language") or ""),
                    product=str(meta.get("product") or ""),
                    tags=_tags(meta.get("tags")),
                    line=start + 1,
                )
            )
    return entries


# --- CSV / TSV ----------------------------------------------------------------------------


def load_delimited(text: str, source: str, delimiter: str) -> list[FaqEntry]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError(source, "is empty", 1) from None
    except csv.Error as exc:
        raise SourceError(source, f"header row is malformed ({exc})", 1) from exc
    columns = [h.strip().lower() for h in header]
    missing = {"question", "answer"} - set(columns)
    if missing:
        raise SourceError(
            source,
            f"header needs the columns 'question' and 'answer' (missing: "
            f"{', '.join(sorted(missing))}; found: {', '.join(columns) or 'nothing'})",
            1,
        )
    entries = []
    row_start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise SourceError(source, f"row is malformed ({exc})", row_start) from exc
        if any(cell.strip() for cell in row):
            if len(row) != len(columns):
                raise SourceError(
                    source, f"row has {len(row)} fields, the header has {len(columns)}", row_start
                )
            entries.append(_entry_from_record(dict(zip(columns, row)), source, "row", row_start))
        row_start = reader.line_num + 1
    return entries


# --- JSON / JSONL -------------------------------------------------------------------------


def _json_error(exc: json.JSONDecodeError, source: str, line: int | None = None) -> SourceError:
    return SourceError(
        source, f"is not valid JSON ({exc.msg}, column {exc.colno})", line or exc.lineno
    )


def load_json(text: str, source: str) -> list[FaqEntry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _json_error(exc, source) from exc
    if isinstance(data, dict):
        data = next((data[k] for k in ("entries", "faq", "faqs", "items") if k in data), None)
    if not isinstance(data, list):
        raise SourceError(
            source,
            "must hold a list of {question, answer} objects (or an object with an 'entries' list)",
        )
    entries = []
    for index, record in enumerate(data, start=1):
        if not isinstance(record, dict):
            raise SourceError(source, f"entry #{index} is not an object")
        entries.append(_entry_from_record(record, source, f"entry #{index}", None))
    return entries


def load_jsonl(text: str, source: str) -> list[FaqEntry]:
    entries = []
    for number, raw in enumerate(lines_of(text), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _json_error(exc, source, number) from exc
        if not isinstance(record, dict):
            raise SourceError(source, "line is not a JSON object", number)
        entries.append(_entry_from_record(record, source, "line", number))
    return entries


# --- HTML ---------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Blank lines (spaces on them too) become one; runs of spaces and tabs one space."""
    parts: list[str] = []
    blank = False
    for line in text.split("\n"):
        if not line.strip():
            blank = True
            continue
        if parts:
            parts.append("\n\n" if blank else "\n")
        parts.append(line)
        blank = False
    return re.sub(r"[ \t]+", " ", "".join(parts)).strip()


def _sections(soup: BeautifulSoup) -> dict[int, list[Tag]]:
    """id(h1/h2/h3) -> the sibling tags after it up to the next such heading: each parent's
    children are walked once, not once per heading."""
    sections: dict[int, list[Tag]] = {}
    scanned: set[int] = set()
    for heading in soup.find_all(["h2", "h3"]):
        parent = heading.parent  # None only for the document itself, never a heading's
        if parent is None or id(parent) in scanned:
            continue
        scanned.add(id(parent))
        current: list[Tag] | None = None
        for sibling in parent.find_all(recursive=False):
            if sibling.name in ("h1", "h2", "h3"):
                current = sections[id(sibling)] = []
            elif current is not None:
                current.append(sibling)
    return sections


def _next_dds(soup: BeautifulSoup) -> dict[int, Tag]:
    """id(dt) -> the first <dd> among its following siblings, one backwards walk per parent."""
    next_dd: dict[int, Tag] = {}
    scanned: set[int] = set()
    for dt in soup.find_all("dt"):
        parent = dt.parent  # None only for the document itself, never a <dt>'s
        if parent is None or id(parent) in scanned:
            continue
        scanned.add(id(parent))
        dd = None
        for sibling in reversed(parent.find_all(recursive=False)):
            if sibling.name == "dd":
                dd = sibling
            elif sibling.name == "dt" and dd is not None:
                next_dd[id(sibling)] = dd
    return next_dd


def _anchor(tag: Tag) -> str | None:
    """The tag's ``id``: a string, as bs4 splits only class-like attributes into lists."""
    value = tag.get("id")
    return value if isinstance(value, str) else None


def load_html(text: str, source: str, limits: IngestLimits | None = None) -> list[FaqEntry]:
    """FAQ pages as ``<details><summary>``, ``<dt>/<dd>`` or heading + paragraphs."""
    from bs4 import BeautifulSoup

    from common.language import base_language

    budget = _TextBudget(source, limits or IngestLimits())
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    html_tag = soup.find("html")
    language = base_language(str(html_tag.get("lang", ""))) if html_tag else ""
    canonical = soup.find("link", rel="canonical")
    base_url = str(canonical.get("href", "")) if canonical else ""
    page_title = soup.title.get_text(strip=True) if soup.title else ""

    def entry(question: str, answer: str, anchor: str | None) -> FaqEntry:
        # Nested <details> or one <dd> after many <dt> repeat text: count it as it is made.
        budget.spend(question, answer)
        url = f"{base_url}#{anchor or slug(question)}" if base_url else ""
        return FaqEntry(
            question=question,
            answer=answer,
            url=url,
            language=language,
            tags=[page_title] if page_title else [],
        )

    pairs: list[FaqEntry] = []
    for details in soup.find_all("details"):
        # Only a direct child, as HTML has it: searching all descendants of every <details>
        # is quadratic in nested ones.
        summary = details.find("summary", recursive=False)
        if summary:
            question = summary.get_text(" ", strip=True)
            summary.extract()
            pairs.append(entry(question, _clean(details.get_text("\n")), _anchor(details)))
    next_dd = _next_dds(soup)
    for dt in soup.find_all("dt"):
        dd = next_dd.get(id(dt))
        if dd:
            pairs.append(
                entry(dt.get_text(" ", strip=True), _clean(dd.get_text("\n")), _anchor(dt))
            )
    if not pairs:
        sections = _sections(soup)
        for heading in soup.find_all(["h2", "h3"]):
            answer = _clean("\n".join(s.get_text("\n") for s in sections[id(heading)]))
            if answer:
                pairs.append(entry(heading.get_text(" ", strip=True), answer, _anchor(heading)))
    if not pairs:
        body = _clean((soup.body or soup).get_text("\n"))
        if body:
            pairs.append(entry(page_title or Path(source).stem, body, None))
    return [e for e in pairs if e.question and e.answer]


# --- PDF ----------------------------------------------------------------------------------


def _content_key(page: PageObject) -> tuple[tuple[int, int], ...] | None:
    """The indirect objects a page draws: pages drawing the same ones show the same text."""
    contents = page.raw_get("/Contents") if "/Contents" in page else None
    if contents is None:  # draws nothing
        return None
    refs = contents if isinstance(contents, list) else [contents]
    if not refs or not all(hasattr(ref, "idnum") for ref in refs):
        return None
    return tuple((ref.idnum, ref.generation) for ref in refs)


def _page_texts(reader: PdfReader, source: str, limits: IngestLimits) -> list[str]:
    pages = len(reader.pages)
    if pages > limits.max_pdf_pages:
        raise SourceError(
            source,
            f"has {pages} pages, more than the {limits.max_pdf_pages} "
            "one file may have (LINGUADESK_INGEST__MAX_PDF_PAGES); split it into "
            "smaller PDFs",
        )
    budget = _TextBudget(source, limits)
    drawn: set[tuple[tuple[int, int], ...]] = set()
    texts: list[str] = []
    for page in reader.pages:
        key = _content_key(page)
        if key in drawn:  # a hostile PDF makes thousands of pages share one big stream
            texts.append("")
            continue
        if key is not None:
            drawn.add(key)
        text = page.extract_text() or ""
        budget.spend(text)
        texts.append(text)
    return texts


def load_pdf(data: bytes, source: str, limits: IngestLimits | None = None) -> list[FaqEntry]:
    """Lines ending in a question mark start an entry; a PDF without any is one article."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=True)
        pages = _page_texts(reader, source, limits or IngestLimits())
        title = (reader.metadata.title if reader.metadata else None) or Path(source).stem
    except SourceError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise SourceError(source, f"is not a readable PDF ({exc})") from exc
    entries: list[FaqEntry] = []
    question: tuple[str, int] | None = None
    body: list[str] = []
    preamble: list[str] = []

    def flush() -> None:
        if question and "\n".join(body).strip():
            entries.append(
                FaqEntry(question=question[0], answer="\n".join(body), tags=[str(title)], line=None)
            )

    for page_number, page_text in enumerate(pages, start=1):
        for raw in page_text.splitlines():
            line = raw.strip()
            if not line:
                continue
            if len(line) < 300 and line.endswith(_QUESTION_ENDS):
                flush()
                question, body = (line, page_number), []
            elif question:
                body.append(line)
            else:
                preamble.append(line)
    flush()
    if not entries and preamble:
        entries.append(FaqEntry(question=str(title), answer="\n".join(preamble)))
    if not entries:
        raise SourceError(source, "has no extractable text (a scanned PDF needs OCR first)")
    return entries


# --- dispatch -----------------------------------------------------------------------------

TextLoader = Callable[[str, str, IngestLimits], list[FaqEntry]]
_TEXT_LOADERS: dict[str, TextLoader] = {
    ".md": lambda text, source, limits: load_markdown(text, source),
    ".markdown": lambda text, source, limits: load_markdown(text, source),
    ".csv": lambda text, source, limits: load_delimited(text, source, ","),
    ".tsv": lambda text, source, limits: load_delimited(text, source, "\t"),
    ".json": lambda text, source, limits: load_json(text, source),
    ".jsonl": lambda text, source, limits: load_jsonl(text, source),
    ".html": load_html,
    ".htm": load_html,
}
SUPPORTED_SUFFIXES = frozenset({*_TEXT_LOADERS, ".pdf"})


def load_file(path: Path, source: str, limits: IngestLimits | None = None) -> list[FaqEntry]:
    """All entries of one file, or ``SourceError``. Parsing runs in this process: for files
    from outside, ``knowledge.isolation.load_isolated`` also bounds time and memory."""
    limits = limits or IngestLimits()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SourceError(
            source,
            f"has an unsupported type '{suffix or 'none'}' (supported: "
            f"{', '.join(sorted(SUPPORTED_SUFFIXES))})",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(source, f"cannot be read ({exc.strerror})") from exc
    try:
        if suffix == ".pdf":
            entries = load_pdf(data, source, limits)
        else:
            entries = _TEXT_LOADERS[suffix](decode_text(data, source), source, limits)
    except (SourceError, MemoryError):  # isolation reports running out of memory as such
        raise
    except Exception as exc:  # parsers fail in many ways on hostile input; report, don't crash
        raise SourceError(source, f"could not be parsed ({type(exc).__name__}: {exc})") from exc
    # Front matter tags repeat on every entry: what the file expands into is what counts.
    budget = _TextBudget(source, limits)
    for entry in entries:
        budget.spend_entry(entry)
    return entries

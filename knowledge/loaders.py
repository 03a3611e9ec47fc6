"""Read FAQ sources (Markdown, CSV/TSV, JSON/JSONL, HTML, PDF) into ``FaqEntry`` lists.

Every loader either returns the whole file's entries or raises ``SourceError`` naming
the file and line: a source is never half-read.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import yaml

from bot.language import base_language

from .entries import FaqEntry, SourceError

_QUESTION_END = re.compile(r"[?？؟]\s*$")
# str.splitlines() also breaks on form feeds and U+2028, which would shift line numbers
# and split valid JSONL strings.
_LINES = re.compile(r"\r\n|\r|\n")


_FENCE = re.compile(r"\s*(`{3,}|~{3,})")


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
            source, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded); "
            "save it as UTF-8", line,
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


# --- Markdown -----------------------------------------------------------------------------

# "Also asked: A | B" lines right under a question heading list its variants.
_ALSO_ASKED = re.compile(r"^\s*>?\s*(?:also asked|variants)\s*:\s*(.+)$", re.IGNORECASE)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")


def _front_matter(lines: list[str], source: str) -> tuple[dict, int]:
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            try:
                # BaseLoader keeps every value a string: 'language: no' stays Norwegian.
                meta = yaml.load("\n".join(lines[1:end]), Loader=yaml.BaseLoader) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                raise SourceError(source, f"front matter is not valid YAML ({exc})",
                                  (mark.line + 2) if mark else 1) from exc
            if not isinstance(meta, dict):
                raise SourceError(source, "front matter must be 'key: value' lines", 2)
            return meta, end + 1
    raise SourceError(source, "front matter opened with '---' is never closed", 1)


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
        for text in body:
            also = _ALSO_ASKED.match(text)
            if also and not "\n".join(kept).strip():
                variants += _variants(also.group(1))
            else:
                kept.append(text)
        answer = "\n".join(kept).strip()
        if not answer:
            raise SourceError(source, f"question '{question}' has no answer below it", line)
        entries.append(FaqEntry(
            question=question, answer=answer,
            url=f"{base_url}#{slug(question)}" if base_url else "",
            language=str(meta.get("language") or ""), product=str(meta.get("product") or ""),
            tags=_tags(meta.get("tags")) + ([section] if section else []),
            updated_at=str(meta.get("updated_at") or ""), variants=variants, line=line,
        ))

    for number, raw in enumerate(lines[start:], start=start + 1):
        marker = _FENCE.match(raw)
        if marker and not fence:
            fence = marker.group(1)
        elif marker and marker.group(1).startswith(fence):
            fence = ""
        heading = None if fence else _HEADING.match(raw)
        if heading and len(heading.group(1)) == 1:
            flush()
            current, body = None, []
            section = heading.group(2)
        elif heading and len(heading.group(1)) in (2, 3):
            flush()
            current, body = (heading.group(2), number), []
        elif current is not None:
            body.append(raw)
    flush()
    if not entries:
        article = "\n".join(lines[start:]).strip()
        if article:
            title = section or str(meta.get("title") or Path(source).stem)
            entries.append(FaqEntry(question=title, answer=article, url=base_url,
                                    language=str(meta.get("language") or ""),
                                    product=str(meta.get("product") or ""),
                                    tags=_tags(meta.get("tags")), line=start + 1))
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
            source, f"header needs the columns 'question' and 'answer' (missing: "
            f"{', '.join(sorted(missing))}; found: {', '.join(columns) or 'nothing'})", 1,
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
    return SourceError(source, f"is not valid JSON ({exc.msg}, column {exc.colno})",
                       line or exc.lineno)


def load_json(text: str, source: str) -> list[FaqEntry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _json_error(exc, source) from exc
    if isinstance(data, dict):
        data = next((data[k] for k in ("entries", "faq", "faqs", "items") if k in data), None)
    if not isinstance(data, list):
        raise SourceError(source, "must hold a list of {question, answer} objects "
                          "(or an object with an 'entries' list)")
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
    return re.sub(r"[ \t]+", " ", re.sub(r"\n\s*\n+", "\n\n", text)).strip()


def load_html(text: str, source: str) -> list[FaqEntry]:
    """FAQ pages as ``<details><summary>``, ``<dt>/<dd>`` or heading + paragraphs."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    html_tag = soup.find("html")
    language = base_language(str(html_tag.get("lang", ""))) if html_tag else ""
    canonical = soup.find("link", rel="canonical")
    base_url = str(canonical.get("href", "")) if canonical else ""
    page_title = soup.title.get_text(strip=True) if soup.title else ""

    def entry(question: str, answer: str, anchor: str | None) -> FaqEntry:
        url = f"{base_url}#{anchor or slug(question)}" if base_url else ""
        return FaqEntry(question=question, answer=answer, url=url, language=language,
                        tags=[page_title] if page_title else [])

    pairs: list[FaqEntry] = []
    for details in soup.find_all("details"):
        summary = details.find("summary")
        if summary:
            question = summary.get_text(" ", strip=True)
            summary.extract()
            pairs.append(entry(question, _clean(details.get_text("\n")), details.get("id")))
    for dt in soup.find_all("dt"):
        dd = dt.find_next_sibling("dd")
        if dd:
            pairs.append(entry(dt.get_text(" ", strip=True), _clean(dd.get_text("\n")),
                               dt.get("id")))
    if not pairs:
        for heading in soup.find_all(["h2", "h3"]):
            parts = []
            for sibling in heading.find_next_siblings():
                if sibling.name in ("h1", "h2", "h3"):
                    break
                parts.append(sibling.get_text("\n"))
            answer = _clean("\n".join(parts))
            if answer:
                pairs.append(entry(heading.get_text(" ", strip=True), answer, heading.get("id")))
    if not pairs:
        body = _clean((soup.body or soup).get_text("\n"))
        if body:
            pairs.append(entry(page_title or Path(source).stem, body, None))
    return [e for e in pairs if e.question and e.answer]


# --- PDF ----------------------------------------------------------------------------------

def load_pdf(data: bytes, source: str) -> list[FaqEntry]:
    """Lines ending in a question mark start an entry; a PDF without any is one article."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=True)
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or Path(source).stem
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise SourceError(source, f"is not a readable PDF ({exc})") from exc
    entries: list[FaqEntry] = []
    question: tuple[str, int] | None = None
    body: list[str] = []
    preamble: list[str] = []

    def flush() -> None:
        if question and "\n".join(body).strip():
            entries.append(FaqEntry(question=question[0], answer="\n".join(body),
                                    tags=[str(title)], line=None))

    for page_number, page_text in enumerate(pages, start=1):
        for raw in page_text.splitlines():
            line = raw.strip()
            if not line:
                continue
            if _QUESTION_END.search(line) and len(line) < 300:
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

TextLoader = Callable[[str, str], list[FaqEntry]]
_TEXT_LOADERS: dict[str, TextLoader] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".csv": lambda text, source: load_delimited(text, source, ","),
    ".tsv": lambda text, source: load_delimited(text, source, "\t"),
    ".json": load_json,
    ".jsonl": load_jsonl,
    ".html": load_html,
    ".htm": load_html,
}
SUPPORTED_SUFFIXES = frozenset({*_TEXT_LOADERS, ".pdf"})


def load_file(path: Path, source: str) -> list[FaqEntry]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SourceError(source, f"has an unsupported type '{suffix or 'none'}' (supported: "
                          f"{', '.join(sorted(SUPPORTED_SUFFIXES))})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(source, f"cannot be read ({exc.strerror})") from exc
    try:
        if suffix == ".pdf":
            return load_pdf(data, source)
        return _TEXT_LOADERS[suffix](decode_text(data, source), source)
    except SourceError:
        raise
    except Exception as exc:  # parsers fail in many ways on hostile input; report, don't crash
        raise SourceError(source, f"could not be parsed ({type(exc).__name__}: {exc})") from exc

"""Reviewing the localized FAQ: export for a translator (CSV or XLIFF 2.0), import what they
corrected (marked *reviewed*), and coverage per language (machine, reviewed, stale, missing).

A reviewed translation beats the machine's everywhere: the answer path and search read the
one record per entry and language, and ``kb translate`` never overwrites a fresh one. When the
entry changes afterwards, the translation is stale until translated or reviewed again.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from common.language import base_language
from common.translation import REVIEWED, Translation
from retrieval.vector_store import FaqStore

XLIFF_NS = "urn:oasis:names:tc:xliff:document:2.0"
COLUMNS = [
    "id",
    "language",
    "status",
    "source_hash",
    "source_language",
    "source_question",
    "question",
    "source_variants",
    "variants",
    "source_answer",
    "answer",
]
MAX_IMPORT_BYTES = 20 * 1024 * 1024

# (translation, source text) -> what is wrong with it; the figure and markup rules of answers.
Check = Callable[[str, str], list[str]]


class TranslationFileError(ValueError):
    """A file that cannot be imported at all; names the file and says what to do."""


@dataclass
class Row:
    id: str
    language: str
    status: str  # machine, reviewed, stale or missing
    source_hash: str
    source_language: str
    source_question: str
    question: str
    source_variants: list[str]
    variants: list[str]
    source_answer: str
    answer: str


@dataclass
class Coverage:
    entries: int  # entries written in another language, to be translated into this one
    machine: int = 0
    reviewed: int = 0
    stale: int = 0

    @property
    def missing(self) -> int:
        return self.entries - self.machine - self.reviewed - self.stale


@dataclass
class ImportReport:
    imported: int = 0
    unchanged: int = 0  # the text as stored: its status and version are kept
    stale: int = 0  # imported, but the entry changed since the export
    empty: int = 0  # rows without a translation: skipped
    errors: list[str] = field(default_factory=list)


def _source_parts(page_content: str, has_question: bool) -> tuple[str, str]:
    if not has_question:
        return "", page_content.strip()
    question, _, answer = page_content.strip().partition("\n")
    return question.strip(), answer.strip()


def rows(store: FaqStore, language: str, source: str | None = None) -> list[Row]:
    """Every entry written in another language than ``language``, with its translation."""
    language = base_language(language)
    found = {t.chunk_id: t for t in store.translations_of(language=language, source=source)}
    out = []
    for doc in store.documents():
        meta = doc.metadata
        own = base_language(str(meta.get("language") or "en"))
        if own == language or (source and meta.get("source") != source):
            continue
        question, answer = _source_parts(doc.page_content, bool(meta.get("question")))
        t = found.get(str(doc.id))
        status = "missing" if t is None else "stale" if t.stale else t.status
        out.append(
            Row(
                id=str(doc.id),
                language=language,
                status=status,
                source_hash=str(meta.get("content_hash", "")),
                source_language=own,
                source_question=question,
                question=t.question if t else "",
                source_variants=[v for v in str(meta.get("variants") or "").split("\n") if v],
                variants=list(t.variants) if t else [],
                source_answer=answer,
                answer=t.answer if t else "",
            )
        )
    return sorted(out, key=lambda r: (r.source_question, r.id))


def coverage(store: FaqStore, languages: Iterable[str]) -> dict[str, Coverage]:
    docs = [(str(d.id), str(d.metadata.get("language") or "en")) for d in store.documents()]
    out = {}
    by_language: dict[str, list[Translation]] = {}
    for t in store.translations_of():
        by_language.setdefault(t.language, []).append(t)
    for language in languages:
        language = base_language(language)
        cov = Coverage(sum(base_language(own) != language for _, own in docs))
        for t in by_language.get(language, []):
            if t.stale:
                cov.stale += 1
            elif t.status == REVIEWED:
                cov.reviewed += 1
            else:
                cov.machine += 1
        out[language] = cov
    return out


# -- export --------------------------------------------------------------------------------


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A spreadsheet runs a cell that starts like a formula ("=HYPERLINK(…)", and a Markdown
    "- " bullet turns into one when saved again): such cells get a leading apostrophe, which
    spreadsheets hide and the import takes off."""
    return f"'{text}" if text.startswith(_FORMULA) or text.startswith("'") else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def export_csv(items: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in items:
        row = {
            **r.__dict__,
            "source_variants": "\n".join(r.source_variants),
            "variants": "\n".join(r.variants),
        }
        writer.writerow({key: _cell(str(value)) for key, value in row.items()})
    return buffer.getvalue()


# Characters XML 1.0 cannot hold (a form feed from a PDF): an export with one could not be read.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(" ", text)


def export_xliff(items: list[Row], language: str) -> str:
    """XLIFF 2.0: one unit per entry, segments ``question``, ``answer`` and ``variant-N``."""
    ET.register_namespace("", XLIFF_NS)
    sources = Counter(r.source_language for r in items)
    root = ET.Element(
        f"{{{XLIFF_NS}}}xliff",
        {
            "version": "2.0",
            "srcLang": sources.most_common(1)[0][0] if sources else "en",
            "trgLang": language,
        },
    )
    file = ET.SubElement(root, f"{{{XLIFF_NS}}}file", {"id": "faq"})
    for r in items:
        unit = ET.SubElement(file, f"{{{XLIFF_NS}}}unit", {"id": r.id})
        notes = ET.SubElement(unit, f"{{{XLIFF_NS}}}notes")
        for category, value in (
            ("status", r.status),
            ("source_hash", r.source_hash),
            ("source_language", r.source_language),
        ):
            ET.SubElement(notes, f"{{{XLIFF_NS}}}note", {"category": category}).text = value
        segments = [
            ("question", r.source_question, r.question),
            ("answer", r.source_answer, r.answer),
        ]
        segments += [
            (f"variant-{n}", text, r.variants[n] if n < len(r.variants) else "")
            for n, text in enumerate(r.source_variants)
        ]
        for segment_id, source_text, target_text in segments:
            if not source_text:
                continue
            segment = ET.SubElement(unit, f"{{{XLIFF_NS}}}segment", {"id": segment_id})
            ET.SubElement(segment, f"{{{XLIFF_NS}}}source").text = _xml_text(source_text)
            ET.SubElement(segment, f"{{{XLIFF_NS}}}target").text = _xml_text(target_text)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- import --------------------------------------------------------------------------------


@dataclass
class _Incoming:
    where: str  # "row 3" or "unit abc…", for messages
    id: str
    language: str
    source_hash: str
    question: str
    answer: str
    variants: list[str]


def _read_csv(name: str, text: str) -> list[_Incoming]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _csv_rows(name, reader)
    except csv.Error as exc:
        raise TranslationFileError(
            f"{name}, line {reader.line_num}: not readable as CSV ({exc}); save it again as "
            "CSV (UTF-8) from the spreadsheet"
        ) from None


def _csv_rows(name: str, reader: csv.DictReader) -> list[_Incoming]:
    missing = {"id", "language", "question", "answer"} - set(reader.fieldnames or [])
    if missing:
        raise TranslationFileError(
            f"{name}: the CSV has no column {', '.join(sorted(missing))}; import a file made "
            "by 'linguadesk kb translations export' (its header row names the columns)"
        )
    out = []
    for n, raw in enumerate(reader, start=2):
        row = {key: _uncell(value or "") for key, value in raw.items() if isinstance(key, str)}
        out.append(
            _Incoming(
                f"{name}, row {n}",
                row.get("id", "").strip(),
                row.get("language", "").strip(),
                row.get("source_hash", "").strip(),
                row.get("question", "").strip(),
                row.get("answer", "").strip(),
                [v.strip() for v in row.get("variants", "").split("\n") if v.strip()],
            )
        )
    return out


def _read_xliff(name: str, data: bytes) -> list[_Incoming]:
    import defusedxml.ElementTree as SafeET  # no entity expansion, no external entities

    try:
        root = SafeET.fromstring(data)
    except Exception as exc:  # ParseError, or defusedxml's refusal of entities
        raise TranslationFileError(
            f"{name}: not a readable XLIFF file ({type(exc).__name__}: {exc}); export it again "
            "or fix the XML"
        ) from None
    ns = {"x": XLIFF_NS}
    if root.tag != f"{{{XLIFF_NS}}}xliff" or root.get("version") != "2.0":
        raise TranslationFileError(
            f'{name}: not an XLIFF 2.0 file (the root must be <xliff version="2.0"> in '
            f"{XLIFF_NS}); export it again with --format xliff"
        )
    language = root.get("trgLang") or ""
    out = []
    for unit in root.iterfind(".//x:unit", ns):
        notes = {n.get("category"): (n.text or "") for n in unit.iterfind("x:notes/x:note", ns)}
        parts: dict[str, str] = {}
        for segment in unit.iterfind("x:segment", ns):
            target = segment.find("x:target", ns)
            parts[segment.get("id") or ""] = (
                "".join(target.itertext()).strip() if target is not None else ""
            )
        variants = [
            parts[key]
            for key in sorted(
                (k for k in parts if k.startswith("variant-")),
                key=lambda k: int(k[8:] or 0) if k[8:].isdigit() else 0,
            )
            if parts[key]
        ]
        out.append(
            _Incoming(
                f"{name}, unit {unit.get('id')}",
                (unit.get("id") or "").strip(),
                language,
                notes.get("source_hash", "").strip(),
                parts.get("question", ""),
                parts.get("answer", ""),
                variants,
            )
        )
    return out


def import_file(
    store: FaqStore, name: str, data: bytes, check: Check | None = None
) -> ImportReport:
    """Reads an exported file a translator edited; every row with a translation is stored as
    reviewed. A row whose figures differ from the entry's, or that names no stored entry, is
    refused and named in ``errors``; the other rows are imported."""
    if len(data) > MAX_IMPORT_BYTES:
        raise TranslationFileError(
            f"{name}: {len(data) // (1024 * 1024)} MB is over the {MAX_IMPORT_BYTES // (1024 * 1024)} MB "
            "an import may be; split it by language or source"
        )
    lowered = name.lower()
    if lowered.endswith((".xlf", ".xliff")) or data.lstrip()[:5] == b"<?xml":
        incoming = _read_xliff(name, data)
    elif lowered.endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise TranslationFileError(
                f"{name}: is not UTF-8 text; save the CSV as UTF-8 and import it again"
            ) from None
        incoming = _read_csv(name, text)
    else:
        raise TranslationFileError(
            f"{name}: unknown format; import a .csv, .xlf or .xliff file made by "
            "'linguadesk kb translations export'"
        )
    report = ImportReport()
    ids = list({i.id for i in incoming if i.id})
    docs = {str(d.id): d for d in store.documents(ids)}
    stored = {(t.chunk_id, t.language): t for t in store.translations_of(ids)}
    accepted: list[Translation] = []
    for item in incoming:
        doc = docs.get(item.id)
        if doc is None:
            report.errors.append(
                f"{item.where}: no entry with id {item.id!r} (deleted since the export?); "
                "export again to get the current entries"
            )
            continue
        language = base_language(item.language) if item.language else ""
        own = base_language(str(doc.metadata.get("language") or "en"))
        if not (2 <= len(language) <= 3 and language.isascii() and language.isalpha()) or (
            language == own
        ):
            report.errors.append(
                f"{item.where}: the language {item.language!r} is not one to translate this "
                f"{own} entry into; give a language code such as ja"
            )
            continue
        has_question = bool(doc.metadata.get("question"))
        if not item.answer or (has_question and not item.question):
            report.empty += 1
            continue
        translation = Translation(
            item.id,
            language,
            item.question if has_question else "",
            item.answer,
            tuple(item.variants),
            REVIEWED,
            item.source_hash or str(doc.metadata.get("content_hash", "")),
        )
        before = stored.get((item.id, language))
        if before is not None and (before.question, before.answer, before.variants) == (
            translation.question,
            translation.answer,
            translation.variants,
        ):
            # Not edited: a machine translation stays one, and a stale one stays stale.
            report.unchanged += 1
            continue
        problems = check(translation.text, doc.page_content) if check else []
        if problems:
            report.errors.append(
                f"{item.where}: not imported: {problems[0]}; fix it and import again"
            )
            continue
        if translation.source_hash != doc.metadata.get("content_hash"):
            report.stale += 1
        accepted.append(translation)
    report.imported = store.put_translations(accepted)
    return report

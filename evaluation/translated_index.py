"""The benchmark's entries translated into query languages, for ``eval retrieval
--translate-index``: made once with the production translator (translate preset, figure and
language checks), cached under the data dir by the entries' hash, the model and the languages,
and written after every call so that a killed run resumes."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.language import base_language
from linguadesk.settings import Settings

from .benchmarks import EvalEntry, EvalSet

Progress = Callable[[str, int, int], None]


def entry_lines(entry: EvalEntry) -> list[str]:
    """What a customer's question is matched against: the question and its variants, or the
    entry text when it has no question (xquad_r's sentences)."""
    lines = [entry.question, *entry.variants] if entry.question else [entry.text]
    return [" ".join(line.split()) for line in lines if line.strip()]


def model_name(settings: Settings) -> str:
    if settings.llm.url:
        return settings.llm.model
    return settings.llm.gguf.name if settings.llm.gguf else "embedded-default"


def cache_path(settings: Settings, evalset: EvalSet, language: str) -> Path:
    digest = hashlib.sha256()
    for entry in evalset.entries:
        digest.update(repr((entry.id, entry_lines(entry), entry.language)).encode())
    key = hashlib.sha256(f"{digest.hexdigest()}|{model_name(settings)}".encode()).hexdigest()
    # Keyed by the entries, not the set: banking77 and arbanking77 share one index.
    return settings.data_dir / "eval-translations" / f"{key[:16]}-{language}.json"


def _save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def translate_entries(
    settings: Settings,
    evalset: EvalSet,
    languages: tuple[str, ...],
    progress: Progress | None = None,
    *,
    cached_only: bool = False,
) -> tuple[dict[str, dict[str, list[str]]], dict[str, Any]]:
    """({language: {entry id: translated lines}}, timing): cached ones are read, the rest
    made now (unless ``cached_only``). An entry whose translation fails the checks is left
    out of that language."""
    from runtime import build_translator

    progress = progress or (lambda phase, done, total: None)
    translator = build_translator(settings)
    out: dict[str, dict[str, list[str]]] = {}
    timing: dict[str, Any] = {"model": model_name(settings), "languages": {}}
    for language in (base_language(x) for x in languages):
        path = cache_path(settings, evalset, language)
        data: dict[str, Any] = (
            json.loads(path.read_text("utf-8"))
            if path.exists()
            else {"seconds": 0.0, "translated": {}, "failed": []}
        )
        done: dict[str, list[str]] = data["translated"]
        failed = set(data["failed"])
        todo = [
            e
            for e in evalset.entries
            if e.id not in done and e.id not in failed and base_language(e.language) != language
        ][: 0 if cached_only else None]
        started = time.perf_counter()
        phase = f"translate {language}"
        progress(phase, len(evalset.entries) - len(todo), len(evalset.entries))
        for entry in todo:
            lines = _translate_lines(translator, entry, language)
            if lines:
                done[entry.id] = lines
            else:
                failed.add(entry.id)
            data["seconds"] += time.perf_counter() - started
            started = time.perf_counter()
            data["failed"] = sorted(failed)
            _save(path, data)
            progress(phase, len(done) + len(failed), len(evalset.entries))
        out[language] = done
        timing["languages"][language] = {
            "entries": len(done),
            "of": len(evalset.entries),
            "failed": len(failed),
            "seconds": round(data["seconds"], 1),
            "entries_per_minute": round(60 * (len(done) + len(failed)) / data["seconds"], 1)
            if data["seconds"]
            else None,
            "cache": str(path),
        }
    return out, timing


def _translate_lines(translator: Any, entry: EvalEntry, language: str) -> list[str]:
    """Each line on its own: a small model asked for eleven lines at once merges or drops some,
    and short requests cost little more than one long one (the output dominates). A line that
    fails the checks is left out; the entry keeps the others."""
    source = base_language(entry.language or "en")
    out = []
    for line in entry_lines(entry):
        text, _ = translator.translate_checked(line, source, language, layout=False)
        text = " ".join((text or "").split())
        if text:
            out.append(text)
    return out

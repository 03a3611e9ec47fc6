"""The FAQ localized for each market: translated views found by search, stale marking on edits,
nothing left behind on deletes, the reviewer's export/import, a resumable `kb translate`, and a
translation that changed a figure refused."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from bot.entry_translation import EntryTranslator, review_problems
from bot.localize import Localizer
from common.translation import MACHINE, REVIEWED, Translation
from knowledge import translations
from retrieval.hybrid import HybridSearch

ROOT = Path(__file__).resolve().parents[1]

FAQ = """\
# Help

## How long does delivery take?
Standard delivery takes 3 to 5 working days and costs $4.99.

## Can I pay with PayPal?
Yes, we accept PayPal, Visa and Mastercard.
"""

ARABIC_DELIVERY = Translation(
    "",
    "ar",
    "كم يستغرق التوصيل؟",
    "يستغرق التوصيل العادي من 3 إلى 5 أيام عمل ويكلف $4.99.",
    ("متى يصل طلبي؟",),
    REVIEWED,
)


def _ingest(kb, tmp_path: Path, text: str = FAQ) -> dict[str, str]:
    path = tmp_path / "faq.md"
    path.write_text(text, encoding="utf-8")
    report = kb.ingest([path])
    assert report.ok, report.errors
    return {str(meta["question"]): cid for cid, meta in kb.list_entries()}


def _with_id(t: Translation, chunk_id: str, source_hash: str) -> Translation:
    return Translation(
        chunk_id, t.language, t.question, t.answer, t.variants, t.status, source_hash
    )


def _hash(store, chunk_id: str) -> str:
    doc = store.get(chunk_id)
    assert doc is not None
    return str(doc.metadata["content_hash"])


def test_an_arabic_question_finds_an_english_only_entry_through_its_arabic_view(kb, tmp_path):
    ids = _ingest(kb, tmp_path)
    delivery = ids["How long does delivery take?"]
    store = kb.store
    assert store.put_translations([_with_id(ARABIC_DELIVERY, delivery, _hash(store, delivery))])
    search = HybridSearch(store)
    hits = search.search("متى سيصل طلبي؟", 2)
    assert hits[0].document.id == delivery
    # Matched within Arabic: no cross-lingual correction, and confident enough to answer.
    assert hits[0].relevance >= 0.5
    # The Arabic words are in the lexical index too, as the entry's own.
    index = search.lexical_index()
    scores, coverage = index.search("كم يستغرق التوصيل", 5)
    assert coverage == 1.0 and max(scores, key=lambda k: scores[k]) == delivery
    # One fused score per entry: the Arabic view did not add a second hit for it.
    assert [h.document.id for h in hits].count(delivery) == 1


def test_editing_an_entry_marks_its_translations_stale_and_removes_their_views(kb, tmp_path):
    ids = _ingest(kb, tmp_path)
    store = kb.store
    delivery, paypal = ids["How long does delivery take?"], ids["Can I pay with PayPal?"]
    store.put_translations(
        [
            _with_id(ARABIC_DELIVERY, delivery, _hash(store, delivery)),
            Translation(
                paypal,
                "ar",
                "هل يمكنني الدفع عبر PayPal؟",
                "نعم.",
                (),
                MACHINE,
                _hash(store, paypal),
            ),
        ]
    )
    assert len(store.views.get(where={"chunk_id": delivery}, include=[])["ids"]) == 3  # q + 2 ar
    assert len([i for i in store.use_views.get(include=[])["ids"] if "~t.ar." in i]) == 3

    _ingest(kb, tmp_path, FAQ.replace("$4.99", "$5.99"))
    by_id = {t.chunk_id: t for t in store.translations_of(language="ar")}
    assert by_id[delivery].stale and by_id[delivery].status == REVIEWED  # kept for the reviewer
    assert not by_id[paypal].stale
    for side in (store.views, store.use_views):
        view_ids = side.get(where={"chunk_id": delivery}, include=[])["ids"]
        assert [v for v in view_ids if "~t." in v] == []  # a stale translation is not searched
    assert store.get_localized(delivery, "ar", _hash(store, delivery)) is None
    cover = translations.coverage(store, ["ar"])["ar"]
    assert (cover.reviewed, cover.machine, cover.stale, cover.missing) == (0, 1, 1, 0)

    # Re-importing an export nobody edited keeps each row as it was: the stale one stays stale,
    # the machine one is not promoted to reviewed.
    exported = translations.export_csv(translations.rows(store, "ar")).encode()
    report = translations.import_file(store, "ar.csv", exported, review_problems)
    assert (report.imported, report.unchanged, report.errors) == (0, 2, [])
    cover = translations.coverage(store, ["ar"])["ar"]
    assert (cover.reviewed, cover.machine, cover.stale) == (0, 1, 1)


def test_a_store_that_dies_between_views_and_record_leaves_the_translation_pending(
    kb, tmp_path, monkeypatch
):
    """The crash window of `kb translate`: views are written before the record, so a run killed
    in between leaves nothing marked done without its views, and the rerun completes it."""
    ids = _ingest(kb, tmp_path)
    store = kb.store
    delivery = ids["How long does delivery take?"]
    item = _with_id(ARABIC_DELIVERY, delivery, _hash(store, delivery))

    def killed(**_: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(store.use_views, "upsert", killed)  # the last write of its views
        with pytest.raises(KeyboardInterrupt):
            store.put_translations([item])
    assert store.translations_of() == []  # still pending: the next run redoes it
    assert store.put_translations([item]) == 1
    for side in (store.views, store.use_views):
        view_ids = side.get(where={"chunk_id": delivery}, include=[])["ids"]
        assert sorted(v for v in view_ids if "~t.ar." in v) == [
            f"{delivery}~t.ar.0",
            f"{delivery}~t.ar.1",
        ]


def test_a_deleted_source_leaves_no_translation_behind(kb, tmp_path):
    ids = _ingest(kb, tmp_path)
    store = kb.store
    delivery = ids["How long does delivery take?"]
    store.put_translations([_with_id(ARABIC_DELIVERY, delivery, _hash(store, delivery))])
    (tmp_path / "faq.md").unlink()
    kb.ingest([tmp_path])  # the folder synced: its vanished file is deleted
    assert kb.store.count() == 0
    assert store.translations.get(include=[])["ids"] == []
    for side in (store.views, store.use_views):
        assert side.get(include=[])["ids"] == []
    # A translation finished after its entry was deleted is not stored.
    assert store.put_translations([_with_id(ARABIC_DELIVERY, delivery, "x")]) == 0


@pytest.mark.parametrize("file_format", ["csv", "xliff"])
def test_export_edit_import_marks_rows_reviewed_and_search_and_answers_use_them(
    kb, tmp_path, file_format
):
    ids = _ingest(kb, tmp_path)
    store = kb.store
    delivery = ids["How long does delivery take?"]
    rows = translations.rows(store, "ja")
    assert {r.status for r in rows} == {"missing"}
    question = "配達にはどのくらいかかりますか？"
    answer = "通常配送は3〜5営業日で、料金は$4.99です。"
    for r in rows:
        if r.id == delivery:
            r.question, r.answer = question, answer
    if file_format == "csv":
        name, data = "ja.csv", translations.export_csv(rows).encode()
        assert next(csv.DictReader(io.StringIO(data.decode())))["language"] == "ja"
    else:
        name, data = "ja.xliff", translations.export_xliff(rows, "ja").encode()
        assert b'trgLang="ja"' in data
    report = translations.import_file(store, name, data, review_problems)
    assert (report.imported, report.empty, report.errors) == (1, 1, [])
    [row] = [r for r in translations.rows(store, "ja") if r.id == delivery]
    assert (row.status, row.question, row.answer) == (REVIEWED, question, answer)

    hits = HybridSearch(store).search("配達にはどのくらいかかりますか", 1)
    assert hits[0].document.id == delivery
    # The answer path reads the reviewed text, figures in the customer's locale.
    from babel import Locale

    translator = EntryTranslator(
        lambda: pytest.fail("no LLM call: the reviewed text is used"), store
    )
    doc = store.get(delivery)
    assert doc is not None
    entry = translator.localized(doc, "ja", Locale.parse("ja_JP"))
    assert entry is not None and entry.title == question and "3〜5営業日" in entry.answer


def test_an_import_that_changes_a_figure_or_names_no_entry_is_refused_by_row(kb, tmp_path):
    ids = _ingest(kb, tmp_path)
    delivery = ids["How long does delivery take?"]
    rows = [r for r in translations.rows(kb.store, "de") if r.id == delivery]
    rows[0].question, rows[0].answer = "Wie lange dauert die Lieferung?", "3 bis 5 Tage, $3.99."
    text = translations.export_csv(rows) + "nonexistent,de,machine,,en,Q,F,,,A,B\n"
    report = translations.import_file(kb.store, "de.csv", text.encode(), review_problems)
    assert report.imported == 0
    assert any("row 2" in e and "3.99" in e for e in report.errors), report.errors
    assert any("row 3" in e and "nonexistent" in e for e in report.errors), report.errors
    with pytest.raises(translations.TranslationFileError, match="bad.xliff"):
        translations.import_file(kb.store, "bad.xliff", b"<?xml version='1.0'?><x/>")


class _Scripted(GenericFakeChatModel):
    """A model that rewrites the price: the failure mode the figure check exists for."""


def test_a_machine_translation_that_changed_a_figure_is_rejected(kb, tmp_path):
    ids = _ingest(kb, tmp_path)
    store = kb.store
    wrong = "¿Cuánto tarda la entrega?\n\nLa entrega estándar tarda de 3 a 5 días laborables y cuesta $5.99."
    model = _Scripted(messages=iter([AIMessage(content=wrong)] * 4))
    localizer = Localizer(store, EntryTranslator(lambda: model, store))
    report = localizer.run(["es"], ids={ids["How long does delivery take?"]})
    assert report.translated == 0 and len(report.failed) == 1
    assert "5.99" in report.failed[0].reason or "4.99" in report.failed[0].reason
    assert store.translations_of(language="es") == []


@pytest.mark.llm
def test_kb_translate_translates_only_changed_entries_and_resumes_after_kill_9(
    kb, tmp_path, settings
):
    from bot.llm_server import resolve_endpoint

    endpoint = resolve_endpoint(settings)  # the embedded server, shared with the CLI below
    ids = _ingest(kb, tmp_path)
    env = {
        **os.environ,
        "LINGUADESK_DATA_DIR": str(settings.data_dir),
        "LINGUADESK_MODEL_DIR": str(settings.models_dir),
        "LINGUADESK_LLM__URL": endpoint.url,
        "LINGUADESK_LLM__API_KEY": endpoint.api_key,
        "LINGUADESK_LLM__MODEL": endpoint.model,
    }
    command = [
        sys.executable,
        "-c",
        "from adapters.cli.app import main; main()",
        "kb",
        "translate",
        "--languages",
        "es,fr",
    ]
    store = kb.store
    child = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 300
    while not store.translations_of() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.5)
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    child.wait()
    made_first = {(t.chunk_id, t.language) for t in store.translations_of()}
    assert made_first, "the killed run stored nothing"

    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    made = store.translations_of()
    pairs = [(t.chunk_id, t.language) for t in made]
    assert len(pairs) == len(set(pairs))  # no duplicates
    assert made_first <= set(pairs)
    # Every stored translation has exactly its views, once.
    for t in made:
        view_ids = store.views.get(where={"chunk_id": t.chunk_id}, include=[])["ids"]
        assert len([v for v in view_ids if f"~t.{t.language}." in v]) == len(t.views)

    # Edit one entry: the next run translates that entry only (and retries any pair that
    # failed the checks before).
    missing = {(cid, lang) for cid in ids.values() for lang in ("es", "fr")} - set(pairs)
    _ingest(kb, tmp_path, FAQ.replace("$4.99", "$5.99"))
    delivery = ids["How long does delivery take?"]
    expected = len(missing | {(delivery, "es"), (delivery, "fr")})
    again = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert again.returncode in (0, 1), again.stdout + again.stderr
    text = again.stdout.replace("\n", " ")
    assert f"of {expected} (entry, language) pairs" in text, text
    fresh = [t for t in store.translations_of() if not t.stale]
    for t in fresh:
        if t.chunk_id == delivery:
            assert "5.99" in t.answer and "4.99" not in t.answer


def test_kb_languages_are_base_codes_and_a_bad_one_is_named():
    from linguadesk.settings import Settings

    assert Settings(kb={"languages": ["pt-BR", "JA", "ja", "zh_Hant"]}).kb.languages == [
        "pt",
        "ja",
        "zh",
    ]
    with pytest.raises(ValueError, match="'Deutsch!'"):
        Settings(kb={"languages": ["de", "Deutsch!"]})


def test_the_review_round_trip_through_the_cli(cli_env, tmp_path):
    from typer.testing import CliRunner

    from adapters.cli.main import app

    runner = CliRunner()
    faq = tmp_path / "faq.md"
    faq.write_text(FAQ, encoding="utf-8")
    assert runner.invoke(app, ["kb", "ingest", str(faq), "--no-translate"]).exit_code == 0
    exported = tmp_path / "fr.csv"
    result = runner.invoke(
        app, ["kb", "translations", "export", "--language", "fr", "-o", str(exported)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(exported.read_text("utf-8"))))
    assert len(rows) == 2 and {r["status"] for r in rows} == {"missing"}
    for row in rows:
        if row["source_question"] == "Can I pay with PayPal?":
            row["question"] = "Puis-je payer avec PayPal ?"
            row["answer"] = "Oui, nous acceptons PayPal, Visa et Mastercard."
    with exported.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(app, ["kb", "translations", "import", str(exported)])
    assert result.exit_code == 0, result.output
    assert "Imported 1 reviewed" in result.output
    result = runner.invoke(app, ["kb", "stats", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert stats["translations"]["fr"] == {
        "entries": 2,
        "machine": 0,
        "reviewed": 1,
        "stale": 0,
        "missing": 1,
    }
    missing = runner.invoke(app, ["kb", "translations", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "nope.csv" in missing.output


def test_a_refusal_in_place_of_a_translation_is_rejected_though_it_has_no_figure(use_encoder):
    # The embedded 1.5B answered "translate into Turkish" with this. The entry has no figure
    # and names no country, so only its meaning tells it from a translation.
    entry = "How do I change my password?\n\nOpen your account settings and choose a new password."
    refusal = (
        "Şifre nasıl değiştirilir?\n\nÜzgünüm, bu konuda yardımcı olamam. Size yardımcı olabilirim."
    )
    good = "Şifremi nasıl değiştiririm?\n\nHesap ayarlarınızı açın ve yeni bir şifre seçin."
    for output, accepted in ((refusal, False), (good, True)):
        model = _Scripted(messages=iter([AIMessage(content=output)] * 5))
        translator = EntryTranslator(lambda m=model: m, encode=use_encoder.encode)
        text, problems = translator.translate_checked(entry, "en", "tr")
        assert (text is not None) == accepted, problems
        if not accepted:
            assert problems[0].check == "meaning"

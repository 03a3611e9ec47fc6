"""Ingest = sync: adds, updates and deletes per source; bad sources leave the store untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from adapters.cli.app import app
from tests.conftest import EXAMPLES

FAQ_V1 = """# Help
## How long does shipping take?
Two to four business days.

## Can I return an item?
Yes, within 30 days.

## Do you sell gift cards?
Yes, from 10 to 200 euros.
"""

FAQ_V2 = """# Help
## How long does shipping take?
Three to five business days.

## Can I return an item?
Yes, within 30 days.

## Do you ship to Canada?
Yes, in 7 to 14 business days.
"""


def snapshot(store):
    got = store.collection.get(include=["metadatas", "documents", "embeddings"])
    return sorted(zip(got["ids"], got["documents"], [m["content_hash"] for m in got["metadatas"]]))


def test_sync_adds_updates_deletes_and_dry_run_writes_nothing(kb, tmp_path):
    faq = tmp_path / "faq.md"
    faq.write_text(FAQ_V1)
    first = kb.ingest([faq])
    assert first.ok and [len(first.plans[0].added)] == [3]
    ids_before = {cid: meta["title"] for cid, meta in kb.list_entries()}
    before = snapshot(kb.store)

    faq.write_text(FAQ_V2)
    dry = kb.ingest([faq], dry_run=True)
    (plan,) = dry.plans
    assert [c.title for c in plan.added] == ["Do you ship to Canada?"]
    assert [c.title for c in plan.updated] == ["How long does shipping take?"]
    assert list(plan.deleted.values()) == ["Do you sell gift cards?"]
    assert plan.unchanged == 1
    assert snapshot(kb.store) == before, "a dry run must not write"

    kb.ingest([faq])
    after = {cid: meta["title"] for cid, meta in kb.list_entries()}
    assert sorted(after.values()) == [
        "Can I return an item?",
        "Do you ship to Canada?",
        "How long does shipping take?",
    ]
    # ids are stable: the edited and the untouched entry keep theirs
    for title in ("Can I return an item?", "How long does shipping take?"):
        assert [c for c, t in after.items() if t == title] == [
            c for c, t in ids_before.items() if t == title
        ]
    shipping = next(c for c, t in after.items() if t == "How long does shipping take?")
    assert "Three to five" in kb.show(shipping).page_content
    assert kb.stats().entries == 3

    again = kb.ingest([faq])
    assert again.plans[0].changes == 0 and again.plans[0].unchanged == 3


def test_product_option_tags_entries_without_one(kb, tmp_path):
    faq = tmp_path / "faq.csv"
    faq.write_text("question,answer,product\nA?,a,\nB?,b,pets\n")
    kb.ingest([faq], product="phones")
    products = sorted(meta["product"] for _, meta in kb.list_entries())
    assert products == ["pets", "phones"]
    assert kb.stats().by_product == {"pets": 1, "phones": 1}


def test_file_deleted_from_an_ingested_folder_is_deleted_from_the_store(kb, tmp_path):
    folder = tmp_path / "faq"
    folder.mkdir()
    (folder / "a.md").write_text(FAQ_V1)
    (folder / "b.csv").write_text("question,answer\nOld question?,Old answer.\n")
    kb.ingest([folder])
    assert kb.stats().entries == 4
    (folder / "b.csv").unlink()
    dry = kb.ingest([folder], dry_run=True)
    assert [list(p.deleted.values()) for p in dry.plans if p.deleted] == [["Old question?"]]
    assert kb.stats().entries == 4
    kb.ingest([folder])
    assert kb.stats().entries == 3
    assert all(meta["source"].endswith("a.md") for _, meta in kb.list_entries())


def test_long_article_is_split_and_deleted_as_one(kb, tmp_path):
    article = tmp_path / "guide.md"
    paragraphs = [
        f"Paragraph {i}: " + "Keep the device dry and charge it fully. " * 12 for i in range(10)
    ]
    article.write_text("## How do I care for my power bank?\n" + "\n\n".join(paragraphs))
    kb.ingest([article])
    rows = kb.list_entries()
    assert len(rows) > 1
    assert len({meta["entry_id"] for _, meta in rows}) == 1
    assert kb.stats().entries == 1
    assert kb.delete_id(rows[0][1]["entry_id"]) == len(rows)
    assert kb.store.count() == 0


def test_folder_with_corrupt_pdf_and_broken_csv(kb, cli_env, tmp_path):
    folder = tmp_path / "faq"
    folder.mkdir()
    shutil.copy(EXAMPLES / "shipping-returns-payments.en.md", folder)
    shutil.copy(EXAMPLES / "konto-und-service.de.json", folder)
    good_csv = "question,answer\nDo you have a shop?,Online only.\nGift wrap?,Yes for 3.50.\n"
    (folder / "extra.csv").write_text(good_csv)
    runner = CliRunner()
    result = runner.invoke(app, ["kb", "ingest", str(folder / "extra.csv")])
    assert result.exit_code == 0, result.output
    from linguadesk.settings import get_settings
    from runtime import build_store

    store = build_store(get_settings())
    csv_before = snapshot_of_source(store, folder / "extra.csv")
    assert len(csv_before) == 2

    # Now break the CSV (a row with a stray field) and add a corrupt PDF.
    (folder / "extra.csv").write_text(good_csv + "Third?,Yes,surplus\n")
    (folder / "manual.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    result = runner.invoke(app, ["kb", "ingest", str(folder)])
    assert result.exit_code == 1
    assert "extra.csv, line 4" in result.output and "manual.pdf" in result.output
    assert snapshot_of_source(store, folder / "extra.csv") == csv_before
    stats = runner.invoke(app, ["kb", "stats", "--json"])
    assert stats.exit_code == 0
    sources = {
        Path(s).name: n for s, n in __import__("json").loads(stats.output)["by_source"].items()
    }
    assert sources == {
        "shipping-returns-payments.en.md": 18,
        "konto-und-service.de.json": 7,
        "extra.csv": 2,
    }


def test_cli_dry_run_then_delete_from_source_file(cli_env, tmp_path):
    faq = tmp_path / "faq.md"
    faq.write_text(FAQ_V1)
    runner = CliRunner()
    assert runner.invoke(app, ["kb", "ingest", str(faq)]).exit_code == 0
    faq.write_text(FAQ_V1.replace("## Do you sell gift cards?\nYes, from 10 to 200 euros.\n", ""))
    dry = runner.invoke(app, ["kb", "ingest", str(faq), "--dry-run"])
    assert dry.exit_code == 0
    assert "-1 deleted" in dry.output and "- Do you sell gift cards?" in dry.output
    assert "dry run" in dry.output
    assert '"entries": 3' in runner.invoke(app, ["kb", "stats", "--json"]).output
    assert runner.invoke(app, ["kb", "ingest", str(faq)]).exit_code == 0
    assert '"entries": 2' in runner.invoke(app, ["kb", "stats", "--json"]).output

    listing = runner.invoke(app, ["kb", "list"]).output
    assert "Can I return an item?" in listing and "gift cards" not in listing
    missing = runner.invoke(app, ["kb", "delete", "--source", "nope.md"])
    assert missing.exit_code == 1 and "No source matches 'nope.md'" in missing.output
    deleted = runner.invoke(app, ["kb", "delete", "--source", "faq.md"])
    assert deleted.exit_code == 0 and "Deleted 2 chunk(s)" in deleted.output
    assert '"entries": 0' in runner.invoke(app, ["kb", "stats", "--json"]).output


def snapshot_of_source(store, path: Path):
    from knowledge.admin import source_name

    got = store.collection.get(
        where={"source": source_name(path)}, include=["documents", "metadatas"]
    )
    return sorted(zip(got["ids"], got["documents"], [m["content_hash"] for m in got["metadatas"]]))

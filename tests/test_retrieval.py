"""Hybrid multilingual retrieval: real Chroma, real e5 and USE encoders, real BM25."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from typer.testing import CliRunner

from adapters.cli.app import app
from retrieval.hybrid import HybridSearch
from retrieval.lexical import LexicalIndex, tokenize
from tests.conftest import EXAMPLES, ROOT

BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
needs_benchmarks = pytest.mark.skipif(
    not BENCHMARKS.is_dir(), reason=f"benchmark data not at {BENCHMARKS}"
)
THRESHOLD = 0.5  # the default min_confidence


@pytest.fixture
def shop(kb):
    assert kb.ingest([EXAMPLES]).ok
    return HybridSearch(kb.store)


def _top(search: HybridSearch, query: str):
    hits = search.search(query, 4)
    assert hits, query
    return hits[0]


def test_cross_lingual_queries_find_entries_written_only_in_another_language(kb, tmp_path):
    faq = tmp_path / "versand.json"
    faq.write_text(
        json.dumps(
            [
                {
                    "question": "Wie lange dauert der Versand nach Österreich?",
                    "answer": "Nach Österreich liefern wir in 2 bis 4 Werktagen.",
                },
                {
                    "question": "Kann ich meine Bestellung stornieren?",
                    "answer": "Solange sie nicht versandt ist, in Ihrem Konto unter Bestellungen.",
                },
                {
                    "question": "Wie setze ich mein Passwort zurück?",
                    "answer": "Klicken Sie auf der Anmeldeseite auf Passwort vergessen.",
                },
                {
                    "question": "Bieten Sie Geschenkverpackung an?",
                    "answer": "Ja, für 3 Euro pro Artikel.",
                },
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    assert kb.ingest([faq]).ok
    search = HybridSearch(kb.store)
    for query in (
        "オーストリアへの配送にはどのくらい時間がかかりますか？",
        "كم من الوقت يستغرق الشحن إلى النمسا؟",
        "How long does delivery to Austria take?",
    ):
        best = _top(search, query)
        assert (
            best.document.metadata["question"] == "Wie lange dauert der Versand nach Österreich?"
        ), query
        assert best.relevance >= THRESHOLD, (query, best.relevance)
    best = _top(search, "パスワードを忘れました。どうすればリセットできますか？")
    assert best.document.metadata["question"] == "Wie setze ich mein Passwort zurück?"


def test_mixed_chinese_english_queries(shop):
    best = _top(shop, "红色 case for iPhone")
    assert best.document.metadata["question"] == "Are your phone cases compatible with MagSafe?"
    assert best.relevance >= THRESHOLD
    assert best.channels.get("lexical", 0) > 0, "the English words also match lexically"
    best = _top(shop, "dog 狗粮 for puppies")
    assert best.document.metadata["question"] == "Which dog food is suitable for puppies?"


@pytest.mark.parametrize(
    "query",
    [
        "明日のパリの天気はどうですか？",
        "What is the capital of France?",
        "Write me a poem about cats",
        "ok",
    ],
)
def test_off_topic_questions_are_no_match(shop, query):
    assert _top(shop, query).relevance < THRESHOLD


def test_on_topic_questions_in_many_languages_match(shop):
    for query in (
        "¿Cuánto tarda el envío internacional?",
        "国际运输需要多长时间？",
        "كم يستغرق الشحن الدولي؟",
        "ส่งต่างประเทศใช้เวลากี่วัน",
        "返品できますか？",
    ):
        assert _top(shop, query).relevance >= THRESHOLD, query


def test_tokenizer_handles_scripts_without_spaces():
    assert tokenize("狗粮运费") == ["狗粮", "粮运", "运费"]
    assert "ส่" in tokenize("ส่งฟรี") and "งฟ" in tokenize("ส่งฟรี")
    # Arabic: diacritics dropped, alef forms unified, so spellings meet.
    assert tokenize("أَرْسِلْ") == tokenize("ارسل")
    assert tokenize("Refunds refunded") == ["refund", "refund"]
    assert tokenize("红色 case for iPhone") == ["红色", "case", "for", "iphon"]


def test_lexical_coverage_tells_how_much_of_the_query_the_index_knows():
    index = LexicalIndex(
        ["a", "b"], ["How long does shipping take?", "Refund policy for red cases"]
    )
    scores, coverage = index.search("red cases refund", 2)
    assert list(scores) == ["b"] and coverage == 1.0
    scores, coverage = index.search("¿Cuánto tarda el envío?", 2)
    assert scores == {} and coverage == 0.0
    _, coverage = index.search("红色 cases", 2)
    assert coverage == pytest.approx(1 / 2)


def test_question_variants_are_searchable_and_kept_in_sync(kb, tmp_path):
    faq = tmp_path / "pay.md"
    faq.write_text(
        textwrap.dedent("""\
        ## Which payment methods do you accept?
        Also asked: Do you take PayPal? | Can I pay by credit card?
        Visa, Mastercard and PayPal.

        ## How do I close my account?
        Write to support and we close it within a day.
        """),
        encoding="utf-8",
    )
    assert kb.ingest([faq]).ok
    store = kb.store
    (entry,) = [m for _, m in kb.list_entries() if m["question"].startswith("Which payment")]
    assert entry["variants"] == "Do you take PayPal?\nCan I pay by credit card?"
    assert "Also asked" not in store.get(entry["entry_id"]).page_content
    assert store.views.count() == 4  # 2 questions + 2 variants
    best = _top(HybridSearch(store), "PayPalは使えますか？")
    assert best.document.metadata["question"] == "Which payment methods do you accept?"
    assert best.channels["question"] > best.channels["entry"]

    faq.write_text(faq.read_text().replace(" | Can I pay by credit card?", ""), encoding="utf-8")
    assert kb.ingest([faq]).ok
    assert store.views.count() == 3, "the removed variant's view is deleted"
    assert kb.delete_source(kb.resolve_source(str(faq))) == 2
    assert store.views.count() == 0 and store.use_views.count() == 0


def test_search_sees_changes_made_by_another_process(
    kb, tmp_path, settings, embeddings, use_encoder
):
    from knowledge.admin import KnowledgeBase
    from retrieval.vector_store import FaqStore

    search = HybridSearch(kb.store)
    assert search.search("gift wrapping", 1) == []
    other = KnowledgeBase(FaqStore(settings, embeddings, use_encoder=use_encoder))
    faq = tmp_path / "gift.csv"
    faq.write_text(
        "question,answer\nDo you offer gift wrapping?,Yes for 3 euros.\n", encoding="utf-8"
    )
    assert other.ingest([faq]).ok
    search._checked_at = 0.0  # skip the recheck interval instead of sleeping
    best = _top(search, "gift wrapping")
    assert best.channels["lexical"] > 0, "the lexical index was rebuilt from the new revision"


def test_store_written_before_views_existed_gets_them(kb, settings, embeddings, use_encoder):
    from retrieval.vector_store import FaqStore

    assert kb.ingest([EXAMPLES]).ok
    # What a store from before the side collections looks like: entries only.
    for side in (kb.store.views, kb.store.use_views, kb.store._meta):
        side.delete(ids=side.get(include=[])["ids"])
    reopened = FaqStore(settings, embeddings, use_encoder=use_encoder)
    assert (
        reopened.views.count() > kb.store.count() and reopened.use_views.count() > kb.store.count()
    )
    best = _top(HybridSearch(reopened), "How long does international shipping take?")
    assert best.document.metadata["question"] == "How long does international shipping take?"


def test_turning_the_use_encoder_on_later_builds_its_vectors(settings, embeddings, use_encoder):
    from knowledge.admin import KnowledgeBase
    from retrieval.vector_store import FaqStore

    without = KnowledgeBase(FaqStore(settings, embeddings))
    assert without.ingest([EXAMPLES]).ok and without.store.use_views is None
    with_use = FaqStore(settings, embeddings, use_encoder=use_encoder)
    docs = with_use.use_views.get(
        where={"chunk_id": {"$in": [i for i, _ in without.list_entries()]}}, include=[]
    )["ids"]
    assert {d.split("~")[0] for d in docs} == {i for i, _ in without.list_entries()}
    best = _top(HybridSearch(with_use), "国际运输需要多长时间？")
    assert "use" in best.channels


def test_writes_are_seen_at_once_and_unchanged_syncs_write_nothing(kb, tmp_path):
    search = HybridSearch(kb.store)
    faq = tmp_path / "gift.csv"
    faq.write_text(
        "question,answer\nDo you offer gift wrapping?,Yes for 3 euros.\n", encoding="utf-8"
    )
    assert search.search("gift wrapping", 1) == []
    assert kb.ingest([faq]).ok
    assert _top(search, "gift wrapping").channels["lexical"] > 0, "no wait for the recheck interval"
    revision = kb.store.revision()
    assert kb.ingest([faq]).ok
    assert kb.store.revision() == revision, "an unchanged source must not invalidate every index"


def test_relevance_gives_the_cross_lingual_gap_only_to_confident_detections():
    from retrieval.calibration import Relevance

    relevance = Relevance()
    channels = {"entry": 0.86, "question": 0.87}
    assert relevance(channels, "es", "en", 0.95) > 0.5 > relevance(channels, "es", "en", 0.4)
    assert relevance(channels, "en", "en") == relevance(channels, "nl", "en", 0.3)


def test_a_match_on_a_translated_view_in_the_query_language_gets_no_cross_lingual_bonus():
    from retrieval.calibration import Relevance

    relevance = Relevance()
    channels = {"entry": 0.70, "question": 0.87, "use": 0.6}
    across = relevance(channels, "ar", "en", 0.95)
    within = relevance(channels, "ar", "en", 0.95, {"question": {"ar": 0.87}, "use": {"ar": 0.6}})
    # The Arabic view matched an Arabic query: scored as a same-language pair.
    assert within == relevance(channels, "ar", "ar", 0.95) < across


def test_adding_a_translated_view_never_lowers_an_entrys_relevance():
    from retrieval.calibration import Relevance

    relevance = Relevance()
    own = {"entry": 0.75, "question": 0.80}
    before = relevance(own, "ar", "en", 0.95, {"question": {"": 0.80}})
    # An Arabic view slightly above the English one in raw similarity: the English view's
    # corrected similarity (0.80 + the ar gap) still counts.
    after = relevance(
        {**own, "question": 0.82}, "ar", "en", 0.95, {"question": {"": 0.80, "ar": 0.82}}
    )
    assert after >= before == relevance(own, "ar", "en", 0.95)


def test_views_in_other_languages_than_the_querys_do_not_lift_its_relevance():
    from retrieval.calibration import Relevance

    relevance = Relevance()
    own = {"entry": 0.80, "question": 0.84, "use": 0.45}
    alone = relevance(own, "en", "en", 0.95, {"question": {"": 0.84}, "use": {"": 0.45}})
    # Five translations of the entry's question: one of them scores a little higher by
    # chance (the Japanese on USE). An English non-match must not become a match by it.
    views = {
        "question": {"": 0.84, "de": 0.82, "es": 0.83, "zh": 0.84, "ja": 0.85},
        "use": {"": 0.45, "de": 0.23, "es": 0.47, "zh": 0.42, "ja": 0.55},
    }
    assert relevance(own, "en", "en", 0.95, views) == alone
    assert relevance(own, "en", "en", 0.3, views) == relevance(own, "en", "en", 0.3)
    # A German query gets the German view, and only it, beside the entry's own.
    german = relevance(own, "de", "en", 0.95, views)
    assert german == relevance(
        own, "de", "en", 0.95, {"question": {"": 0.84, "de": 0.82}, "use": {"": 0.45, "de": 0.23}}
    )


def test_channels_for_reports_the_view_languages(kb, tmp_path):
    from common.translation import REVIEWED, Translation
    from retrieval.hybrid import HybridSearch

    faq = tmp_path / "faq.md"
    faq.write_text(
        "## How long does delivery take?\nThree to five working days.\n", encoding="utf-8"
    )
    assert kb.ingest([faq]).ok
    [(chunk_id, meta)] = kb.list_entries()
    kb.store.put_translations(
        [
            Translation(
                chunk_id,
                "ar",
                "كم يستغرق التوصيل؟",
                "من ثلاثة إلى خمسة أيام عمل.",
                (),
                REVIEWED,
                str(meta["content_hash"]),
            )
        ]
    )
    search = HybridSearch(kb.store)
    channels, views = search.channels_for(search.encode(["كم يستغرق التوصيل؟"])[0], chunk_id)
    assert set(views["question"]) == {"", "ar"} and views["question"]["ar"] == channels["question"]
    assert set(views["use"]) == {"", "ar"}


def test_cross_encoder_reranker_reorders_the_fused_top_hits(shop, tmp_path, settings):
    """No cross-encoder ships offline: a tiny random one checks the wiring, not quality."""
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from retrieval.embeddings import ensure_embedding_model
    from runtime import build_search

    folder = tmp_path / "tiny-cross-encoder"
    tokenizer = AutoTokenizer.from_pretrained(ensure_embedding_model(settings))
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=1,
        max_position_embeddings=514,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)

    search = build_search(settings.updated({"retrieval.reranker_model": str(folder)}), shop.store)
    assert isinstance(search.reranker, CrossEncoder)
    fused = [h.document.id for h in shop.search("Do you ship to Japan?", search.rerank_top)]
    hits = search.search("Do you ship to Japan?", 4)
    scores = [h.channels["rerank"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert {h.document.id for h in hits} <= set(fused)


def test_multilingual_use_encoder_is_verified_and_aligned(use_encoder, settings):
    import numpy as np

    from linguadesk.provision import USE_WEIGHTS, _stamp_matches

    assert _stamp_matches(settings.models_dir / USE_WEIGHTS.filename, USE_WEIGHTS.sha256)
    v = use_encoder.encode(
        [
            "How long does shipping take?",
            "¿Cuánto tarda el envío?",
            "配送需要多长时间？",
            "I want to close my bank account",
        ]
    )
    assert v.shape == (4, 512)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[3] + 0.3 and v[0] @ v[2] > v[0] @ v[3] + 0.3


@needs_benchmarks
def test_benchmark_readers_follow_the_protocols(tmp_path):
    from evaluation import benchmarks

    bank = benchmarks.load("banking77", BENCHMARKS)
    assert len(bank.entries) == 77 and len(bank.queries) == 3080
    assert all(len(e.variants) == 10 and "_" not in e.question for e in bank.entries)
    arabic = benchmarks.load("arbanking77", BENCHMARKS)
    assert len(arabic.queries) == 3574 and {e.id for e in arabic.entries} == {
        e.id for e in bank.entries
    }
    assert all(q.gold <= {e.id for e in bank.entries} for q in arabic.queries)
    covid = benchmarks.load("covid_faq_en", BENCHMARKS)
    assert len(covid.entries) == 213 and len(covid.pairs) == 488
    assert sum(m for _, _, m in covid.pairs) == len(covid.queries) == 244
    assert covid.off_domain
    xquad = benchmarks.load("xquad_r", BENCHMARKS, query_languages=("zh", "en"))
    assert len(xquad.entries) == 1180 and len(xquad.queries) == 2 * 1190
    ids = {e.id for e in xquad.entries}
    assert all(len(q.gold) == 1 and q.gold <= ids for q in xquad.queries)
    # Parallel questions share their gold sentence.
    assert xquad.queries[0].gold == xquad.queries[1190].gold
    # The gold sentence holds the answer (an answer starting at a sentence break belongs to
    # the sentence that starts there).
    chinese = benchmarks.load(
        "xquad_r", BENCHMARKS, query_languages=("zh",), index_languages=("zh",)
    )
    sentences = {e.id: e.text for e in chinese.entries}
    raw = json.loads((BENCHMARKS / "xquad_r" / "zh.json").read_text(encoding="utf-8"))
    answers = [
        qa["answers"][0]["text"] for a in raw["data"] for p in a["paragraphs"] for qa in p["qas"]
    ]
    held = sum(
        answer in sentences[next(iter(q.gold))] for q, answer in zip(chinese.queries, answers)
    )
    assert held / len(answers) > 0.98
    # A held-out set in the same format may bring other languages: they are discovered.
    held_out = tmp_path / "held-out"
    (held_out / "xquad_r").mkdir(parents=True)
    for source, target in (("en", "en"), ("es", "pt")):
        shutil.copy(
            BENCHMARKS / "xquad_r" / f"{source}.json", held_out / "xquad_r" / f"{target}.json"
        )
    assert [q.language for q in benchmarks.load("xquad_r", held_out, 3).queries] == ["en"] * 3 + [
        "pt"
    ] * 3
    with pytest.raises(benchmarks.BenchmarkError, match="no language xx .* choose from en, pt"):
        benchmarks.load("xquad_r", held_out, query_languages=("xx",))
    # --limit spreads over the file (sorted by intent), not its first rows.
    assert (
        len({next(iter(q.gold)) for q in benchmarks.load("banking77", BENCHMARKS, 77).queries}) > 60
    )


@needs_benchmarks
def test_eval_retrieval_command_reports_hybrid_against_baseline(cli_env, tmp_path):
    report_file = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "retrieval",
            "--benchmark",
            "arbanking77",
            "--limit",
            "60",
            "--latency-sample",
            "5",
            "--data",
            str(BENCHMARKS),
            "--json",
            str(report_file),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "R@1 base" in result.output and "ar" in result.output
    report = json.loads(report_file.read_text())
    ar = report["languages"]["ar"]
    for system in ("baseline", "hybrid"):
        metrics = ar[system]
        assert metrics["queries"] == 60 and metrics["latency_samples"] == 5
        assert 0 <= metrics["recall@1"] <= metrics["recall@5"] <= 1
    assert ar["hybrid"]["recall@5"] > ar["baseline"]["recall@5"]
    assert ar["ratio"]["recall@1"] == pytest.approx(
        ar["hybrid"]["recall@1"] / ar["baseline"]["recall@1"]
    )


def test_eval_retrieval_errors_are_clear(cli_env, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app, ["eval", "retrieval", "--benchmark", "nope", "--data", str(tmp_path)]
    )
    assert result.exit_code == 2 and "Unknown benchmark 'nope'" in result.output
    result = runner.invoke(
        app, ["eval", "retrieval", "--benchmark", "banking77", "--data", str(tmp_path)]
    )
    assert result.exit_code == 2 and "is missing" in result.output and "--data" in result.output
    result = runner.invoke(
        app, ["eval", "retrieval", "--benchmark", "xquad_r", "--data", str(tmp_path)]
    )
    assert result.exit_code == 2 and "xquad_r/en.json is missing" in result.output

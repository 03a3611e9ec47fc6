from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from linguadesk.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "shop-faq"
# Models are provisioned once (by `make test`, or lazily here) and shared by all tests;
# every test gets its own data dir and so its own Chroma store.
MODELS_DIR = Path(os.environ.get("LINGUADESK_TEST_MODEL_DIR") or ROOT / ".data" / "models")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    from tests.services import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        if url is None:
            pytest.skip(
                "redis-server is not installed (Debian package redis-server; "
                "`make test` installs it when it can)"
            )
        yield url


# A handoff webhook is always signed: every test that points one at a receiver has this secret.
WEBHOOK_SECRET = "test-webhook-secret-0123456789abcdef"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        model_dir=MODELS_DIR,
        handoff={"webhook_secret": SecretStr(WEBHOOK_SECRET)},
    )


@pytest.fixture(scope="session")
def embeddings():
    from retrieval.embeddings import load_embeddings

    return load_embeddings(Settings(model_dir=MODELS_DIR))


@pytest.fixture(scope="session")
def use_encoder():
    from retrieval.use_encoder import load_use_encoder

    return load_use_encoder(Settings(model_dir=MODELS_DIR))


@pytest.fixture
def store(settings, embeddings, use_encoder):
    from retrieval.vector_store import FaqStore

    return FaqStore(settings, embeddings, use_encoder=use_encoder)


@pytest.fixture
def kb(store):
    from knowledge.admin import KnowledgeBase

    return KnowledgeBase(store)


@pytest.fixture
def loaded_kb(kb):
    report = kb.ingest([EXAMPLES])
    assert report.ok
    return kb


@pytest.fixture
def cli_env(settings, monkeypatch):
    """Point the CLI's cached settings at this test's data dir."""
    from linguadesk.settings import get_settings

    monkeypatch.setenv("LINGUADESK_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("LINGUADESK_MODEL_DIR", str(MODELS_DIR))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()

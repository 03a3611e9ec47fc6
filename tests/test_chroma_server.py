"""With LINGUADESK_CHROMA__URL set, the same code talks to a Chroma server over HTTP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from linguadesk.settings import Settings
from retrieval.hybrid import HybridSearch
from retrieval.vector_store import FaqStore, StoreUnavailable
from tests.conftest import MODELS_DIR


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "the chromadb package installs the 'chroma' server command"
    port = _free_port()
    proc = subprocess.Popen(
        [
            chroma,
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("the Chroma server did not start within 60 s")
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_ingest_and_search_through_a_chroma_server(
    chroma_server, embeddings, use_encoder, tmp_path
):
    from knowledge.admin import KnowledgeBase

    settings = Settings(
        data_dir=tmp_path / "data", model_dir=MODELS_DIR, chroma={"url": chroma_server}
    )
    faq = tmp_path / "faq.csv"
    faq.write_text(
        "question,answer\nDo you ship to Canada?,Yes in 7 to 14 days.\n"
        "How do I reset my password?,Use the Forgot password link.\n"
    )
    kb = KnowledgeBase(FaqStore(settings, embeddings, use_encoder=use_encoder))
    assert kb.ingest([faq]).ok
    assert not settings.chroma_dir.exists(), "no embedded store is created when a server is set"
    # A second client (another worker) sees the same collections, views and revision.
    other = HybridSearch(FaqStore(settings, embeddings, use_encoder=use_encoder))
    best = other.search("¿Envían a Canadá?", k=1)[0]
    assert best.document.metadata["question"] == "Do you ship to Canada?"
    assert best.relevance > 0.5 and set(best.channels) >= {"entry", "question", "use"}


def test_unreachable_chroma_server_says_what_to_do(embeddings, tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data",
        model_dir=MODELS_DIR,
        chroma={"url": f"http://127.0.0.1:{_free_port()}"},
    )
    with pytest.raises(
        StoreUnavailable, match="Cannot reach the Chroma server .* LINGUADESK_CHROMA__URL"
    ):
        FaqStore(settings, embeddings)

"""`kill -9` during `linguadesk kb ingest` (a real process writing to a real Chroma server)
leaves a store that the next ingest brings to exactly what an uninterrupted ingest gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import chromadb
import pytest

from tests.conftest import MODELS_DIR
from tests.services import chroma_server

ENTRIES = 1200


def write_faq(folder: Path) -> None:
    folder.mkdir()
    for part in range(ENTRIES // 100):
        lines = []
        for n in range(part * 100, part * 100 + 100):
            lines += [
                f"## How do I set up feature {n} on the Model {n % 7} router?",
                f"Open Settings, then Features {n}, switch it on and press Save; the "
                f"router restarts within {n % 50 + 10} seconds.",
                "",
            ]
        (folder / f"features-{part:02d}.md").write_text("\n".join(lines))


def ingest(folder: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "adapters.cli.app", "kb", "ingest", str(folder)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def counts(client, collection: str) -> dict[str, int]:
    return {c.name: c.count() for c in client.list_collections() if c.name.startswith(collection)}


@pytest.mark.slow
def test_a_killed_ingest_converges_when_run_again(tmp_path):
    faq = tmp_path / "faq"
    write_faq(faq)
    with chroma_server(tmp_path / "chroma") as (url, _):
        client = chromadb.HttpClient(host="127.0.0.1", port=int(url.rsplit(":", 1)[1]))
        env = {
            **os.environ,
            "LINGUADESK_CHROMA__URL": url,
            "LINGUADESK_MODEL_DIR": str(MODELS_DIR),
            "LINGUADESK_DATA_DIR": str(tmp_path / "data"),
            "HF_HUB_OFFLINE": "1",
        }

        process = ingest(faq, {**env, "LINGUADESK_CHROMA__COLLECTION": "crashed"})
        deadline = time.time() + 300
        while time.time() < deadline and process.poll() is None:
            written = counts(client, "crashed").get("crashed", 0)
            if written >= 100:  # part-way through: some entries written, most not
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.2)
        process.wait(30)
        assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
        assert 0 < counts(client, "crashed")["crashed"] < ENTRIES

        again = ingest(faq, {**env, "LINGUADESK_CHROMA__COLLECTION": "crashed"})
        assert again.wait(600) == 0, again.stderr.read().decode()[-2000:]
        clean = ingest(faq, {**env, "LINGUADESK_CHROMA__COLLECTION": "clean"})
        assert clean.wait(600) == 0, clean.stderr.read().decode()[-2000:]

        crashed, expected = counts(client, "crashed"), counts(client, "clean")
        assert expected["clean"] == ENTRIES
        # Entries and every side collection (question views, USE vectors) hold the same
        # number of records as after an uninterrupted ingest: nothing missing, nothing orphaned.
        assert {k.replace("crashed", ""): v for k, v in crashed.items() if "revision" not in k} == {
            k.replace("clean", ""): v for k, v in expected.items() if "revision" not in k
        }

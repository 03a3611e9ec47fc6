"""The repository's own test sets and example FAQ. They live in the source tree
(``benchmarks/``, ``examples/``), not in the installed package, so they are looked up from the
working directory; an option names them explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class RepositoryFile(NamedTuple):
    relative: str  # to the repository root
    option: str  # what to pass instead


SHOP_FAQ = RepositoryFile("examples/shop-faq", "--faq with a folder of FAQ files")
LANGUAGE_SET = RepositoryFile(
    "benchmarks/conversation/language_set.json", "--set with a test set file"
)
SHOP_ANSWER_SET = RepositoryFile(
    "benchmarks/answers/shop_answer_set.json", "--set with an answer set file"
)


class MissingRepositoryFile(FileNotFoundError):
    pass


def repository_path(file: RepositoryFile) -> Path:
    """The file in the working directory or the nearest folder above it that has it."""
    here = Path.cwd()
    for base in (here, *here.parents):
        if (base / file.relative).exists():
            return base / file.relative
    raise MissingRepositoryFile(
        f"{file.relative} is not in {here} or a folder above it: it comes with the Linguadesk "
        f"repository, not the installed package. Pass {file.option}, or run from a checkout."
    )

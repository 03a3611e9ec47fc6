"""The tree's import rules (docs/architecture.md), checked on the source: the core stays free of
adapters, tools and the composition root, and adapters never reach the conversation store."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "adapters",
    "bot",
    "common",
    "evaluation",
    "knowledge",
    "linguadesk",
    "retrieval",
    "runtime",
)


def _imports() -> dict[str, set[str]]:
    """Module path -> the first-party top-level packages and modules it imports."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            names: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.Import):
                    names |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module)
                elif isinstance(node, ast.ImportFrom) and node.level:
                    base = rel.split("/")[: -node.level]
                    names.add(".".join([*base, *(node.module or "").split(".")]).strip("."))
            found[rel] = names
    return found


def _offenders(where: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in _imports().items()
        if module.startswith(where)
        for name in names
        if name.split(".")[0] in forbidden
    )


def test_nothing_outside_adapters_imports_an_adapter():
    outside = [
        f"{m} imports {n}"
        for m, names in _imports().items()
        if not m.startswith("adapters/")
        for n in names
        if n.split(".")[0] == "adapters"
    ]
    assert outside == []


def test_knowledge_and_retrieval_do_not_import_the_core():
    assert _offenders("knowledge/", ("bot", "runtime", "evaluation", "adapters")) == []
    assert _offenders("retrieval/", ("bot", "runtime", "evaluation", "adapters")) == []


def test_the_core_imports_neither_knowledge_nor_tools_nor_the_composition_root():
    assert _offenders("bot/", ("knowledge", "runtime", "evaluation", "adapters")) == []


def test_common_is_a_leaf():
    assert (
        _offenders(
            "common/",
            ("bot", "knowledge", "retrieval", "runtime", "evaluation", "adapters", "linguadesk"),
        )
        == []
    )


def test_no_adapter_touches_the_conversation_store():
    touching = []
    for path in (ROOT / "adapters").rglob("*.py"):
        text = path.read_text("utf-8")
        for needle in (
            ".conversations.",
            "open_conversation_store",
            "ConversationState(",
            "SqliteConversationStore",
            "RedisConversationStore",
        ):
            if needle in text:
                touching.append(f"{path.relative_to(ROOT)}: {needle}")
    assert touching == []

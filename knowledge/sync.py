"""Sync one source into the store: add new entries, update changed ones, delete vanished ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from retrieval.vector_store import FaqStore

from .entries import Chunk


@dataclass
class SyncPlan:
    source: str
    added: list[Chunk] = field(default_factory=list)
    updated: list[Chunk] = field(default_factory=list)
    deleted: dict[str, str] = field(default_factory=dict)  # id -> title
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.updated) + len(self.deleted)


def plan_sync(store: FaqStore, source: str, chunks: list[Chunk]) -> SyncPlan:
    existing = store.existing(source)
    plan = SyncPlan(source)
    for chunk in chunks:
        old = existing.pop(chunk.id, None)
        if old is None:
            plan.added.append(chunk)
        elif old.get("content_hash") != chunk.content_hash:
            plan.updated.append(chunk)
        else:
            plan.unchanged += 1
    plan.deleted = {cid: str(meta.get("title", "")) for cid, meta in existing.items()}
    return plan


def apply_sync(
    store: FaqStore, plan: SyncPlan, progress: Callable[[int], None] | None = None
) -> None:
    # Upsert before deleting: if embedding fails half-way the old entries are still there,
    # and re-running the same ingest converges.
    store.upsert(plan.added + plan.updated, progress)
    if plan.deleted:
        store.delete(list(plan.deleted))

"""Retrieval: the example store and what a retrieval model reads of it (docs/architecture.md)."""

from core.retrieval.store import SHIPPED_STORE, Example, ExampleStore, LeaveOut


def open_examples() -> ExampleStore:
    """The store generation retrieves from: the shipped rows, with the user's when they have any."""
    from core.retrieval.user import searchable_store

    return searchable_store()


__all__ = ["SHIPPED_STORE", "Example", "ExampleStore", "LeaveOut", "open_examples"]

"""A company's documents of one kind by id, indexed by external document number as well.

BC finds a document by its external number through a key; the sandbox did it by scanning
every document of the company, on every create (a repeated number answers the document it
made) and every `$filter` on `externalDocumentNumber`, so a large run slowed down with
each document it had posted. The index answers both at once, in the books' order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Protocol, TypeVar


class HasExternalNumber(Protocol):
    @property
    def external_document_number(self) -> str: ...


D = TypeVar("D", bound=HasExternalNumber)


class Documents(dict[str, D]):
    """Documents by id; `with_external` finds them by external document number (which a
    document keeps from its creation)."""

    def __init__(self) -> None:
        super().__init__()
        self._by_external: dict[str, dict[str, tuple[int, D]]] = {}
        self._order = itertools.count()

    def __setitem__(self, document_id: str, document: D) -> None:
        if document_id in self:
            del self[document_id]
        super().__setitem__(document_id, document)
        peers = self._by_external.setdefault(document.external_document_number, {})
        peers[document_id] = (next(self._order), document)

    def __delitem__(self, document_id: str) -> None:
        external = self[document_id].external_document_number
        super().__delitem__(document_id)
        peers = self._by_external[external]
        del peers[document_id]
        if not peers:
            del self._by_external[external]

    def with_external(self, externals: Iterable[str]) -> list[D]:
        """The documents carrying any of `externals`, in the order they were added."""
        found = [
            entry
            for external in set(externals)
            for entry in self._by_external.get(external, {}).values()
        ]
        return [document for _, document in sorted(found, key=lambda entry: entry[0])]

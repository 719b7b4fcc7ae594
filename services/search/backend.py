"""The interface every search backend implements (tantivy, Elasticsearch, OpenSearch)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import grpc

from services.common.errors import DomainError
from services.search.query import Plan

if TYPE_CHECKING:
    from services.search.settings import SearchSettings


class BackendUnavailable(DomainError):
    """The search engine cannot be reached or cannot serve now (down, restarting, overloaded).

    Searches answer UNAVAILABLE; the indexer retries, from its recorded position, until it is back.
    """

    code = grpc.StatusCode.UNAVAILABLE


@dataclass
class Hit:
    """One found customer: its display fields, score and sort value."""

    display: dict[str, Any]
    score: float
    sort_value: Any = None
    seq: int = 0


@dataclass
class Result:
    hits: list[Hit]
    total: int
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


class SearchBackend(Protocol):
    """Stores index documents and runs query plans."""

    name: str

    def apply(
        self,
        upserts: list[dict[str, Any]],
        deletes: list[str],
        position: int,
        versions: Mapping[str, int] | None = None,
    ) -> None:
        """Write documents, remove ids, and record the feed position, durably and in that order.

        `versions` gives each id the feed position of its change; a backend shared by several
        indexers keeps the highest, so a late writer never puts an old snapshot over a new one.
        """

    def position(self) -> int:
        """The last feed position applied (0 for a new index)."""

    def feed_position(self, feed: str) -> int:
        """The last position applied of another followed feed (e.g. "tags"), 0 if none."""

    def set_feed_position(self, feed: str, position: int) -> None:
        """Record the last position applied of another followed feed, after its writes."""

    def sources(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored display fields of the documents with these ids (absent ones left out)."""

    def search(self, plan: Plan) -> Result:
        """Run a plan."""

    def count(self) -> int:
        """How many documents the index holds."""

    def begin_rebuild(self) -> "SearchBackend":
        """A new, empty index beside the live one, for a rebuild."""

    def finish_rebuild(self, fresh: "SearchBackend") -> None:
        """Make a rebuilt index the live one and drop the old."""

    def close(self) -> None:
        """Release files and connections."""


def open_backend(settings: "SearchSettings") -> SearchBackend:
    """The backend the settings name, opened and ready."""
    if settings.backend == "tantivy":
        from services.search.tantivy_backend import TantivyBackend

        return TantivyBackend(settings.resolved_index_dir())
    from services.search.cluster_backend import ClusterBackend

    return ClusterBackend.from_settings(settings)

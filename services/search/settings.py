"""Search service settings."""

from pathlib import Path
from typing import Literal

from pydantic import Field

from services.common.settings import ServiceSettings


class SearchSettings(ServiceSettings):
    """Configuration of the search service, from the environment."""

    backend: Literal["tantivy", "elasticsearch", "opensearch"] = Field(
        default="tantivy", validation_alias="CRM_SEARCH_BACKEND"
    )
    listen_address: str = Field(default="127.0.0.1:50052", validation_alias="CRM_SEARCH_LISTEN_ADDRESS")
    profile_addr: str = Field(default="127.0.0.1:50051", validation_alias="PROFILE_ADDR")
    # The tagging service, whose tag change feed puts tags into documents; empty: no tags.
    tagging_addr: str = Field(default="", validation_alias="TAGGING_ADDR")
    # Embedded index folder; defaults to <data_dir>/search.
    index_dir: Path | None = Field(default=None, validation_alias="CRM_SEARCH_INDEX_DIR")
    elasticsearch_url: str = Field(default="", validation_alias="ELASTICSEARCH_URL")
    opensearch_url: str = Field(default="", validation_alias="OPENSEARCH_URL")
    # Alias the cluster backends search; versioned indices sit behind it.
    index_alias: str = Field(default="crm-customers", validation_alias="CRM_SEARCH_INDEX_ALIAS")
    # Whether this process follows the change feed (one indexer; many query replicas).
    run_indexer: bool = Field(default=True, validation_alias="CRM_SEARCH_INDEXER")
    feed_batch: int = Field(default=500, ge=1, le=1000, validation_alias="CRM_SEARCH_FEED_BATCH")
    feed_poll_seconds: float = Field(default=0.2, gt=0, validation_alias="CRM_SEARCH_FEED_POLL_SECONDS")

    def resolved_index_dir(self) -> Path:
        """The embedded index folder in force."""
        return self.index_dir or self.data_dir / "search"

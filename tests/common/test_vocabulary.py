"""The closed vocabularies the API documents are the ones the services enforce."""

from typing import get_args

from services.common.vocabulary import CustomerSort, SearchSort
from services.profile.service import _SORT_KEYS
from services.search.query import SORT_FIELDS


def test_the_documented_customer_orders_are_the_ones_the_archive_sorts_by() -> None:
    assert {s.lstrip("-") for s in get_args(CustomerSort)} == set(_SORT_KEYS)
    assert len(get_args(CustomerSort)) == 2 * len(_SORT_KEYS)


def test_the_documented_search_orders_are_the_ones_the_search_service_sorts_by() -> None:
    fields = {s.lstrip("-") for s in get_args(SearchSort)} - {"relevance"}
    assert fields == set(SORT_FIELDS)
    assert len(get_args(SearchSort)) == 1 + 2 * len(SORT_FIELDS)

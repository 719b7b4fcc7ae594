"""Waiting for what the platform does asynchronously: indexing, following feeds, shipping audit events."""

import time
from collections.abc import Callable
from typing import Any


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """The first truthy result of check within timeout, else the last one."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)

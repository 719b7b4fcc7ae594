"""Benchmarks that measure the running platform against the targets in SPEC section 5.

`python -m bench.gateway_throughput` (or `make bench`) is the entry point. The generated gRPC
modules live in gen/, which `make bench` does not put on the path, so it is added here.
"""

import sys
from pathlib import Path

_GEN = str(Path(__file__).resolve().parent.parent / "gen")
if _GEN not in sys.path:
    sys.path.append(_GEN)

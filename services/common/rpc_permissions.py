"""The permission each RPC needs: declared beside its servicer, enforced by the server interceptor.

A service's table must name every RPC of its proto service, so a new RPC cannot ship without
a decision about who may call it; the interceptor refuses an undeclared method outright.
"""

from collections.abc import Mapping

from google.protobuf.descriptor import ServiceDescriptor

# Any authenticated caller may call it (say why where it is used).
ANY_CALLER = ""
# Served without a caller at all: logging in, token exchange, the public keys.
PUBLIC = "public"


def declare(service: ServiceDescriptor, permissions: Mapping[str, str]) -> dict[str, str]:
    """Full method name -> permission; ValueError unless each RPC of the service is declared."""
    rpcs = {method.name for method in service.methods}
    missing, unknown = sorted(rpcs - set(permissions)), sorted(set(permissions) - rpcs)
    if missing or unknown:
        raise ValueError(f"{service.full_name}: undeclared RPCs {missing}, unknown RPCs {unknown}")
    return {f"/{service.full_name}/{name}": permission for name, permission in permissions.items()}

"""The gateway's view of the client's address behind proxies, and what traces keep of queries."""

import pytest

from services.gateway.middleware import client_address, parse_networks, redact_query
from services.gateway.settings import GatewaySettings

BALANCERS = parse_networks(["10.0.0.0/8", "192.0.2.1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("198.51.100.7", "10.1.2.3", "198.51.100.7"),  # not from a proxy: the header is the client's word
        ("10.0.0.5", "", "10.0.0.5"),
        ("10.0.0.5", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.5", "10.9.9.9, 203.0.113.9, 192.0.2.1", "203.0.113.9"),  # through two proxies
        ("10.0.0.5", "10.1.2.3, 203.0.113.9", "203.0.113.9"),  # left of the first stranger: forged
        ("10.0.0.5", "10.1.1.1, 10.2.2.2", "10.1.1.1"),  # only proxies: the farthest one
        ("10.0.0.5", "not-an-address, 203.0.113.9", "203.0.113.9"),
        ("10.0.0.5", "203.0.113.9, garbage", "10.0.0.5"),
        ("10.0.0.5", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_x_forwarded_for_counts_only_from_trusted_proxies(peer: str, forwarded: str, client: str) -> None:
    assert client_address(peer, forwarded, BALANCERS) == client
    assert client_address(peer, forwarded, ()) == peer


def test_a_bad_trusted_proxy_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::/32")
    assert GatewaySettings().trusted_proxy_list() == ["10.0.0.0/8", "2001:db8::/32"]
    monkeypatch.setenv("CRM_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, load-balancer")
    with pytest.raises(ValueError, match="load-balancer"):
        GatewaySettings()


def test_query_values_are_redacted_and_names_kept() -> None:
    assert (
        redact_query("name=%E5%BC%A0%E4%BC%9F&page_size=5&q=")
        == "name=REDACTED&page_size=REDACTED&q=REDACTED"
    )

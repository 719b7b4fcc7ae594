"""Outgoing gRPC channels: one way to open them, with the options and the transport every
service-to-service call uses (mutual TLS when configured, docs/deployment.md)."""

import threading
import time
from typing import Any

import grpc

from services.common.settings import ServiceSettings, TlsFiles

CHANNEL_OPTIONS = [
    # Spread calls over every address a name resolves to (replicas behind a headless Service).
    ("grpc.lb_policy_name", "round_robin"),
    # After an outage, reconnect within a couple of seconds instead of gRPC's default of minutes.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]
# How often a channel looks whether its certificate files changed (a stat of three files).
RENEWAL_CHECK_SECONDS = 30.0


def channel_credentials(tls: TlsFiles) -> grpc.ChannelCredentials:
    """This service's client side of mutual TLS: its certificate and key, and the CA the called
    service's certificate must chain to."""
    return grpc.ssl_channel_credentials(
        root_certificates=tls.ca.read_bytes(),
        private_key=tls.key.read_bytes(),
        certificate_chain=tls.cert.read_bytes(),
    )


def channel(address: str, settings: ServiceSettings) -> grpc.Channel:
    """A channel to another platform service, over mutual TLS when the settings give certificates."""
    tls = settings.grpc_tls()
    if tls is None:
        return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    return RenewingChannel(address, tls)


def aio_channel(address: str, settings: ServiceSettings) -> grpc.aio.Channel:
    """The asyncio twin of `channel` (the gateway's)."""
    tls = settings.grpc_tls()
    if tls is None:
        return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
    return RenewingAioChannel(address, tls)


class _Renewing:
    """Holds the mutual-TLS channel of the certificate files in force: once they change
    (cert-manager renews them in place), the next call opens a channel with the new ones. Calls in
    flight finish on the old channel, which is closed with this one."""

    def __init__(self, address: str, tls: TlsFiles, *, aio: bool) -> None:
        self._address = address
        self._tls = tls
        self._aio = aio
        self._lock = threading.Lock()
        self._stamp = tls.stamp()
        self._next_check = time.monotonic() + RENEWAL_CHECK_SECONDS
        self._current: Any = self._open()
        self._retired: list[Any] = []

    def _open(self) -> Any:
        credentials = channel_credentials(self._tls)
        factory = grpc.aio.secure_channel if self._aio else grpc.secure_channel
        return factory(self._address, credentials, options=CHANNEL_OPTIONS)

    def current(self) -> Any:
        """The channel to call on now."""
        now = time.monotonic()
        if now >= self._next_check:
            with self._lock:
                if now >= self._next_check:
                    self._next_check = now + RENEWAL_CHECK_SECONDS
                    renewed = self._renewed()
                    if renewed is not None:
                        self._retired.append(self._current)
                        self._current, self._stamp = renewed
        return self._current

    def _renewed(self) -> tuple[Any, tuple[int, ...]] | None:
        """A channel with the files as they are now and their stamp (taken before reading them, so
        a change while they are read is seen at the next check), if they changed."""
        try:
            stamp = self._tls.stamp()
            if stamp == self._stamp:
                return None
            return self._open(), stamp
        except OSError:
            return None  # mid-update: look again at the next check

    def all_channels(self) -> list[Any]:
        """Every channel opened so far, the current one last."""
        return [*self._retired, self._current]


class _MultiCallable:
    """A stub's callable for one method, bound to whichever channel is current at each call."""

    def __init__(self, renewing: _Renewing, kind: str, method: str, kwargs: dict[str, Any]) -> None:
        self._renewing = renewing
        self._kind = kind
        self._method = method
        self._kwargs = kwargs
        self._bound: tuple[Any, Any] = (None, None)

    def _target(self) -> Any:
        channel = self._renewing.current()
        bound_to, target = self._bound
        if bound_to is not channel:
            target = getattr(channel, self._kind)(self._method, **self._kwargs)
            self._bound = (channel, target)
        return target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    def with_call(self, *args: Any, **kwargs: Any) -> Any:
        """As the underlying multicallable's with_call."""
        return self._target().with_call(*args, **kwargs)

    def future(self, *args: Any, **kwargs: Any) -> Any:
        """As the underlying multicallable's future."""
        return self._target().future(*args, **kwargs)


class RenewingChannel(grpc.Channel):
    """A mutual-TLS channel that presents the renewed certificate once its files change."""

    def __init__(self, address: str, tls: TlsFiles) -> None:
        self._renewing = _Renewing(address, tls, aio=False)

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        """Watch the current channel's connectivity."""
        self._renewing.current().subscribe(callback, try_to_connect=try_to_connect)

    def unsubscribe(self, callback: Any) -> None:
        """Stop watching."""
        for opened in self._renewing.all_channels():
            opened.unsubscribe(callback)

    def unary_unary(self, method: str, **kwargs: Any) -> Any:
        """A callable for a unary-unary method."""
        return _MultiCallable(self._renewing, "unary_unary", method, kwargs)

    def unary_stream(self, method: str, **kwargs: Any) -> Any:
        """A callable for a unary-stream method."""
        return _MultiCallable(self._renewing, "unary_stream", method, kwargs)

    def stream_unary(self, method: str, **kwargs: Any) -> Any:
        """A callable for a stream-unary method."""
        return _MultiCallable(self._renewing, "stream_unary", method, kwargs)

    def stream_stream(self, method: str, **kwargs: Any) -> Any:
        """A callable for a stream-stream method."""
        return _MultiCallable(self._renewing, "stream_stream", method, kwargs)

    def close(self) -> None:
        """Close every channel opened."""
        for opened in self._renewing.all_channels():
            opened.close()

    def __enter__(self) -> "RenewingChannel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RenewingAioChannel(grpc.aio.Channel):
    """The asyncio twin of RenewingChannel."""

    def __init__(self, address: str, tls: TlsFiles) -> None:
        self._renewing = _Renewing(address, tls, aio=True)

    async def __aenter__(self) -> "RenewingAioChannel":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self, grace: float | None = None) -> None:
        """Close every channel opened."""
        for opened in self._renewing.all_channels():
            await opened.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        """The current channel's connectivity."""
        state: grpc.ChannelConnectivity = self._renewing.current().get_state(try_to_connect)
        return state

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        """Wait until the current channel's connectivity changes."""
        await self._renewing.current().wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        """Wait until the current channel is ready."""
        await self._renewing.current().channel_ready()

    def unary_unary(self, method: str, **kwargs: Any) -> Any:
        """A callable for a unary-unary method."""
        return _MultiCallable(self._renewing, "unary_unary", method, kwargs)

    def unary_stream(self, method: str, **kwargs: Any) -> Any:
        """A callable for a unary-stream method."""
        return _MultiCallable(self._renewing, "unary_stream", method, kwargs)

    def stream_unary(self, method: str, **kwargs: Any) -> Any:
        """A callable for a stream-unary method."""
        return _MultiCallable(self._renewing, "stream_unary", method, kwargs)

    def stream_stream(self, method: str, **kwargs: Any) -> Any:
        """A callable for a stream-stream method."""
        return _MultiCallable(self._renewing, "stream_stream", method, kwargs)

"""Entry point: `python -m services.gateway` serves the REST API with uvicorn."""

import uvicorn

from services.common import logging as crm_logging
from services.common import telemetry
from services.gateway.main import create_app
from services.gateway.settings import GatewaySettings


def main() -> None:
    """Run the gateway until SIGTERM."""
    settings = GatewaySettings()
    crm_logging.setup("gateway", settings.log_level)
    telemetry.setup("gateway")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # X-Forwarded-For is honoured by the gateway itself, from CRM_GATEWAY_TRUSTED_PROXIES only.
        proxy_headers=False,
        timeout_keep_alive=settings.keepalive_seconds,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )


if __name__ == "__main__":
    main()

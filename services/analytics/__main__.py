"""Entry point: `python -m services.analytics [serve|migrate]`."""

import argparse

from services.analytics import migrate, server
from services.analytics.settings import AnalyticsSettings
from services.common import logging as crm_logging
from services.common import metrics, telemetry
from services.common.db import Database


def main() -> None:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m services.analytics")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args()
    settings = AnalyticsSettings()
    crm_logging.setup(server.SERVICE, settings.log_level)
    url = settings.resolved_database_url()
    if args.command == "migrate":
        migrate.upgrade(url)
        return
    telemetry.setup(server.SERVICE)
    if settings.mode == "embedded":
        migrate.upgrade(url)  # one process owns its SQLite file; production runs a migration Job
    db = Database(url, service=server.SERVICE)
    metrics.serve_metrics(settings.metrics_port, settings.metrics_host())
    server.serve(settings, db)


if __name__ == "__main__":
    main()

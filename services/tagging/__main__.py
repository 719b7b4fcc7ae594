"""Entry point: `python -m services.tagging [serve|migrate|evaluate|seed-demo]`."""

import argparse

from services.common import logging as crm_logging
from services.common import metrics, telemetry
from services.common.db import Database
from services.tagging import demo, migrate, segments, server, service
from services.tagging.settings import TaggingSettings


def main() -> None:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m services.tagging")
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "migrate", "evaluate", "seed-demo"]
    )
    args = parser.parse_args()
    settings = TaggingSettings()
    crm_logging.setup(server.SERVICE, settings.log_level)
    url = settings.resolved_database_url()
    if args.command == "migrate":
        migrate.upgrade(url)
        return
    if args.command == "serve":
        telemetry.setup(server.SERVICE)
    if settings.mode == "embedded" or args.command == "seed-demo":
        migrate.upgrade(url)  # one process owns its SQLite file; production runs a migration Job
    db = Database(url, service=server.SERVICE)
    if args.command == "seed-demo":
        demo.seed(db)
        return
    if args.command == "evaluate":
        with db.session_scope() as session:
            segments.evaluate_all(session, at=service.now())
        return
    metrics.serve_metrics(settings.metrics_port)
    server.serve(settings, db)


if __name__ == "__main__":
    main()

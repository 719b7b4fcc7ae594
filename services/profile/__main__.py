"""Entry point: `python -m services.profile [serve|migrate|recompute-tiers]`."""

import argparse

from services.common import identity, logging as crm_logging, metrics, telemetry
from services.common.db import Database
from services.profile import migrate, server, service
from services.profile.settings import ProfileSettings


def main() -> None:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m services.profile")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "recompute-tiers"])
    args = parser.parse_args()
    settings = ProfileSettings()
    crm_logging.setup(server.SERVICE, settings.log_level)
    url = settings.resolved_database_url()
    if args.command == "migrate":
        migrate.upgrade(url)
        return
    telemetry.setup(server.SERVICE)
    if settings.mode == "embedded":
        migrate.upgrade(url)  # one process owns its SQLite file; production runs a migration Job
    db = Database(url, service=server.SERVICE)
    if args.command == "recompute-tiers":
        with db.session_scope() as session:
            service.recompute_tiers(
                session=session, caller=identity.Caller(id="system:tiers", kind="service"),
                settings=settings,
            )
        return
    metrics.serve_metrics(settings.metrics_port)
    server.serve(settings, db)


if __name__ == "__main__":
    main()

"""Entry point: `python -m services.profile [serve|migrate|recompute-tiers|seed-demo]`."""

import argparse

from services.common import identity, metrics, telemetry
from services.common import logging as crm_logging
from services.common.db import Database
from services.profile import demo, migrate, server, service
from services.profile.settings import ProfileSettings


def main() -> None:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m services.profile")
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "migrate", "recompute-tiers", "seed-demo"]
    )
    parser.add_argument("--customers", type=int, default=3000, help="seed-demo: how many customers")
    parser.add_argument("--seed", type=int, default=42, help="seed-demo: random seed")
    args = parser.parse_args()
    settings = ProfileSettings()
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
        demo.seed(db, customers=args.customers, seed=args.seed, settings=settings, only_if_empty=True)
        return
    if args.command == "recompute-tiers":
        with db.session_scope() as session:
            caller = identity.Caller(id="system:tiers", kind="service")
            service.recompute_tiers(session=session, caller=caller, settings=settings)
        return
    metrics.serve_metrics(settings.metrics_port)
    server.serve(settings, db)


if __name__ == "__main__":
    main()

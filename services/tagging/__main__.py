"""Entry point: `python -m services.tagging [serve|migrate|evaluate|seed-demo|worker|beat]`.

`worker` runs the Celery worker (extra arguments go to it, e.g. `--beat` in the embedded mode);
`beat` runs the Celery beat scheduler alone (one replica in production).
"""

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
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate", "evaluate", "seed-demo", "worker", "beat"],
    )
    args, extra = parser.parse_known_args()
    settings = TaggingSettings()
    crm_logging.setup(server.SERVICE, settings.log_level)
    if args.command in ("worker", "beat"):
        from services.tagging import tasks  # imported here: it builds the Celery app

        level = ["--loglevel", settings.log_level]
        if args.command == "worker":
            tasks.app.worker_main(["worker", "--concurrency", "1", *level, *extra])
        else:
            tasks.app.start(["beat", *level, *extra])
        return
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
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
    metrics.serve_metrics(settings.metrics_port, settings.metrics_host())
    server.serve(settings, db)


if __name__ == "__main__":
    main()

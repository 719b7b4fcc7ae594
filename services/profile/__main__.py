"""Entry point: `python -m services.profile [serve|migrate|recompute-tiers|seed-demo|rewrap-keys|
apply-retention|key-status]`."""

import argparse
import json
import logging
import sys

from services.common import identity, metrics, telemetry
from services.common import logging as crm_logging
from services.common.db import Database
from services.profile import demo, migrate, privacy, sealing, server, service
from services.profile.keyring import Keyring, open_archive, open_keyring
from services.profile.settings import ProfileSettings

log = logging.getLogger(__name__)
COMMANDS = [
    "serve",
    "migrate",
    "recompute-tiers",
    "seed-demo",
    "rewrap-keys",
    "apply-retention",
    "key-status",
]


def main() -> None:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m services.profile")
    parser.add_argument("command", nargs="?", default="serve", choices=COMMANDS)
    parser.add_argument("--customers", type=int, default=3000, help="seed-demo: how many customers")
    parser.add_argument("--seed", type=int, default=42, help="seed-demo: random seed")
    parser.add_argument("--batch", type=int, default=500, help="rewrap-keys: keys per transaction")
    args = parser.parse_args()
    settings = ProfileSettings()
    crm_logging.setup(server.SERVICE, settings.log_level)
    url = settings.resolved_database_url()
    if args.command == "serve":
        telemetry.setup(server.SERVICE)  # before the engines exist, so their SQL is traced
    keyring = open_keyring(settings, settings.resolved_keystore_url())
    db = open_archive(url, keyring)
    if args.command == "migrate" or settings.mode == "embedded" or args.command == "seed-demo":
        # One process owns an embedded SQLite file; production runs `migrate` as a Job.
        migrate.upgrade(url)
        if sealed := sealing.seal_legacy_rows(db.engine, keyring):
            log.info("sealed rows written before encryption", extra={"rows": sealed})
    if args.command == "migrate":
        return
    if args.command == "seed-demo":
        demo.seed(db, customers=args.customers, seed=args.seed, settings=settings, only_if_empty=True)
        return
    system = identity.Caller(id=f"system:{args.command}", kind="service", scope="all", permissions=("*",))
    if args.command == "recompute-tiers":
        with db.session_scope() as session:
            service.recompute_tiers(session=session, caller=system, settings=settings)
        return
    if args.command == "rewrap-keys":
        moved = sum(keyring.rewrap_all(batch=args.batch))
        print(json.dumps({"rewrapped": moved, "versions": keyring.versions()}))  # noqa: T201 - CLI output
        return
    if args.command == "key-status":
        latest = keyring.provider.latest_version()
        print(json.dumps({"latest_version": latest, "keys_by_version": keyring.versions()}))  # noqa: T201
        return
    if args.command == "apply-retention":
        sys.exit(apply_retention(settings, db, keyring, system))
    metrics.serve_metrics(settings.metrics_port, settings.metrics_host())
    server.serve(settings, db, keyring)


def apply_retention(
    settings: ProfileSettings, db: Database, keyring: Keyring, system: identity.Caller
) -> int:
    """Erase churned customers past the retention period, each audited; exit status 0 or 1."""
    with db.session_scope(readonly=True) as session:
        due = privacy.due_for_retention(session=session, days=settings.retention_churned_days)
    audit = server.audit_recorder(settings)
    failed = 0

    def record(
        action: str, target: str, fields: object = (), details: dict[str, object] | None = None
    ) -> None:
        audit.record(caller=system, action=action, target=target, fields=fields, details=details)

    for customer_id in due:
        try:
            privacy.erase_and_shred(
                db,
                keyring,
                record,
                caller=system,
                customer_id=customer_id,
                reason=f"retention: churned for over {settings.retention_churned_days} days",
            )
        except Exception:
            failed += 1
            log.exception("retention erasure failed", extra={"crm.customer.id": customer_id})
    print(json.dumps({"due": len(due), "erased": len(due) - failed, "failed": failed}))  # noqa: T201
    return 1 if failed else 0


if __name__ == "__main__":
    main()

"""Entry point: `python -m services.auth [serve|migrate|create-admin|seed-demo|service-client]`."""

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from services.auth import clients, demo, migrate, server, service
from services.auth.settings import AuthSettings
from services.common import identity, metrics, telemetry
from services.common import logging as crm_logging
from services.common.db import Database
from services.common.errors import DomainError


def main() -> None:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m services.auth")
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate", "create-admin", "seed-demo", "service-client"],
    )
    parser.add_argument("--employee-id", help="create-admin: the administrator's employee ID")
    parser.add_argument("--name", help="create-admin: the administrator's display name")
    parser.add_argument("--org-unit", default="", help="create-admin: an existing org unit id")
    parser.add_argument("--output", type=Path, help="seed-demo, service-client: where to write credentials")
    parser.add_argument("--service", help="service-client: the platform service it is for, e.g. search")
    parser.add_argument("--scopes", nargs="*", default=[], help="service-client: the scopes it needs")
    args = parser.parse_args()
    settings = AuthSettings()
    crm_logging.setup(server.SERVICE, settings.log_level)
    if args.command in ("seed-demo", "service-client") and settings.mode == "production":
        sys.exit(f"error: {args.command} is for the embedded mode only; refusing in production")
    url = settings.resolved_database_url()
    if args.command == "migrate":
        migrate.upgrade(url)
        return
    if args.command == "serve":
        telemetry.setup(server.SERVICE)
    if settings.mode == "embedded":
        migrate.upgrade(url)  # one process owns its SQLite file; production runs a migration Job
    db = Database(url, service=server.SERVICE)
    try:
        if args.command == "create-admin":
            create_admin(db, settings, employee_id=args.employee_id, name=args.name, org_unit=args.org_unit)
            return
        if args.command == "seed-demo":
            output = args.output or settings.data_dir / "demo-users.json"
            demo.seed(db, settings=settings, output=output, now=datetime.now(UTC))
            return
        if args.command == "service-client":
            service_client(db, settings, service_name=args.service, scopes=args.scopes, output=args.output)
            return
    except DomainError as exc:
        sys.exit(f"error: {exc.message}")
    metrics.serve_metrics(settings.metrics_port, settings.metrics_host())
    server.serve(settings, db)


def create_admin(db: Database, settings: AuthSettings, *, employee_id: str, name: str, org_unit: str) -> None:
    """Create an administrator with a generated password, written once to the terminal."""
    if not employee_id or not name:
        sys.exit("error: create-admin needs --employee-id and --name")
    with db.session_scope() as session:
        _, password = service.create_user(
            session=session,
            settings=settings,
            employee_id=employee_id,
            display_name=name,
            org_unit_id=org_unit,
            roles=["admin"],
            now=datetime.now(UTC),
        )
    # The one place the password appears: the operator's terminal, never a log.
    sys.stdout.write(
        f"administrator {employee_id} created\none-time password: {password}\n"
        "change it and enrol TOTP at first login\n"
    )


def service_client(
    db: Database, settings: AuthSettings, *, service_name: str, scopes: list[str], output: Path | None
) -> None:
    """Give a platform service its own API client (embedded mode), credentials in a 0600 file.

    In production the operator creates these clients and hands the secrets over as Secrets.
    """
    if not service_name or not scopes or output is None:
        sys.exit("error: service-client needs --service, --scopes and --output")
    if output.exists():
        known = json.loads(output.read_text())
        with db.session_scope(readonly=True) as session:
            if any(c.client_id == known["client_id"] for c in clients.list_clients(session=session)):
                return
    caller = identity.Caller(id="ops:embedded-setup", kind="service", roles=("admin",), scope="all")
    with db.session_scope() as session:
        client, secret = clients.create(
            session=session,
            settings=settings,
            caller=caller,
            name=f"svc-{service_name}",
            scopes=scopes,
            record_scope="all",
            kind="service",
            now=datetime.now(UTC),
        )
        client_id = client.client_id
    output.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"client_id": client_id, "client_secret": secret}, handle)


if __name__ == "__main__":
    main()

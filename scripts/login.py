"""Log a demo user in and print the access token: `python -m scripts.login S1001`.

Reads var/demo-users.json (written by `make up`), computes the current TOTP code and calls
POST /api/v1/auth/login, so a person can try the API with curl at once:

    TOKEN=$(.venv/bin/python -m scripts.login S1001)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/v1/customers
"""

import argparse
import json
import sys
from pathlib import Path

import httpx
import pyotp

from scripts.stack import ROOT


def main() -> None:
    """Print an access token for one demo user."""
    parser = argparse.ArgumentParser(prog="python -m scripts.login")
    parser.add_argument("employee_id", help="e.g. A0001 (admin), S1001 (sales), M1001 (manager)")
    parser.add_argument("--users", type=Path, default=ROOT / "var" / "demo-users.json")
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    users = {u["employee_id"]: u for u in json.loads(args.users.read_text())}
    user = users.get(args.employee_id)
    if user is None:
        sys.exit(f"no demo user {args.employee_id}; known: {', '.join(sorted(users))}")
    reply = httpx.post(
        f"{args.gateway}/api/v1/auth/login",
        json={
            "employee_id": user["employee_id"],
            "password": user["password"],
            "totp_code": pyotp.TOTP(user["totp_secret"]).now(),
        },
    )
    if reply.status_code != 200 or "tokens" not in reply.json():
        sys.exit(f"login failed: {reply.text}")
    print(reply.json()["tokens"]["access_token"])


if __name__ == "__main__":
    main()

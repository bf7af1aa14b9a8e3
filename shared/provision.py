"""``python -m shared.provision``: create each service's Postgres role and schema (idempotent).

Reads ``DATABASE_ADMIN_URL`` (a role allowed to create roles) and, per service, the password from
``CERTIBUS_DB_PASSWORD_<SERVICE>`` (default: the role name, for local use only). Prints the DSN each
service should get as its ``DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from shared.contracts.topics import SERVICES
from shared.db import provision_service, role_for


def service_password(service: str) -> str:
    return os.environ.get(f"CERTIBUS_DB_PASSWORD_{service.upper()}", role_for(service))


async def provision_all(admin_dsn: str, services: list[str]) -> dict[str, str]:
    return {s: await provision_service(admin_dsn, s, service_password(s)) for s in services}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="*", default=list(SERVICES), choices=list(SERVICES))
    args = parser.parse_args()
    admin = os.environ.get("DATABASE_ADMIN_URL")
    if not admin:
        raise SystemExit(
            "DATABASE_ADMIN_URL is not set (e.g. postgresql://certibus_admin:…@127.0.0.1:15432/certibus)"
        )
    for service, dsn in asyncio.run(provision_all(admin, args.services)).items():
        print(f"{service.upper()}_DATABASE_URL={dsn}")


if __name__ == "__main__":
    main()

"""The export lines (.local/env) that point the tests and services at the local infrastructure."""

from __future__ import annotations

from urllib.parse import quote

from .config import (
    HOST,
    PG_ADMIN_ROLE,
    PG_DATABASE,
    Config,
)
from .processes import ensure_dir


def env_lines(cfg: Config) -> list[str]:
    url = (
        f"postgresql://{quote(PG_ADMIN_ROLE, safe='')}:{quote(cfg.pg_password, safe='')}"
        f"@{HOST}:{cfg.pg_port}/{PG_DATABASE}"
    )
    return [
        f"export KAFKA_BOOTSTRAP_SERVERS={cfg.bootstrap_servers}",
        f"export DATABASE_URL={url}",
    ]


def write_env(cfg: Config) -> None:
    ensure_dir(cfg.state)
    text = (
        f"# written by deploy/local/infra.py up; source it: . {cfg.env_file}\n"
        + "\n".join(env_lines(cfg))
        + "\n"
    )
    tmp = cfg.env_file.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(cfg.env_file)

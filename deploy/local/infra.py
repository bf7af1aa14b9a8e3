#!/usr/bin/env python3
"""Local infrastructure without Docker: a single-node Kafka (KRaft) broker and a PostgreSQL server.

Usage: python3 deploy/local/infra.py up|down|status|env|reset [kafka|postgres|all]

Standard library only: it runs before (and without) the project's virtualenv. The code is the
package beside this script (deploy/local/localinfra: config, processes, kafka, postgres, envfile,
cli); this file stays the entry point its callers use. State lives under <repo>/.local/ (override
with CERTIBUS_LOCAL_DIR); see deploy/local/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the package sits beside it
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from localinfra.cli import main
else:  # imported as deploy.local.infra
    from .localinfra.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

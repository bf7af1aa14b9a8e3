"""``python -m shared.cli …`` is ``certibus …`` (for environments without the console script)."""

from shared.cli import main

main(prog_name="certibus")

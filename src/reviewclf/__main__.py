"""``python -m reviewclf``: the CLI, for environments where the console script is not on PATH."""

from reviewclf.cli import main

main()

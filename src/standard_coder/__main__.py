"""``python -m standard_coder`` runs the CLI."""

from standard_coder.cli import main

main()

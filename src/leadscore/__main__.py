"""``python -m leadscore`` runs the CLI."""

from leadscore.cli.main import main

main()

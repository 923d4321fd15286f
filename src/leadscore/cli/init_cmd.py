"""``leadscore init``: create a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore import library
from leadscore.cli.common import console
from leadscore.cli.main import app


@app.command("init")
def init_command(
    directory: Annotated[Path, typer.Argument(help="Where to create the workspace.")] = Path("."),
) -> None:
    """Create a workspace: leadscore.yml, models/ with a commented example, and the store.

    Example: leadscore init acme && cd acme && leadscore validate models/b2b.yml
    """
    ws = library.init(directory)
    console.print(f"Workspace ready in [bold]{ws.root}[/]")
    console.print(f"  settings  {ws.root / 'leadscore.yml'}")
    console.print(f"  models    {ws.models_dir}/  (example: b2b.yml)")
    console.print(f"  store     {ws.store_path}")
    console.print("Next: leadscore import contacts FILE.csv, then leadscore publish models/b2b.yml")

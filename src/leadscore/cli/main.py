"""The ``leadscore`` command: a Typer app whose commands live one per module in this package."""

from __future__ import annotations

import sys

import typer

from leadscore.cli.common import err_console
from leadscore.errors import LeadscoreError

app = typer.Typer(
    name="leadscore",
    help="Lead scoring as code: YAML models compiled to SQL, scored on DuckDB, explained per lead.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from leadscore.cli import (  # noqa: F401  (each module adds its commands to `app`)
        backtest_cmd,
        bench_cmd,
        columns_cmd,
        compile_cmd,
        deliveries_cmd,
        demo_cmd,
        explain_cmd,
        export_cmd,
        history_cmd,
        import_cmd,
        init_cmd,
        keys_cmd,
        lists_cmd,
        predict_cmd,
        preview_cmd,
        publish_cmd,
        report_cmd,
        score_cmd,
        serve_cmd,
        suggest_cmd,
        train_cmd,
        users_cmd,
        validate_cmd,
        worker_cmd,
    )


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning LeadscoreError into one message and exit status 2."""
    try:
        app(args=argv)
    except LeadscoreError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        sys.exit(2)


if __name__ == "__main__":
    main()

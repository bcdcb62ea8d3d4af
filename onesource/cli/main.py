"""The ``onesource`` command.  One module per command group.

Errors the hub raises on purpose print as ``Error: ...`` and exit 1; usage
errors exit 2; ``--debug`` re-raises for a traceback.
"""

from __future__ import annotations

import sys

import typer

from onesource.cli import catalog as catalog_cli
from onesource.cli.common import console_err, state

app = typer.Typer(
    name="onesource",
    help="OneSource: the data-sharing and exchange hub.\n\nExample: onesource catalog validate",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(catalog_cli.app, name="catalog")


def _mount_optional() -> None:
    """Mount command groups; each imports only light modules at top level."""
    import importlib

    groups = [
        ("onesource.cli.pipeline", None),  # adds run/versions/rollback/runs
        ("onesource.cli.demo", "demo"),
        ("onesource.cli.quality", "quality"),
        ("onesource.cli.release", "release"),
        ("onesource.cli.exchange", None),  # adds dept/audit
        ("onesource.cli.serve", None),  # adds serve/up
        ("onesource.cli.consumers", "consumer"),
        ("onesource.cli.doctor", None),  # adds doctor
        ("onesource.cli.backup", None),  # adds backup/restore
        ("onesource.cli.alerts", "alerts"),
        ("onesource.cli.requests", "request"),
        ("onesource.cli.objections", "objection"),
        ("onesource.cli.users", "user"),
        ("onesource.cli.init", None),  # adds init
    ]
    for module_name, name in groups:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            if name == "demo":  # `demo run` exists even without the seeder's own commands
                from onesource.cli import demo_run

                demo_app = typer.Typer(help="The demo city of Qinghe.", no_args_is_help=True)
                demo_run.register(demo_app)
                app.add_typer(demo_app, name="demo")
            continue
        if name is None:
            module.register(app)
        else:
            if name == "demo":
                from onesource.cli import demo_run

                demo_run.register(module.app)
            app.add_typer(module.app, name=name)


_mount_optional()


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="show tracebacks")) -> None:
    state.debug = debug


def run() -> None:
    """Console entry point with the one error handler.

    Exit codes: 0 success, 1 findings or failure, 2 usage error, 130 interrupted.
    """
    from schemas.errors import OneSourceError

    try:
        # standalone_mode=False makes click *return* the code of typer.Exit /
        # ctx.exit(n) instead of raising SystemExit: it must not be dropped
        code = app(standalone_mode=False)
    except OneSourceError as exc:
        if state.debug:
            raise
        console_err.print(f"[bold red]Error:[/] {exc}", highlight=False)
        sys.exit(1)
    except (KeyboardInterrupt, typer.Abort):
        console_err.print("interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # click usage errors (exit 2) and click's own failures
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            console_err.print(f"Error: {exc.format_message()}", highlight=False)
        sys.exit(exc.exit_code)
    except Exception as exc:  # the unexpected
        if state.debug:
            raise
        console_err.print(
            f"[bold red]Error:[/] unexpected {type(exc).__name__}: {exc}", highlight=False
        )
        console_err.print("run again with --debug for a traceback")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()

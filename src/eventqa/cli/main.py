"""`eventqa` commands. Each is a few lines over `eventqa.service`; errors are handled once."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from eventqa import __version__
from eventqa.errors import EventQAError

F = TypeVar("F", bound=Callable[..., Any])

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_CODES = """\b
Exit codes:
  0  all checks passed (warnings allowed)
  1  an error-severity check failed, or `generate --check` found stale suites
  2  usage, configuration or contract error
  3  the run could not complete (warehouse unreachable, timeout)
"""


def error_handler(command: F) -> F:
    """Turn every EventQAError into one red message and its documented exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return command(*args, **kwargs)
        except EventQAError as error:
            if debug:
                raise
            for line in str(error).splitlines():
                err.print(f"[red]error:[/red] {line}" if line else "", markup=True, soft_wrap=True)
            if error.hint:
                err.print(f"[dim]hint: {error.hint}[/dim]", soft_wrap=True)
            sys.exit(error.exit_code)
        except Exception as error:  # a bug: still one line, the traceback behind --debug
            if debug:
                raise
            err.print(
                f"[red]internal error:[/red] {type(error).__name__}: {error}\n"
                "[dim]rerun with --debug for the traceback, and please report it[/dim]",
                soft_wrap=True,
            )
            sys.exit(3)

    return wrapper  # type: ignore[return-value]


@click.group(epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("checks.yaml"),
    envvar="EVENTQA_CONFIG",
    show_default=True,
    help="The project's checks.yaml.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="eventqa")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, debug: bool) -> None:
    """Check that warehouse event data is what its protobuf contracts promise."""
    ctx.obj = config_path


def _project(config_path: Path) -> Any:
    """The service facade for this invocation (imported here so `--help` stays instant)."""
    from eventqa.service import Project

    return Project(config_path)


@cli.command()
@click.option("--check", is_flag=True, help="Fail (exit 1) when expectations/ is not current.")
@click.pass_obj
@error_handler
def generate(config_path: Path, check: bool) -> None:
    """Derive a Great Expectations suite per event into expectations/."""
    from eventqa.cli.render import print_generate

    print_generate(out, err, _project(config_path).generate(check=check), check=check)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="eventqa")

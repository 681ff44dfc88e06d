"""How a command ends when it cannot succeed.

Bad input of any kind is a CloudfenceError: its problems are printed as
`error:` lines and the exit status is 2. Anything else that escapes a command
is a bug (in cloudfence or a plugin): one line says so, where it happened and
where to report it, the exit status is 3 (never 1, which means "not
equivalent"), and the traceback is printed only with `--debug`.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from cloudfence.errors import CloudfenceError, Problem

EXIT_BAD_INPUT = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as the shell reports it


def report_address() -> str:
    """The issue tracker named in the installed package's metadata, if any."""
    try:
        from importlib.metadata import metadata

        for entry in metadata("cloudfence").get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            if label.strip().lower() in ("issues", "bug tracker", "bugs", "tracker"):
                return str(url).strip()
    except Exception:  # metadata is best effort: never let the report itself fail
        pass
    return "the cloudfence issue tracker"


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}"


def bug_line(exc: BaseException, argv: Sequence[str] | None = None) -> str:
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    again = "cloudfence --debug " + " ".join(argv) if argv else "cloudfence --debug ..."
    return (f"error: internal error (a bug, not your input): {what}{_where(exc)}; report it at "
            f"{report_address()} with the output of `{again}`")


def print_problems(problems: Sequence[Problem], prefix: str = "error") -> None:
    for problem in problems:
        click.echo(f"{prefix}: {problem}", err=True)


class GuardedGroup(click.Group):
    """A command group whose commands never end in a traceback (see the module)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CloudfenceError as exc:
            print_problems(exc.problems)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            sys.exit(EXIT_BROKEN_PIPE)  # the reader went away (`| head`): nothing more to say
        except Exception as exc:
            if ctx.params.get("debug"):
                traceback.print_exception(exc, file=sys.stderr)
            click.echo(bug_line(exc, sys.argv[1:] if not ctx.params.get("debug") else None), err=True)
            sys.exit(EXIT_BUG)

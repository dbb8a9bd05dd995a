"""``sa-sequencing sync --app MODULE:NAME``: store the sequences an application
declares in code (:meth:`~sa_sequencing.Sequencing.sync`) from a shell or a deploy step.

.. code-block:: console

    $ sa-sequencing sync --app myapp.models:sequencing --url postgresql+psycopg://app@db/app
    created invoice_number (global)
    unchanged po_number (scope acme)
    $ sa-sequencing sync --app myapp.models:sequencing --apply --actor deploy

``--app`` names the application's :class:`~sa_sequencing.Sequencing` as
``module:attribute`` (the module is imported from the current directory too, as
``uvicorn`` and ``flask`` do); importing it declares its sequences.  Drift fails with
exit status 2 and the differences (``DeclarationDriftError``) and writes nothing;
``--report`` lists it and goes on, ``--apply`` changes the definitions to their
declarations (audited).  With ``--json``: ``created`` and ``unchanged`` (lists of
``{"name", "scope"}``), ``updated`` and ``drifted`` (lists of ``{"name", "scope",
"differences": {option: {"stored", "declared"}}}``), ``in_sync``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from .. import Sequencing
from .. import SyncReport
from .common import Result
from .common import UserError
from .common import open_engine

__all__ = ["add_sync_command"]


def add_sync_command(command: Callable[..., argparse.ArgumentParser]) -> None:
    sub = command(
        "sync",
        _sync,
        "Create or check the sequences an application declares in code.",
        actor=True,
    )
    sub.add_argument(
        "--app",
        required=True,
        metavar="MODULE:NAME",
        help="the application's Sequencing, such as myapp.models:sequencing",
    )
    what = sub.add_mutually_exclusive_group()
    what.add_argument("--apply", action="store_true", help="change drifted definitions (audited)")
    what.add_argument(
        "--report", action="store_true", help="list drifted definitions instead of failing"
    )


def load_app(spec: str) -> Sequencing:
    """The :class:`~sa_sequencing.Sequencing` named ``module:attribute``."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UserError(f"--app takes MODULE:NAME, such as myapp.models:sequencing, not {spec!r}")
    if os.getcwd() not in sys.path:
        # A console script's sys.path lacks the current directory; the app lives there.
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"--app {spec}: cannot import {module_name!r}: {exc}") from exc
    found: Any = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
    if not isinstance(found, Sequencing):
        raise UserError(
            f"--app {spec}: {attribute!r} in {module_name!r} is not a Sequencing "
            f"({type(found).__name__})"
        )
    return found


def _sync(args: argparse.Namespace) -> Result:
    sequencing = load_app(args.app)
    engine = open_engine(args)
    try:
        with Session(engine) as session, session.begin():
            report = sequencing.sync(
                session,
                apply=args.apply,
                on_drift="report" if args.report else "raise",
                performed_by=getattr(args, "actor", None),
            )
    finally:
        engine.dispose()
    return Result(_data(report), _lines(report), status=0)


def _scope(scope: str) -> str | None:
    return scope or None


def _data(report: SyncReport) -> dict[str, Any]:
    def changed(found: dict[tuple[str, str], dict[str, tuple[Any, Any]]]) -> list[Any]:
        return [
            {
                "name": name,
                "scope": _scope(scope),
                "differences": {
                    k: {"stored": stored, "declared": declared}
                    for k, (stored, declared) in differences.items()
                },
            }
            for (name, scope), differences in found.items()
        ]

    return {
        "created": [{"name": n, "scope": _scope(s)} for n, s in report.created],
        "unchanged": [{"name": n, "scope": _scope(s)} for n, s in report.unchanged],
        "updated": changed(report.updated),
        "drifted": changed(report.drifted),
        "in_sync": report.in_sync,
    }


def _lines(report: SyncReport) -> list[str]:
    def label(name: str, scope: str) -> str:
        return f"{name} (scope {scope})" if scope else f"{name} (global)"

    lines = [f"created {label(*key)}" for key in report.created]
    lines += [f"unchanged {label(*key)}" for key in report.unchanged]
    for title, found in (("updated", report.updated), ("drifted", report.drifted)):
        for key, differences in found.items():
            listed = "; ".join(
                f"{k}: stored {a!r}, declared {b!r}" for k, (a, b) in differences.items()
            )
            lines.append(f"{title} {label(*key)}: {listed}")
    return lines or ["nothing declared"]

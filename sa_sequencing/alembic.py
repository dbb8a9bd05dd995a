"""Alembic support: an ``init`` template and the ``sa_sequencing`` migration branch.

Needs the ``alembic`` extra (``pip install "sa_sequencing[alembic]"``); nothing else in
the package imports this module.

New project: write an Alembic environment that already knows the sequencing tables::

    python -m sa_sequencing.alembic init -t sa_sequencing migrations

Existing project: add :data:`VERSION_LOCATION` to ``version_locations`` after your own
versions directory (with ``path_separator = newline`` or ``space``, never ``os``), set
``revision_environment = true`` and call :func:`keep_new_revisions_in_project` in
``env.py``, then::

    alembic upgrade sa_sequencing@head
    alembic merge -m "join sa_sequencing" heads
    alembic upgrade heads

``python -m sa_sequencing.alembic`` is the ``alembic`` command line with one difference:
its templates are the ones shipped here (see :class:`Config`). Every other command works
the same, so the plain ``alembic`` command is fine for everything but ``init``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

try:
    import alembic.config
    from alembic.script import Script
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError
    from alembic.util import coerce_resource_to_filename
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "sa_sequencing.alembic needs Alembic: pip install 'sa_sequencing[alembic]'"
    ) from exc

if TYPE_CHECKING:
    from alembic.operations.ops import MigrationScript
    from alembic.runtime.migration import MigrationContext

__all__ = [
    "BRANCH_LABEL",
    "TABLE_PREFIX_OPTION",
    "TEMPLATE_NAME",
    "VERSION_LOCATION",
    "Config",
    "branch_directory",
    "check_version_locations",
    "keep_new_revisions_in_project",
    "keep_revisions_out_of_package",
    "main",
    "table_prefix",
    "template_directory",
]

TEMPLATE_NAME = "sa_sequencing"
"""The ``alembic init`` template: ``python -m sa_sequencing.alembic init -t sa_sequencing DIR``."""

BRANCH_LABEL = "sa_sequencing"
"""Branch label of the shipped revisions: ``alembic upgrade sa_sequencing@head``."""

VERSION_LOCATION = "sa_sequencing:migrations/versions"
"""The ``version_locations`` entry of the shipped branch (a ``package:directory`` resource).

Alembic splits ``version_locations`` on ``path_separator``; ``path_separator = os`` is
``:`` on POSIX and cuts this entry in two, so use ``newline`` or ``space``.
"""

TABLE_PREFIX_OPTION = "sa_sequencing.table_prefix"
"""The ``[alembic]`` option (or ``[tool.alembic]`` key) read by the shipped revisions.

It must equal the ``table_prefix`` given to :class:`~sa_sequencing.Sequencing`.
"""

_PACKAGE_DIR = Path(__file__).resolve().parent


def template_directory() -> Path:
    """The directory holding the ``sa_sequencing`` ``alembic init`` template.

    Inside an installed wheel it is ``sa_sequencing/alembic_templates``; in a source
    checkout (an editable install) it is the repository's top-level ``alembic_templates``.
    """
    installed = _PACKAGE_DIR / "alembic_templates"
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent / "alembic_templates"
    if checkout.is_dir():
        return checkout
    raise CommandError(
        f"sa_sequencing's Alembic templates are missing: neither {installed} nor {checkout} "
        "exists (a broken installation?)"
    )


def branch_directory() -> Path:
    """The directory holding the revisions of the ``sa_sequencing`` branch."""
    return _PACKAGE_DIR / "migrations" / "versions"


class Config(alembic.config.Config):
    """An Alembic :class:`~alembic.config.Config` that serves sa_sequencing's templates.

    ``init`` and ``list_templates`` look templates up in
    :meth:`get_template_directory`; everything else is Alembic's own ``Config``. Use it
    like Alembic's::

        from alembic import command
        from sa_sequencing.alembic import Config

        command.init(Config("alembic.ini"), "migrations", template="sa_sequencing")
    """

    def get_template_directory(self) -> str:
        """sa_sequencing's template directory (see :func:`template_directory`)."""
        return str(template_directory())


def table_prefix(config: alembic.config.Config | None) -> str:
    """The table prefix configured for the sequencing tables (``""`` if unset).

    Read from the :data:`TABLE_PREFIX_OPTION` option of the ``[alembic]`` section of
    ``alembic.ini`` (or ``[tool.alembic]`` in ``pyproject.toml``).
    """
    if config is None:
        return ""
    value = config.get_alembic_option(TABLE_PREFIX_OPTION)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CommandError(f"{TABLE_PREFIX_OPTION} must be a string, not {value!r}")
    return value.strip()


def check_version_locations(config: alembic.config.Config) -> None:
    """Refuse a ``version_locations`` that names the branch but lost it to the separator.

    With ``path_separator = os`` (``:`` on POSIX), ``sa_sequencing:migrations/versions``
    is split into two relative directories that do not exist; Alembic then silently
    ignores the branch (``alembic upgrade heads`` creates no table). The template's
    ``env.py`` calls this first, so the mistake is reported instead.
    """
    raw = config.file_config.get(config.config_ini_section, "version_locations", fallback="")
    if VERSION_LOCATION not in raw:
        return
    if VERSION_LOCATION not in (config.get_version_locations_list() or []):
        raise CommandError(
            f"version_locations names {VERSION_LOCATION!r}, but path_separator splits "
            "it apart (path_separator = os is ':' on POSIX): set path_separator = newline "
            "(one location per line) or space"
        )


def _same_dir(left: Path, right: Path) -> bool:
    try:
        return left.resolve() == right.resolve()
    except OSError:  # pragma: no cover - unresolvable paths are simply different
        return False


def _project_version_path(script: ScriptDirectory, head: Any) -> Path | None:
    """Where a new revision on ``head`` goes instead of where Alembic would put it.

    Alembic, given no ``--version-path`` and several version locations, writes a new
    revision next to the first head it descends from, and refuses a revision with no
    head (``--head=base``). Where that head is a revision of the ``sa_sequencing``
    branch the file would land in the installed package, and the next deploy, with a
    pristine package, fails with ``Can't locate revision``. Such revisions go to the
    first version location that is not the branch's instead. None: Alembic's own
    choice is fine (a head of the project's, or the branch is not listed at all).
    """
    locations = list(script.version_locations or [])
    ours = branch_directory()
    hosts = [
        path
        for path in (coerce_resource_to_filename(loc) for loc in locations)
        if not _same_dir(path, ours)
    ]
    if len(hosts) == len(locations):  # the branch is not in version_locations
        return None
    try:
        heads = script.revision_map.get_revisions(head or "head")
    except Exception:  # let Alembic itself report an unusable head
        return None
    paths = [Path(h.path).parent for h in heads if isinstance(h, Script)]
    if paths and not _same_dir(paths[0], ours):
        return None
    if not hosts:
        raise CommandError(
            "the new revision would be written into the installed sa_sequencing "
            "package: add your own versions directory to version_locations (first), "
            "or pass --version-path"
        )
    return hosts[0]


def keep_new_revisions_in_project(script: ScriptDirectory) -> None:
    """Make ``script`` write no new revision into the installed package; call it in ``env.py``.

    Every new revision file, from ``alembic revision`` (with or without
    ``--autogenerate``, on the branch's head or on ``--head=base``) and from
    ``alembic merge`` (whatever order the heads are named in), goes to the project's
    own versions directory, the first entry of ``version_locations`` that is not
    :data:`VERSION_LOCATION`, unless Alembic would put it next to a head of the
    project's anyway. A ``--version-path`` into the package is refused. Call it at the
    top of ``env.py``, with ``revision_environment = true`` in ``alembic.ini`` so that
    Alembic runs ``env.py`` for ``revision`` and ``merge`` too::

        from alembic import context
        from sa_sequencing.alembic import keep_new_revisions_in_project

        keep_new_revisions_in_project(context.script)

    It wraps :meth:`~alembic.script.ScriptDirectory.generate_revision` of this one
    :class:`~alembic.script.ScriptDirectory`, the object the running command writes the
    file with: ``merge`` offers no hook of its own, and ``version_locations`` has no
    option that names where new files go.
    """
    if "generate_revision" in vars(script):  # wrapped already (env.py ran twice)
        return
    generate = script.generate_revision

    def generate_revision(
        revid: str,
        message: str | None,
        head: Any = None,
        splice: bool | None = False,
        branch_labels: Any = None,
        version_path: str | os.PathLike[str] | None = None,
        **kw: Any,
    ) -> Script | None:
        if version_path is None:
            version_path = _project_version_path(script, head)
        elif _same_dir(Path(version_path), branch_directory()):
            raise CommandError(
                f"--version-path {version_path} is the installed sa_sequencing package: "
                "a revision there is lost with the next install; pass your own versions "
                "directory"
            )
        return generate(
            revid,
            message,
            head=head,
            splice=splice,
            branch_labels=branch_labels,
            version_path=version_path,
            **kw,
        )

    script.generate_revision = generate_revision  # type: ignore[method-assign,assignment]


def keep_revisions_out_of_package(
    context: MigrationContext, revision: Any, directives: list[MigrationScript]
) -> None:
    """A ``process_revision_directives`` hook: keep ``alembic revision`` out of the package.

    The ``env.py`` of earlier templates passes it to ``context.configure()``. It covers
    ``alembic revision`` only, and only where ``env.py`` runs; ``alembic merge`` never
    calls it. :func:`keep_new_revisions_in_project` covers both and is what the template
    uses now; an ``env.py`` that calls it needs no hook. The hook sends a revision
    descending from the branch's head, or a new base (``--head=base``), to the first
    version location that is not the branch's::

        context.configure(..., process_revision_directives=keep_revisions_out_of_package)
    """
    config = context.config
    if config is None:
        return
    script = ScriptDirectory.from_config(config)
    for directive in directives:
        if getattr(directive, "version_path", None) is not None:
            continue
        path = _project_version_path(script, directive.head)
        if path is not None:
            directive.version_path = str(path)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    """The ``alembic`` command line, with sa_sequencing's templates for ``init``."""
    from alembic.config import CommandLine

    cli = CommandLine(prog=prog or "python -m sa_sequencing.alembic")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    toml_file, ini_file = cli._inis_from_config(options)
    config = Config(
        file_=ini_file, toml_file=toml_file, ini_section=options.name, cmd_opts=options
    )
    cli.run_cmd(config, options)


if __name__ == "__main__":  # pragma: no cover - exercised through subprocess tests
    main(sys.argv[1:])

"""``sa-sequencing sync --app MODULE:NAME`` (issue 14, part 1), in-process on every
database: the application's declarations created, checked, drift refused, reported or
applied."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap

import pytest
from sqlalchemy.orm import Session

from sa_sequencing.cli import main

APP = textwrap.dedent(
    """
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
    from sa_sequencing import SequenceColumn, Sequencing

    class Base(DeclarativeBase):
        pass

    sequencing = Sequencing(Base, table_prefix="declcli_")

    class Invoice(Base):
        __tablename__ = "declcli_invoices"
        id: Mapped[int] = mapped_column(primary_key=True)
        number: Mapped[str | None] = SequenceColumn(
            "invoice_number", pattern="INV-{YEAR}-{COUNTER:5}", reset_period="yearly"
        )

    sequencing.declare("po_number", "PO-{COUNTER}", scope="acme")
    """
)


@pytest.fixture
def app(tmp_path, monkeypatch, engine):
    """The application module ``declcli_app`` in the current directory, its tables
    created empty on the test database."""
    (tmp_path / "declcli_app.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("declcli_app", None)
    module = importlib.import_module("declcli_app")
    module.sequencing.drop_all(engine)
    module.sequencing.create_all(engine)
    yield module
    module.sequencing.drop_all(engine)
    sys.modules.pop("declcli_app", None)


@pytest.fixture
def cli(url, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--url", url, *args])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return run


def test_sync_creates_then_finds_everything_unchanged(app, cli, engine):
    code, out, _ = cli("sync", "--app", "declcli_app:sequencing", "--actor", "deploy")
    assert code == 0
    assert out.splitlines() == [
        "created invoice_number (global)",
        "created po_number (scope acme)",
    ]
    with Session(engine) as session:
        seqs = app.sequencing.manager(session)
        assert seqs.get("invoice_number").reset_period.value == "yearly"
        assert seqs.get("po_number", scope="acme").pattern == "PO-{COUNTER}"
        actors = {e.performed_by for e in seqs.audit_log() if e.event == "pattern_created"}
    assert actors == {"deploy"}
    code, out, _ = cli("sync", "--app", "declcli_app:sequencing", "--json")
    assert code == 0
    assert json.loads(out) == {
        "created": [],
        "unchanged": [
            {"name": "invoice_number", "scope": None},
            {"name": "po_number", "scope": "acme"},
        ],
        "updated": [],
        "drifted": [],
        "in_sync": True,
    }


def test_drift_fails_then_is_reported_then_applied(app, cli, engine):
    assert cli("sync", "--app", "declcli_app:sequencing")[0] == 0
    with Session(engine) as session, session.begin():
        app.sequencing.manager(session).update("po_number", scope="acme", step=5)
    code, out, err = cli("sync", "--app", "declcli_app:sequencing")
    assert code == 2 and "step: stored 5, declared 1" in err
    code, out, _ = cli("--json", "sync", "--app", "declcli_app:sequencing")
    assert (code, json.loads(out)["error"]["type"]) == (2, "DeclarationDriftError")
    code, out, _ = cli("sync", "--app", "declcli_app:sequencing", "--report", "--json")
    assert code == 0
    assert json.loads(out)["drifted"] == [
        {
            "name": "po_number",
            "scope": "acme",
            "differences": {"step": {"stored": 5, "declared": 1}},
        }
    ]
    code, out, _ = cli("sync", "--app", "declcli_app:sequencing", "--apply", "--actor", "ops")
    assert code == 0 and "updated po_number (scope acme): step: stored 5, declared 1" in out
    with Session(engine) as session:
        seqs = app.sequencing.manager(session)
        assert seqs.get("po_number", scope="acme").step == 1
        last = seqs.audit_log(limit=1)[0]
    assert (last.event, last.performed_by) == ("pattern_modified", "ops")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("declcli_app", "MODULE:NAME"),
        ("no_such_module_here:sequencing", "cannot import"),
        ("declcli_app:Base", "is not a Sequencing"),
    ],
)
def test_a_bad_app_is_a_usage_error(app, cli, spec, message):
    code, out, _ = cli("--json", "sync", "--app", spec)
    error = json.loads(out)["error"]
    assert (code, error["type"]) == (2, "UsageError") and message in error["message"]


def test_apply_and_report_exclude_each_other(app, cli):
    code, _, err = cli("sync", "--app", "declcli_app:sequencing", "--apply", "--report")
    assert code == 2 and "not allowed with" in err

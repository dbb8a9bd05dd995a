"""``sa-sequencing --json`` and the commands of issue 14, in-process on every database.

Each test runs the command line (``main(argv)``) against the suite's database and checks
what it answers against what the library reads back from the same tables.
"""

from __future__ import annotations

import json
import os
import shlex
from datetime import date

import pytest
import sqlalchemy as sa

from sa_sequencing import ALL_SCOPES
from sa_sequencing.cli import main


@pytest.fixture
def cli(url, sequencing, capsys):
    """``cli(*args)``: (exit status, stdout, stderr) of the command on the test database."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--url", url, *args])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return run


@pytest.fixture
def answer(cli):
    """``answer(*args)``: the JSON object of a command that must succeed."""

    def run(*args: str) -> dict:
        code, out, err = cli(*args, "--json")
        assert code == 0, out + err
        assert err == ""
        return json.loads(out)

    return run


@pytest.fixture
def refusal(cli):
    """``refusal(*args)``: the JSON error object of a command that must fail."""

    def run(*args: str, status: int = 2) -> dict:
        code, out, err = cli("--json", *args)
        assert code == status, out + err
        assert err == ""
        body = json.loads(out)
        assert set(body) == {"error"}
        assert set(body["error"]) == {"type", "message", "hint", "exit_status"}
        assert body["error"]["exit_status"] == status
        return body["error"]

    return run


YEAR = date.today().year
_SELECTED = os.environ.get("SA_SEQUENCING_TEST_BACKENDS")
POSTGRESQL = [] if _SELECTED and "postgresql" not in _SELECTED.split(",") else ["postgresql"]


def test_every_command_answers_one_json_object(answer, tx, url, tmp_path):
    defined = answer(
        "define",
        "po",
        "PO-{YEAR}-{COUNTER:4}",
        "--reset-period",
        "yearly",
        "--gap-policy",
        "report_gaps_only",
        "--actor",
        "admin",
    )
    assert defined["definition"]["pattern"] == "PO-{YEAR}-{COUNTER:4}"
    assert defined["definition"]["scope"] is None
    assert defined["definition"]["gap_policy"] == "report_gaps_only"

    assert answer("preview", "po", "--scope", "acme") == {"number": f"PO-{YEAR}-0001"}
    numbers = answer("generate", "po", "--scope", "acme", "--count", "3")["numbers"]
    assert numbers == [f"PO-{YEAR}-{n:04d}" for n in (1, 2, 3)]

    voided = answer("void", "po", numbers[1], "--scope", "acme", "--reason", "typo")
    assert voided == {"voided": numbers[1], "reason": "typo", "gap_recorded": True}
    gaps = answer("gaps", "po", "--scope", "acme")["gaps"]
    assert [(g["number"], g["reason"], g["status"]) for g in gaps] == [
        (numbers[1], "typo", "unfilled")
    ]

    held = answer("reserve", "po", "2", "--scope", "acme")["reservation"]
    assert held["numbers"] == [f"PO-{YEAR}-0004", f"PO-{YEAR}-0005"]
    assert answer("release-expired") == {"released": 0}
    moved = answer("override", "po", "10", "--scope", "acme")
    assert moved == {"value": 10, "next_number": f"PO-{YEAR}-0011"}

    shown = answer("show", "po", "--scope", "acme")
    assert shown["serving_scope"] == "acme"
    assert [(c["scope"], c["period"], c["value"]) for c in shown["counters"]] == [
        ("acme", str(YEAR), 10)
    ]
    metrics = answer("metrics", "po", "--scope", "acme")["metrics"]
    with tx() as seqs:
        expected = seqs.metrics("po", scope="acme")
    assert metrics["current_value"] == expected.current_value == 10
    assert metrics["gap_count"] == expected.gap_count
    assert metrics["active_reservations"] == 2

    entries = answer("audit", "po", "--limit", "0")["entries"]
    with tx() as seqs:
        ledger = seqs.audit_log("po", limit=None)
    assert [e["id"] for e in entries] == [e.id for e in ledger]
    assert [e["event"] for e in entries] == [e.event for e in ledger]

    locked = answer("lock", "po")
    assert locked["definition"]["is_locked"] is True
    assert answer("unlock", "po")["definition"]["is_locked"] is False

    written = answer("report", "--output", str(tmp_path / "r.csv"), "--format", "csv")
    assert written["path"] == str(tmp_path / "r.csv")
    assert (written["sequences"], written["counters"], written["open_reservations"]) == (1, 1, 2)
    assert written["gaps"] == 1 + 5  # the void, and the values 6..10 the override skipped

    initialized = answer("init")
    assert "sequences" in initialized["tables"]


def test_errors_are_json_objects_naming_the_error_class(refusal, answer, url):
    error = refusal("generate", "nope")
    assert error["type"] == "SequenceNotFoundError"
    assert "'nope'" in error["message"]
    assert error["hint"] == f"define it with: sa-sequencing define nope PATTERN --url {url}"

    error = refusal("frobnicate")
    assert error["type"] == "UsageError"
    assert "invalid choice" in error["message"]

    answer("define", "q", "Q-{COUNTER}")
    error = refusal("generate", "q", "--count", "0")
    assert error["type"] == "UsageError"
    error = refusal("void", "q", "Q-7")
    assert error["type"] == "InvalidCounterValueError"
    assert "never issued" in error["message"]
    answer("lock", "q")
    error = refusal("generate", "q", "--scope", "acme")
    assert error["type"] == "SequenceLockedError"
    assert error["hint"] == f"unlock it with: sa-sequencing unlock q --url {url}"


def test_list_scope_shows_the_global_definitions_serving_it(answer, cli):
    answer("define", "invoice", "I-{COUNTER}")
    answer("define", "order", "O-{COUNTER}")
    answer("define", "order", "ACME-O-{COUNTER}", "--scope", "acme")
    answer("define", "ticket", "T-{COUNTER}", "--scope", "globex")

    listed = answer("list", "--scope", "acme")
    assert listed["scope"] == "acme"
    assert [(d["name"], d["scope"], d["inherited"]) for d in listed["definitions"]] == [
        ("invoice", None, True),
        ("order", "acme", False),
    ]
    code, out, _ = cli("list", "--scope", "acme")
    assert code == 0
    assert "(global), serving acme" in out
    assert "ACME-O-{COUNTER}" in out
    assert "ticket" not in out
    every = answer("list")["definitions"]
    assert {(d["name"], d["scope"]) for d in every} == {
        ("invoice", None),
        ("order", None),
        ("order", "acme"),
        ("ticket", "globex"),
    }
    assert answer("list", "--scope", "initech")["definitions"][0]["inherited"] is True


def test_a_reservation_made_in_the_cli_is_finalized_and_released_in_the_cli(answer, cli, tx):
    answer("define", "po", "PO-{COUNTER:3}", "--gap-policy", "fill_gaps")
    code, out, _ = cli("reserve", "po", "3", "--scope", "acme", "--actor", "buyer")
    assert code == 0
    head, *numbers = out.splitlines()
    reservation_id = head.split()[1]
    assert numbers == ["PO-001", "PO-002", "PO-003"]

    used = answer("finalize", reservation_id, "PO-002", "--actor", "buyer")
    assert used == {"reservation_id": reservation_id, "finalized": ["PO-002"]}
    given = answer("release", reservation_id, "--actor", "buyer")
    assert given == {"reservation_id": reservation_id, "released": ["PO-001", "PO-003"]}
    with tx() as seqs:
        gaps = seqs.gaps("po", scope="acme")
        events = [e.event for e in seqs.audit_log("po", limit=None)]
    assert [(g.number, g.reason, g.performed_by) for g in gaps] == [
        ("PO-001", "released", "buyer"),
        ("PO-003", "released", "buyer"),
    ]
    assert events[-2:] == ["reservation_finalized", "reservation_released"]

    code, _, err = cli("finalize", reservation_id)
    assert code == 2
    assert "holds no reserved numbers" in err
    code, _, err = cli("release", "no-such-id")
    assert code == 2
    assert "is unknown" in err


def test_update_and_delete(answer, cli, refusal, tx, snapshot, url):
    answer("define", "inv", "INV-{COUNTER:4}")
    answer("generate", "inv", "--scope", "acme")
    updated = answer(
        "update", "inv", "--pattern", "INV-{COUNTER:6}", "--no-audit-numbers", "--actor", "admin"
    )["definition"]
    assert (updated["pattern"], updated["audit_numbers"]) == ("INV-{COUNTER:6}", False)
    assert answer("generate", "inv", "--scope", "acme")["numbers"] == ["INV-000002"]
    with tx() as seqs:
        change = seqs.audit_log("inv", limit=None)[-1]
    assert (change.event, change.performed_by) == ("pattern_modified", "admin")
    assert change.data["changes"]["pattern"] == ["INV-{COUNTER:4}", "INV-{COUNTER:6}"]

    error = refusal("update", "inv")
    assert "nothing to change" in error["message"]
    error = refusal("update", "inv", "--reset-period", "yearly", "--allow-repeats")
    assert error["type"] == "ConfigurationError"
    assert "reset_period" in error["message"]

    before = snapshot()
    error = refusal("delete", "inv")
    assert "--yes" in error["message"]
    assert error["hint"] == f"confirm with: sa-sequencing delete inv --url {url} --yes"
    assert refusal("delete", "inv", "--scope", "acme", "--yes")["type"] == (
        "SequenceNotFoundError"
    )
    assert snapshot() == before

    deleted = answer("delete", "inv", "--yes", "--actor", "admin")
    assert (deleted["deleted"]["name"], deleted["counters"]) == ("inv", 1)
    with tx() as seqs:
        assert seqs.list(scope=ALL_SCOPES) == []
        assert seqs.audit_log("inv", limit=1)[0].event == "sequence_deleted"


def test_audit_tells_the_story_of_one_number(answer, cli):
    answer("define", "inv", "INV-{COUNTER:3}", "--gap-policy", "report_gaps_only")
    first, second, third = answer("generate", "inv", "--count", "3", "--actor", "clerk")["numbers"]
    answer("void", "inv", second, "--reason", "cancelled", "--actor", "auditor")
    held = answer("reserve", "inv", "2", "--actor", "buyer")["reservation"]
    answer("finalize", held["id"], held["numbers"][0], "--actor", "buyer")
    answer("release", held["id"], "--actor", "buyer")
    answer("override", "inv", "9", "--actor", "admin")

    def story(number: str) -> tuple[str, list[tuple[str, str | None]]]:
        told = answer("audit", "inv", "--number", number)
        assert told["number"] == number
        return told["status"], [(e["event"], e["performed_by"]) for e in told["events"]]

    assert story(first) == ("issued", [("number_generated", "clerk")])
    assert story(second) == (
        "void",
        [("number_generated", "clerk"), ("number_voided", "auditor")],
    )
    assert story(held["numbers"][0]) == (
        "finalized",
        [
            ("number_generated", "buyer"),
            ("numbers_reserved", "buyer"),
            ("reservation_finalized", "buyer"),
        ],
    )
    assert story(held["numbers"][1])[0] == "released"
    assert story("INV-007") == ("skipped", [("counter_overridden", "admin")])
    assert story("INV-042") == ("unknown", [])
    assert third == "INV-003"

    code, out, _ = cli("audit", "inv", "--number", second)
    assert code == 0
    assert out.splitlines()[0] == f"{second}: void"
    assert "cancelled" in out
    code, _, err = cli("audit", "--number", second)
    assert code == 2
    assert "audit NAME --number" in err


@pytest.fixture
def empty_database(backend, url, tmp_path):
    """A database of the same server without the sequencing tables."""
    if backend == "sqlite":
        path = tmp_path / "empty.db"
        sa.create_engine(f"sqlite:///{path}").connect().close()
        yield f"sqlite:///{path}"
        return
    server = sa.make_url(url)
    engine = sa.create_engine(server)
    if backend == "postgresql":
        # A schema of its own: the search path makes it the default one.
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS cli_empty"))
        empty = server.update_query_dict({"options": "-csearch_path=cli_empty"})
        drop = "DROP SCHEMA IF EXISTS cli_empty CASCADE"
    else:
        name = f"{server.database}_cli_empty"
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS {name}"))
        empty = server.set(database=name)
        drop = f"DROP DATABASE IF EXISTS {name}"
    try:
        yield empty.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(drop))
        engine.dispose()


def test_hints_name_the_database_given(empty_database, capsys, monkeypatch, tmp_path):
    """Before, the hint was a bare ``sa-sequencing init``: that creates a SQLite file in
    the current directory, not the tables in the database the user gave."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SA_SEQUENCING_URL", raising=False)
    assert main(["--url", empty_database, "list"]) == 2
    err = capsys.readouterr().err
    assert (
        err.splitlines()[-1]
        == f"hint: create them with: sa-sequencing init --url {shlex.quote(empty_database)}"
    )
    assert main(["--url", empty_database, "--json", "list"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "NoTablesError"
    assert (
        error["hint"]
        == f"create them with: sa-sequencing init --url {shlex.quote(empty_database)}"
    )

    monkeypatch.setenv("SA_SEQUENCING_URL", empty_database)  # given through the environment
    assert main(["list"]) == 2
    assert f"init --url {shlex.quote(empty_database)}" in capsys.readouterr().err
    assert main(["init"]) == 0  # the hint's command creates the tables there
    capsys.readouterr()
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"scope": None, "definitions": []}
    assert not os.path.exists(tmp_path / "sa_sequencing.db")


# The test servers accept any password on PostgreSQL only (trust authentication).
@pytest.mark.parametrize("backend", POSTGRESQL, indirect=True)
def test_a_password_in_a_hint_is_masked(backend, empty_database, capsys):
    url = sa.make_url(empty_database).set(password="s3cret")
    assert main(["--url", url.render_as_string(hide_password=False), "--json", "list"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "NoTablesError"
    assert "s3cret" not in json.dumps(error)
    assert url.render_as_string(hide_password=True) in error["hint"]

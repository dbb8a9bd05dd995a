"""The ``sa-sequencing`` command, run in-process on SQLite (and once as ``python -m``)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from datetime import date

import pytest

from sa_sequencing.cli import main
from sa_sequencing.cli.demo import is_demo_database


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path}/x.db"


@pytest.fixture
def run(url, capsys):
    """``run(*args)`` runs the command on the test database: (exit code, stdout, stderr)."""

    def invoke(*args: str, with_url: bool = True) -> tuple[int, str, str]:
        argv = ["--url", url, *args] if with_url else list(args)
        code = main(argv)
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return invoke


@pytest.fixture
def initialized(run):
    code, out, _ = run("init")
    assert code == 0
    assert "sequence_audits" in out
    return run


def test_whole_cycle(initialized, url):
    run = initialized
    year = date.today().year  # the sequences' time zone is UTC; close enough off New Year

    code, out, _ = run(
        "define",
        "invoice_number",
        "INV-{YEAR}-{DEPT}-{COUNTER:5}",
        "--reset-period",
        "yearly",
        "--gap-policy",
        "report_gaps_only",
        "--actor",
        "admin",
    )
    assert code == 0
    assert "invoice_number" in out

    code, out, _ = run("preview", "invoice_number", "--scope", "acme", "--context", "DEPT=SALES")
    assert (code, out) == (0, f"INV-{year}-SALES-00001\n")

    code, out, _ = run(
        "--scope",
        "acme",
        "--actor",
        "clerk-1",
        "generate",
        "invoice_number",
        "--context",
        "dept=SALES",
        "--count",
        "2",
    )
    assert code == 0
    assert out.split() == [f"INV-{year}-SALES-00001", f"INV-{year}-SALES-00002"]

    code, out, _ = run(
        "generate",
        "invoice_number",
        "--scope",
        "acme",
        "--context",
        "DEPT=SALES",
        "--date",
        "2025-12-31",
    )
    assert (code, out) == (0, "INV-2025-SALES-00001\n")

    code, out, _ = run("list")
    assert code == 0
    assert re.search(r"invoice_number\s+\(global\)\s+INV-\{YEAR\}", out)
    assert "report_gaps_only" in out

    code, out, _ = run("show", "invoice_number")
    assert code == 0
    assert "reset_period          yearly" in out
    assert re.search(rf"acme\s+{year}\s+2\s", out)
    assert re.search(r"acme\s+2025\s+1\s", out)

    code, out, err = run("lock", "invoice_number", "--actor", "boss")
    assert code == 0
    assert "locked" in out
    code, out, err = run("generate", "invoice_number", "--scope", "acme", "--context", "DEPT=X")
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert "is locked" in err
    # the lock is on the global one; the hint names the database the command used
    assert f"sa-sequencing unlock invoice_number --url {url}\n" in err

    code, out, _ = run("unlock", "invoice_number")
    assert code == 0
    code, out, _ = run("generate", "invoice_number", "--scope", "acme", "--context", "DEPT=X")
    assert (code, out) == (0, f"INV-{year}-X-00003\n")

    code, out, _ = run("audit", "invoice_number", "--limit", "0")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["TIME", "(UTC)", "EVENT"]
    events = [line.split()[2] for line in lines[1:]]
    assert events[0] == "pattern_created"
    assert events.count("number_generated") == 4
    assert "sequence_locked" in events
    assert "sequence_unlocked" in events
    assert re.search(r"sequence_locked\s+invoice_number\s+\(global\)\s+-\s+boss", out)
    assert re.search(rf"INV-{year}-SALES-00002\s+clerk-1", out)

    code, out, _ = run("audit", "--scope", "acme", "--limit", "2")
    assert code == 0
    assert len(out.splitlines()) == 3
    assert f"INV-{year}-X-00003" in out


def test_scoped_definition_and_show(initialized):
    run = initialized
    assert run("define", "ticket", "T-{COUNTER}", "--scope", "acme", "--start", "10")[0] == 0
    assert run("generate", "ticket", "--scope", "acme")[1] == "T-10\n"

    code, out, _ = run("list", "--scope", "acme")
    assert code == 0
    assert "ticket" in out
    code, out, _ = run("show", "ticket", "--scope", "acme")
    assert code == 0
    assert "sequence 'ticket' (scope 'acme')" in out
    assert re.search(r"acme\s+-\s+10\s", out)

    code, _, err = run("generate", "ticket")  # no global definition
    assert code == 2
    assert "is not defined" in err

    run("lock", "ticket", "--scope", "acme")
    code, _, err = run("generate", "ticket", "--scope", "acme")
    assert code == 2
    assert "sa-sequencing unlock ticket --scope acme" in err


def test_empty_listings(initialized):
    assert initialized("list")[1] == "no sequences defined\n"
    assert initialized("audit")[1] == "no audit entries\n"


def _assert_refused(result: tuple[int, str, str], *needles: str) -> None:
    code, out, err = result
    assert code == 2
    assert out == ""
    assert "error: " in err
    for needle in needles:
        assert needle in err


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            ("define", "x", "X-{COUNTER}", "--reset-period", "weekly"),
            ("invalid reset_period 'weekly'", "yearly"),
        ),
        (("define", "x", "X-{COUNTER"), ("unclosed '{'",)),
        (("define", "x", "X-{COUNTER}", "--reset-period", "yearly"), ("would repeat numbers",)),
        (("define", "x", "X-{COUNTER}", "--gap-policy", "sometimes"), ("gap_policy",)),
        (("define", "x", "X-{COUNTER}", "--timezone", "Mars/Base"), ("Mars/Base",)),
        (("define", "x", "X-{COUNTER}", "--start", "abc"), ("invalid int value",)),
        (("preview", "inv", "--context", "DEPT"), ("invalid --context 'DEPT'", "KEY=VALUE")),
        (("preview", "inv", "--context", "=SALES"), ("invalid --context",)),
        (("generate", "inv", "--context", "D=1", "--context", "d=2"), ("given twice",)),
        (("generate", "inv", "--date", "2026-02-30"), ("invalid --date '2026-02-30'",)),
        (("generate", "inv", "--date", "yesterday"), ("YYYY-MM-DD",)),
        (("generate", "inv", "--count", "0"), ("count",)),
        (("generate", "inv"), ("{DEPT}",)),
        (("generate", "nope"), ("'nope'", "is not defined", "sa-sequencing define nope")),
        (("show", "nope"), ("is not defined",)),
        (("lock", "nope"), ("is not defined",)),
        (("audit", "--limit", "-1"), ("--limit",)),
        (("--scope", "", "list"), ("invalid scope",)),
        (("frobnicate",), ("invalid choice",)),
        ((), ("COMMAND",)),
    ],
)
def test_bad_input_is_refused_without_traceback(initialized, args, needles):
    assert initialized("define", "inv", "INV-{DEPT}-{COUNTER}")[0] == 0
    _assert_refused(initialized(*args), *needles)


def test_duplicate_definition_is_refused(initialized):
    assert initialized("define", "inv", "INV-{COUNTER}")[0] == 0
    _assert_refused(initialized("define", "inv", "INV-{COUNTER}"), "already defined")


def test_missing_database_and_tables(run, tmp_path):
    _assert_refused(run("list"), "no database at", "sa-sequencing init")
    assert not (tmp_path / "x.db").exists()
    (tmp_path / "x.db").touch()
    _assert_refused(run("list"), "no sequencing tables", "sa-sequencing init")


def test_bad_url(run):
    _assert_refused(run("--url", "bogus://nowhere", "list", with_url=False), "invalid --url")


def test_url_from_environment(run, url, monkeypatch, capsys):
    monkeypatch.setenv("SA_SEQUENCING_URL", url)
    assert main(["init"]) == 0
    assert main(["define", "n", "N-{COUNTER}"]) == 0
    capsys.readouterr()
    assert run("generate", "n")[1] == "N-1\n"  # same database through --url


def test_default_url_is_a_file_in_the_current_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SA_SEQUENCING_URL", raising=False)
    assert main(["init"]) == 0
    assert (tmp_path / "sa_sequencing.db").exists()


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("init", "define", "list", "show", "preview", "generate", "lock", "audit"):
        assert command in out
    assert main(["--version"]) == 0
    assert "sa-sequencing" in capsys.readouterr().out


def _demo(capsys) -> str:
    assert main(["demo"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def _invoice_counts(out: str) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(r"^  (acme|globex) \((\d+)\):$", out, re.M)}


def test_demo(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = _demo(capsys)
    assert (tmp_path / "sa_sequencing_demo.db").exists()
    assert "no duplicate, no hole" in out
    counts = _invoice_counts(out)
    assert counts == {"acme": 8, "globex": 8}
    year = date.today().year
    for n in range(1, 9):
        assert out.count(f"INV-{year}-{n:05d}") >= 2  # in both tenants' lists
    assert len(re.findall(r"^  clerk-\d rolled back (acme|globex) INV-", out, re.M)) == 4
    assert "issued again to clerk-" in out
    assert "generate_many(3)" in out
    assert re.search(r"preview (QT-\d{4}-00001)  generate \1", out)
    assert "Audit trail" in out
    trail = out.split("Audit trail")[1]
    assert re.search(r"number_generated\s+quotation\s+globex\s+QT-\d{4}-00002\s+sales-2", trail)
    assert len(out.splitlines()) <= 60

    out_again = _demo(capsys)
    assert _invoice_counts(out_again) == counts
    assert "no duplicate, no hole" in out_again


def test_demo_file_option(tmp_path, capsys):
    path = tmp_path / "story.db"
    assert main(["demo", "--file", str(path)]) == 0
    assert path.exists()
    assert "no duplicate, no hole" in capsys.readouterr().out


def test_module_runs_as_a_script(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sa_sequencing.cli", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no duplicate, no hole" in result.stdout
    assert result.stderr == ""


# -- the demo's file: never a file it did not create ------------------------------------------


def _demo_process(cwd, *args: str) -> subprocess.CompletedProcess[str]:
    """``sa-sequencing demo ARGS`` as its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "sa_sequencing.cli", "demo", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_refused_in_one_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
    for needle in needles:
        assert needle in result.stderr


def _files(directory) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


@pytest.mark.parametrize("default_file", [False, True], ids=["file-option", "default-file"])
def test_demo_refuses_a_database_it_did_not_create(tmp_path, default_file):
    import sqlite3

    name = "sa_sequencing_demo.db" if default_file else "books.db"
    with contextlib.closing(sqlite3.connect(tmp_path / name)) as db:
        db.execute("CREATE TABLE invoices (number TEXT PRIMARY KEY)")
        db.execute("INSERT INTO invoices VALUES ('INV-2026-00001')")
        db.commit()
    before = _files(tmp_path)

    result = _demo_process(tmp_path) if default_file else _demo_process(tmp_path, "--file", name)

    _assert_refused_in_one_line(result, name, "not a database made by", "delete it yourself")
    assert _files(tmp_path) == before  # bytes identical, and no journal left beside it


def test_demo_refuses_a_text_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    _assert_refused_in_one_line(_demo_process(tmp_path, "--file", "notes.txt"), "notes.txt")
    assert _files(tmp_path) == {"notes.txt": b"not a database\n"}


def test_demo_refuses_a_journal_without_its_database(tmp_path):
    (tmp_path / "x.db-wal").write_bytes(b"someone's write-ahead log")
    result = _demo_process(tmp_path, "--file", "x.db")
    _assert_refused_in_one_line(result, "x.db-wal", "delete it yourself")
    assert _files(tmp_path) == {"x.db-wal": b"someone's write-ahead log"}


def test_demo_refuses_a_directory(tmp_path):
    (tmp_path / "data").mkdir()
    _assert_refused_in_one_line(_demo_process(tmp_path, "--file", "data"), "data is a directory")
    assert list((tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize(
    "where",
    ["inside-a-file", "missing-directory", "proc"],
)
def test_demo_refuses_a_path_it_cannot_create(tmp_path, where):
    # Paths that even root cannot create: the tests run as root here and in CI.
    (tmp_path / "plain.txt").write_text("x")
    path = {
        "inside-a-file": f"{tmp_path}/plain.txt/demo.db",
        "missing-directory": f"{tmp_path}/no/such/dir/demo.db",
        "proc": f"/proc/sa_sequencing_demo_{os.getpid()}.db",
    }[where]
    result = _demo_process(tmp_path, "--file", path)
    _assert_refused_in_one_line(result, f"cannot create the demo database {path}")
    assert not os.path.lexists(path)
    assert _files(tmp_path) == {"plain.txt": b"x"}


def test_demo_replaces_its_own_database(tmp_path):
    first = _demo_process(tmp_path, "--file", "story.db")
    assert first.returncode == 0, first.stderr
    assert is_demo_database(tmp_path / "story.db")
    (tmp_path / "story.db-journal").write_bytes(b"")  # as an interrupted demo leaves it

    again = _demo_process(tmp_path, "--file", "story.db")
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""
    assert _invoice_counts(again.stdout) == {"acme": 8, "globex": 8}  # a fresh story
    assert is_demo_database(tmp_path / "story.db")
    assert sorted(_files(tmp_path)) == ["story.db"]

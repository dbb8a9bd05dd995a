"""The breadth of ``sa-sequencing``, in-process on a SQLite file: every command is
documented, answers ``--json`` given anywhere, and refuses bad requests cleanly."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import date

import pytest

from sa_sequencing.cli import build_parser
from sa_sequencing.cli import main

COMMANDS = {
    "init",
    "define",
    "update",
    "delete",
    "list",
    "show",
    "preview",
    "generate",
    "lock",
    "unlock",
    "void",
    "gaps",
    "reserve",
    "finalize",
    "release",
    "release-expired",
    "override",
    "metrics",
    "audit",
    "report",
    "sync",
    "demo",
}


@pytest.fixture
def cli(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'c.db'}"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--url", url, *args])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    assert run("init")[0] == 0
    return run


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_is_there_with_help_and_json():
    commands = _subcommands()
    assert set(commands) == COMMANDS
    for name, sub in commands.items():
        assert sub.description, name
        options = {o for a in sub._actions for o in a.option_strings}
        assert "--json" in options, name
        for action in sub._actions:
            if action.option_strings and action.dest not in {"help"}:
                assert action.help, f"{name} {action.option_strings}"


@pytest.mark.parametrize("where", ["before", "after"])
def test_json_is_accepted_before_and_after_the_command(cli, where):
    cli("define", "n", "N-{COUNTER}")
    args = ["--json", "generate", "n"] if where == "before" else ["generate", "n", "--json"]
    code, out, _ = cli(*args)
    assert (code, json.loads(out)) == (0, {"numbers": ["N-1"]})


def test_report_to_stdout_and_its_refusals(cli, tmp_path):
    cli("define", "n", "N-{COUNTER:3}", "--gap-policy", "report_gaps_only")
    cli("generate", "n", "--count", "4", "--scope", "acme")
    cli("void", "n", "N-003", "--scope", "acme")

    code, out, _ = cli("report")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert 'data-number="N-003"' in out
    code, out, _ = cli("report", "n", "--format", "csv", "--scope", "acme")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["record"], r["number"]) for r in rows if r["record"] == "gap"] == [("gap", "N-003")]
    (counter,) = [r for r in rows if r["record"] == "counter"]
    assert (counter["count"], counter["first_number"], counter["last_number"]) == (
        "4",
        "N-001",
        "N-004",
    )

    code, out, _ = cli("report", "--json")
    assert code == 2
    assert "--output" in json.loads(out)["error"]["message"]
    code, _, err = cli("report", "nope")
    assert code == 2
    assert "'nope'" in err
    code, _, err = cli("report", "--output", str(tmp_path / "no" / "such" / "dir.html"))
    assert code == 2
    assert "cannot write" in err
    code, _, err = cli("report", "--format", "pdf")
    assert code == 2
    assert "invalid choice" in err


def test_metrics_in_text_and_json(cli):
    cli("define", "n", "N-{COUNTER:2}")
    cli("generate", "n", "--count", "9")
    code, out, _ = cli("metrics", "n")
    assert code == 0
    assert "utilization_percentage     9.0909" in out
    figures = json.loads(cli("metrics", "n", "--json")[1])["metrics"]
    assert (figures["current_value"], figures["total_capacity"]) == (9, 99)
    code, _, err = cli("metrics", "n", "--date", "someday")
    assert code == 2
    assert "YYYY-MM-DD" in err


def test_demo_answers_json(tmp_path, capsys):
    path = tmp_path / "demo.db"
    assert main(["demo", "--file", str(path), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["file"], answer["ok"], answer["failures"]) == (str(path), True, [])
    assert any("no duplicate, no hole" in line for line in answer["story"])


def test_update_options_and_refusals(cli):
    cli("define", "n", "N-{YEAR}-{COUNTER}", "--reset-period", "yearly")
    code, out, _ = cli(
        "update", "n", "--timezone", "Europe/Berlin", "--exhaustion-threshold", "80", "--json"
    )
    definition = json.loads(out)["definition"]
    assert (definition["timezone"], definition["exhaustion_threshold"]) == ("Europe/Berlin", 80)
    code, _, err = cli("update", "n", "--timezone", "Mars/Base")
    assert code == 2
    assert "Mars/Base" in err
    code, _, err = cli("update", "nope", "--step", "2")
    assert code == 2
    assert "is not defined" in err
    year = date.today().year
    assert cli("generate", "n")[1].strip() == f"N-{year}-1"


def test_the_story_of_a_number_given_back_and_served_again(cli):
    cli("define", "po", "PO-{COUNTER:3}", "--gap-policy", "fill_gaps")
    held = json.loads(cli("reserve", "po", "2", "--json")[1])["reservation"]
    cli("release", held["id"])
    assert cli("generate", "po")[1].strip() == "PO-001"  # fill_gaps serves the gap
    told = json.loads(cli("audit", "po", "--number", "PO-001", "--json")[1])
    assert told["status"] == "issued"
    assert [e["event"] for e in told["events"]] == [
        "number_generated",
        "numbers_reserved",
        "reservation_released",
        "gap_reclaimed",
        "number_generated",
    ]
    assert json.loads(cli("audit", "po", "--number", "PO-002", "--json")[1])["status"] == (
        "released"
    )

"""The lifecycle commands of ``sa-sequencing`` (void, gaps, reserve, release-expired,
override) and the demo's lifecycle step, run in-process on SQLite."""

from __future__ import annotations

import re
from datetime import date

from test_cli import initialized  # noqa: F401 - fixtures shared with test_cli
from test_cli import run  # noqa: F401
from test_cli import url  # noqa: F401

from sa_sequencing.cli import main


def test_void_gaps_reserve_override(initialized):  # noqa: F811 - the fixture imported above
    cli = initialized
    year = date.today().year
    assert cli("define", "po", "PO-{YEAR}-{COUNTER:4}", "--reset-period", "yearly",
               "--gap-policy", "fill_gaps")[0] == 0  # fmt: skip
    code, out, _ = cli("generate", "po", "--count", "3", "--scope", "acme")
    assert code == 0
    second = out.split()[1]
    assert second == f"PO-{year}-0002"

    code, out, _ = cli(
        "void", "po", second, "--scope", "acme", "--reason", "typo", "--actor", "ann"
    )
    assert (code, out.strip()) == (0, f"voided {second}: recorded as a gap")
    code, out, _ = cli("gaps", "po", "--scope", "acme")
    assert code == 0
    assert re.search(rf"{second}\s+typo\s+unfilled\s+ann\s", out)

    code, out, err = cli("void", "po", second, "--scope", "acme")
    assert code == 2
    assert "already a gap" in err

    code, out, _ = cli("reserve", "po", "2", "--scope", "acme", "--ttl", "5")
    assert code == 0
    lines = out.splitlines()
    assert re.match(
        r"reservation [0-9a-f-]{36} until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", lines[0]
    )
    assert lines[1:] == [second, f"PO-{year}-0004"]  # the gap first (fill_gaps)

    code, out, _ = cli("release-expired", "--actor", "cron")
    assert (code, out.strip()) == (0, "released 0 expired numbers")

    code, out, _ = cli("override", "po", "50", "--scope", "acme", "--actor", "admin")
    assert (code, out.strip()) == (0, f"counter set to 50; next number: PO-{year}-0051")
    code, _, err = cli("override", "po", "10", "--scope", "acme")
    assert code == 2
    assert "numbers up to 50" in err

    code, out, _ = cli("gaps", "po", "--scope", "acme", "--all")
    assert re.search(rf"{second}\s+typo\s+filled\s+ann\s.*{second}", out)
    code, out, _ = cli("audit", "po")
    for event in ("number_voided", "numbers_reserved", "counter_overridden", "gap_reclaimed"):
        assert event in out


def test_lifecycle_refusals_exit_2(initialized):  # noqa: F811 - the fixture imported above
    cli = initialized
    cli("define", "q", "Q-{COUNTER:3}")
    code, _, err = cli("void", "q", "Q-009")
    assert code == 2
    assert "never issued" in err
    code, _, err = cli("reserve", "q", "2", "--ttl", "0")
    assert code == 2
    assert "--ttl" in err
    code, _, err = cli("gaps", "nope")
    assert code == 2
    assert "hint: define it with" in err
    code, out, _ = cli("gaps", "q")
    assert out.strip() == "no gaps"


def test_demo_shows_a_void_a_reservation_and_the_gap_report(tmp_path, capsys):
    assert main(["demo", "--file", str(tmp_path / "d.db")]) == 0
    out = capsys.readouterr().out
    story = out.split("Voids, reservations and the gap registry")[1].split("Quotations")[0]
    voided = re.search(r"void (INV-\d{4}-\d{5}) \(customer_cancelled, by auditor\)", story)
    assert voided is not None
    assert f"gap report invoice_number:  {voided.group(1)}" in story
    released = re.search(r"release (PO-\d{6}-\d{4}), (PO-\d{6}-\d{4})", story)
    assert released is not None
    assert f"reuses the lowest gap): {released.group(1)}" in story
    assert f"gap report purchase_order: {released.group(2)}" in story

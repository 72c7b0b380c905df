"""README's status table stays true: every capability marked done names what implements it (modules,
files, ``fluvial`` commands) and each of those exists; a planned one names nothing."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

REPO = Path(__file__).resolve().parents[2]


def status_rows() -> list[tuple[str, str, list[str]]]:
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Status", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) != 3 or cells[0] in ("capability", "---") or set(cells[0]) <= {"-"}:
            continue
        rows.append((cells[0], cells[1], re.findall(r"`([^`]+)`", cells[2])))
    return rows


def resolves(item: str) -> bool:
    """A path of the repository, or a ``fluvial ...`` command that the CLI has."""
    if item.startswith("fluvial "):
        from fluvial.cli import main

        ctx = click.Context(main)
        command: click.Command | None = main
        for word in item.split()[1:]:
            if not isinstance(command, click.Group):
                return False
            command = command.get_command(ctx, word)
            if command is None:
                return False
        return True
    return (REPO / item).exists()


def test_table_is_found():
    rows = status_rows()
    assert len(rows) >= 10
    assert {state.split()[0] for _, state, _ in rows} <= {"done", "planned", "partial"}


@pytest.mark.parametrize(("capability", "state", "where"), status_rows(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_capability_has_something_behind_it(capability, state, where):
    if state.startswith("planned"):
        assert where == [], f"{capability}: planned, yet it names {where}"
        return
    assert where, f"{capability}: marked {state!r} but names no module or command"
    missing = [item for item in where if not resolves(item)]
    assert missing == [], f"{capability}: {missing} do not exist"


def test_resolver_rejects_what_is_not_there():
    assert resolves("fluvial server") and resolves("fluvial models serve") and resolves("fluvial/tracking/")
    assert not resolves("fluvial nope") and not resolves("fluvial/nope/") and not resolves("fluvial models nope")

"""The README cannot drift from the code: its Python snippet runs, and every flag it names exists."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import click
import pytest

from reviewclf.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# flags of the benchmark scripts the README shows
OTHER_PROGRAMS = {"--repeat", "--data-dir", "--texts", "--fasttext"}


def options_of(command: click.Command) -> set[str]:
    flags = {"--help"}
    for param in command.params:
        if isinstance(param, click.Option):
            flags.update(param.opts + param.secondary_opts)
    return flags


def command_lines() -> list[tuple[str, str]]:
    """(command name, the command line) for every `reviewclf CMD ...` line in the README's shell blocks."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0]
            for name in re.findall(r"reviewclf ([a-z]+)", line):
                found.append((name, line))
    return found


def test_the_python_snippet_runs(demo_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    snippet = README.split("## The Python API", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    shutil.copytree(demo_bundle, tmp_path / "bundles" / "yelp")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {"texts": ["Great tacos!", "", "Cold fries, rude staff."]}
    exec(compile(snippet, "README.md", "exec"), scope)
    assert scope["predictor"].labels == ["negative", "positive"]  # type: ignore[attr-defined]
    assert scope["probs"].shape == (3, 2)  # type: ignore[attr-defined]


def test_every_command_line_uses_flags_the_command_has():
    lines = command_lines()
    assert len(lines) >= 5
    for name, line in lines:
        command = main.commands.get(name)
        assert command is not None, f"README runs `reviewclf {name}`, which does not exist"
        unknown = set(FLAG.findall(line)) - options_of(command)
        assert not unknown, f"README: `reviewclf {name}` has no {sorted(unknown)}: {line.strip()}"


def test_every_flag_named_in_the_readme_exists():
    known = set().union(*(options_of(command) for command in main.commands.values())) | OTHER_PROGRAMS
    unknown = sorted(set(FLAG.findall(README)) - known)
    assert not unknown, f"the README names flags that no command accepts: {unknown}"

"""Finding a unit's output file in its unit files, and reading what a restart wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from dhconf.service.output import format_output, mark_output, output_file_from_unit_files, read_output

CASES = [
    pytest.param(
        ["[Service]\nStandardOutput=append:/var/log/a.log\nStandardError=inherit\n"],
        "StandardError", "/var/log/a.log", id="inherit-follows-stdout",
    ),
    pytest.param(
        ["[Service]\nStandardOutput=append:/var/log/a.log\n", "[Service]\nStandardOutput=file:/var/log/b.log\n"],
        "StandardOutput", "/var/log/b.log", id="drop-in-wins",
    ),
    pytest.param(
        ["[Service]\nStandardOutput=append:/var/log/a.log\n", "[Service]\nStandardOutput=\n"],
        "StandardOutput", None, id="empty-assignment-resets",
    ),
    pytest.param(
        ["[Service]\nStandardOutput=append:/var/log/a.log\nStandardError=truncate:/var/log/c.log\n"],
        "StandardError", "/var/log/c.log", id="own-stderr-file",
    ),
    pytest.param(["[Service]\nStandardOutput=journal\n"], "StandardOutput", None, id="journal"),
    pytest.param(["[Unit]\nStandardOutput=append:/var/log/a.log\n"], "StandardOutput", None, id="other-section"),
    pytest.param(
        ["[Service]\n# StandardOutput=append:/var/log/old.log\n ; StandardOutput=file:/x\n"
         "StandardOutput = append:/var/log/a.log \n"],
        "StandardOutput", "/var/log/a.log", id="comments-and-spaces",
    ),
    pytest.param(["[Service]\nStandardOutput=append:%h/out.log\n"], "StandardOutput", None, id="specifier-path"),
]


@pytest.mark.parametrize(("texts", "name", "expected"), CASES)
def test_output_file_from_unit_files(tmp_path: Path, texts: list[str], name: str, expected: str | None) -> None:
    paths = []
    for index, text in enumerate(texts):
        path = tmp_path / f"unit-{index}.conf"
        path.write_text(text)
        paths.append(str(path))

    assert output_file_from_unit_files(paths, name) == expected


def test_output_file_skips_missing_drop_in(tmp_path: Path) -> None:
    fragment = tmp_path / "docker.service"
    fragment.write_text("[Service]\nStandardOutput=append:/var/log/a.log\n")

    found = output_file_from_unit_files([str(fragment), str(tmp_path / "gone.conf")], "StandardOutput")

    assert found == "/var/log/a.log"


def _unit_with_output(tmp_path: Path, output: Path) -> dict[str, object]:
    fragment = tmp_path / "docker.service"
    fragment.write_text(f"[Service]\nStandardOutput=append:{output}\nStandardError=inherit\n")
    return {"StandardError": "inherit", "StandardOutput": "append", "FragmentPath": str(fragment),
            "DropInPaths": []}


def test_read_output_since_mark(tmp_path: Path) -> None:
    output = tmp_path / "dockerd.log"
    output.write_text("an earlier run\n")
    properties = _unit_with_output(tmp_path, output)
    mark = mark_output(lambda unit, name: properties[name], "docker.service", user=False)
    with output.open("a") as stream:
        stream.write("Starting up\nfailed to load listeners: address already in use\n")

    source, lines = read_output(mark)

    assert source == str(output)
    assert lines == ["Starting up", "failed to load listeners: address already in use"]


def test_read_output_after_truncation(tmp_path: Path) -> None:
    output = tmp_path / "dockerd.log"
    output.write_text("a long earlier run\n" * 10)
    properties = _unit_with_output(tmp_path, output)
    mark = mark_output(lambda unit, name: properties[name], "docker.service", user=False)
    output.write_text("new run\n")

    _, lines = read_output(mark)

    assert lines == ["new run"]


def test_read_output_keeps_last_lines(tmp_path: Path) -> None:
    output = tmp_path / "dockerd.log"
    properties = _unit_with_output(tmp_path, output)
    mark = mark_output(lambda unit, name: properties[name], "docker.service", user=False)
    output.write_text("".join(f"line {number}\n" for number in range(50)))

    _, lines = read_output(mark, max_lines=3)

    assert lines == ["line 47", "line 48", "line 49"]


def test_read_output_without_target() -> None:
    properties = {"StandardError": "null"}
    mark = mark_output(lambda unit, name: properties[name], "docker.service", user=False)

    source, lines = read_output(mark)

    assert source == "StandardError=null"
    assert lines == []


def test_format_output_with_lines() -> None:
    text = format_output("/var/log/docker.log", ["first", "second"])

    assert text == "Last lines of the daemon's output (/var/log/docker.log):\n  first\n  second"


def test_format_output_without_lines() -> None:
    assert "wrote nothing to journalctl --unit=docker.service" in format_output("journalctl --unit=docker.service", [])

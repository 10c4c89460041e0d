"""systemd's EnvironmentFile= reading, live: real systemd against the case table and the parser.

Each case file is loaded by a oneshot user unit whose /bin/sh writes whether
the variable is set and its value, so an unset variable and an empty one
differ. The case table gives the values of systemd 254 and later;
``OLDER_SYSTEMD`` lists the rows where older releases differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dhconf.sources.envfile import parse_environment_file
from tests.bed.systemd_user import SystemdUserBed, systemd_user_bed
from tests.sources.envfile_cases import SECTION8_CASES

pytestmark = pytest.mark.integration

# name -> (first systemd release with the table's value, the value before it).
# Before 254, a comment line ending in a backslash also swallowed the next
# line (src/basic/env-file.c), so the assignment after it is lost. Debian 12's
# systemd 252 does this.
OLDER_SYSTEMD: dict[str, tuple[int, str | None]] = {
    "16-comment-ending-in-backslash": (254, None),
}


@dataclass
class LiveReader:
    """Runs one oneshot unit per case file in a systemd user manager."""

    bed: SystemdUserBed
    version: int

    def read(self, name: str, text: str, variable: str) -> str | None:
        """Return the variable's value as systemd passes it to ExecStart=, or None when unset."""
        directory = self.bed.root / "envfile-cases" / name
        directory.mkdir(parents=True)
        env_file = directory / "variables.env"
        env_file.write_bytes(text.encode())
        is_set = directory / "set"
        value = directory / "value"
        unit = f"dhconf-envfile-{name}.service"
        # In ExecStart=, systemd turns "%%" into "%" and "$$" into "$", so sh
        # gets: printf "%s" "${VAR+set}" > set; printf "%s" "${VAR-}" > value
        self.bed.write_unit(unit, (
            "[Service]\n"
            "Type=oneshot\n"
            f"EnvironmentFile={env_file}\n"
            f"ExecStart=/bin/sh -c 'printf \"%%s\" \"$${{{variable}+set}}\" > {is_set};"
            f" printf \"%%s\" \"$${{{variable}-}}\" > {value}'\n"
        ))
        self.bed.systemctl("daemon-reload")
        self.bed.systemctl("start", unit)
        if is_set.read_text() != "set":
            return None
        return value.read_bytes().decode()


@pytest.fixture(scope="module")
def live_reader() -> Iterator[LiveReader]:
    with systemd_user_bed(dockerd=False) as bed:
        version_text = bed.systemctl("show", "--property=Version", "--value").stdout
        match = re.match(r"(\d+)", version_text.strip())
        assert match, f"cannot read systemd's version from {version_text!r}"
        yield LiveReader(bed=bed, version=int(match.group(1)))


def expected_value(name: str, table_value: str | None, version: int) -> str | None:
    """Return the table's value, or the older one for a systemd before the row's release."""
    if name in OLDER_SYSTEMD:
        since, older = OLDER_SYSTEMD[name]
        if version < since:
            return older
    return table_value


@pytest.mark.parametrize(
    ("name", "text", "variable", "systemd_value"),
    [pytest.param(name, text, variable, value, id=name) for name, text, variable, value, _ in SECTION8_CASES],
)
def test_systemd_matches_table(
    live_reader: LiveReader, name: str, text: str, variable: str, systemd_value: str | None
) -> None:
    real = live_reader.read(f"table-{name}", text, variable)

    assert real == expected_value(name, systemd_value, live_reader.version)


@pytest.mark.parametrize(
    ("name", "text", "variable"),
    [pytest.param(name, text, variable, id=name) for name, text, variable, _, _ in SECTION8_CASES],
)
def test_parser_matches_systemd(
    live_reader: LiveReader, request: pytest.FixtureRequest, name: str, text: str, variable: str
) -> None:
    if name in OLDER_SYSTEMD and live_reader.version < OLDER_SYSTEMD[name][0]:
        request.applymarker(pytest.mark.xfail(
            strict=True,
            reason=f"the parser follows systemd {OLDER_SYSTEMD[name][0]} and later; "
                   f"this host runs systemd {live_reader.version}",
        ))
    real = live_reader.read(f"parser-{name}", text, variable)

    parsed = parse_environment_file(text, "/etc/default/docker").values.get(variable)

    assert parsed == real

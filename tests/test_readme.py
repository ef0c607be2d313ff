"""The README is for users, and its settings table cannot drift from the code: at most ~250
lines, no word of the machines the project is made on, every link and path it names exists,
every flag of the app and every SAM2_* variable the code reads is in the table (with the right
variable and default), and the table names nothing the code does not read."""

import argparse
import re
from dataclasses import fields

from oracle.paths import REPO
from tracker.settings import AppSettings, Limits

README = (REPO / "README.md").read_text()
DOCS = {path.name: path.read_text() for path in (REPO / "docs").glob("*.md")}
CODE_FOLDERS = ("sam2", "tracker", "vos", "tools", "sav_dataset", "oracle", "bench", "tests")
# The official package's own build switch, which oracle/reference_env.py sets when it installs it.
NOT_OURS = {"SAM2_BUILD_CUDA"}


def table_rows():
    """(flag, variable, default) of each row of the settings table."""
    section = README.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and cells[1].isupper():
            rows.append(tuple(cells[:3]))
    return rows


def variables_in_code():
    found = set()
    files = [REPO / "app.py", *(p for folder in CODE_FOLDERS for p in (REPO / folder).rglob("*.py"))]
    for path in files:
        found |= set(re.findall(r"\bSAM2_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    return found - NOT_OURS


def test_the_readme_is_short_and_speaks_to_users():
    assert len(README.splitlines()) <= 250
    for phrase in ("this project's machines", "../shared", "this machine", "this 2-core"):
        assert phrase not in README, phrase


def test_every_link_and_path_it_names_exists():
    for name, text in {"README.md": README, **DOCS}.items():
        base = REPO if name == "README.md" else REPO / "docs"
        for link in re.findall(r"\]\(((?!http)[^)#]+)\)", text):
            assert (base / link).exists(), (name, link)
        for path in re.findall(r"`((?:sam2|tracker|vos|tools|oracle|bench|tests)/[\w/]+\.py)`", text):
            assert (REPO / path).exists(), (name, path)


def test_every_flag_is_in_the_table_with_its_variable_and_default():
    rows = {flag: (variable, default) for flag, variable, default in table_rows() if flag}
    plain = AppSettings.argument_parser({})
    flags = [a for a in plain._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
    assert sorted(rows) == sorted(a.option_strings[0] for a in flags)
    for action in flags:
        variable, _ = rows[action.option_strings[0]]
        value = "1" if isinstance(action, argparse._StoreTrueAction) else "7"
        wired = AppSettings.argument_parser({variable: value}).get_default(action.dest)
        assert wired != plain.get_default(action.dest), f"{variable} does not set {action.option_strings[0]}"
    for spec in fields(Limits):
        assert rows["--" + spec.name.replace("_", "-")][1] == str(spec.default), spec.name


def test_every_variable_the_code_reads_is_in_the_table_and_no_other():
    in_table = {variable for _, variable, _ in table_rows() if variable.startswith("SAM2_")}
    assert in_table == variables_in_code()

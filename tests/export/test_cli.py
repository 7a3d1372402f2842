"""`eventqa export` as users meet it: what it says, and its refusal to lose hand edits."""

from __future__ import annotations

import pytest

from tests.cli.test_bad_input import one_clean_line
from tests.cli.test_cli import eventqa

pytestmark = pytest.mark.cli


@pytest.mark.parametrize("kind", ["dbt", "odcs"])
def test_re_export_refuses_hand_edited_files_by_name_unless_forced(example_project, kind):
    done = eventqa(example_project, "export", kind, "--output", "out")
    assert done.returncode == 0, done.stderr
    assert "in out: wrote" in done.stdout and " 0 unchanged" in done.stdout
    again = eventqa(example_project, "export", kind, "--output", "out")
    assert again.returncode == 0 and "wrote 0," in again.stdout

    files = sorted((example_project / "out").rglob("*.*"))
    edited, replaced = files[0], files[-1]
    edited.write_text(edited.read_text() + "\n# a local tweak\n")
    replaced.write_text("written by hand\n")
    refused = eventqa(example_project, "export", kind, "--output", "out")
    line = one_clean_line(refused, 2, "refusing to overwrite files edited by hand")
    assert str(edited.relative_to(example_project)) in line
    assert str(replaced.relative_to(example_project)) in line
    assert "--force" in refused.stderr
    assert edited.read_text().endswith("# a local tweak\n")

    forced = eventqa(example_project, "export", kind, "--output", "out", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "overwrote hand edits" in forced.stdout
    assert "local tweak" not in edited.read_text()


def test_export_into_a_file_is_a_usage_error(example_project):
    (example_project / "taken").write_text("")
    done = eventqa(example_project, "export", "dbt", "--output", "taken")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "taken" in done.stderr


def test_export_defaults_to_exports_next_to_checks_yaml(example_project):
    done = eventqa(example_project, "export", "odcs")
    assert done.returncode == 0, done.stderr
    assert (
        example_project / "exports" / "odcs" / "backend__events" / "payment_failed.odcs.yaml"
    ).is_file()

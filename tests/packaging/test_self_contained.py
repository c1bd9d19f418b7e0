"""A clone carries everything its tests read: no path leads out of the repository."""

from __future__ import annotations

import subprocess

from tests.packaging.support import REPO
from tests.support.vendor_specs import VENDOR_SPECS, vendor_spec_text

# Built from pieces so that this file does not match itself.
OUTSIDE = "(" + r"\.\./" + '|")' + "sha" + "red" + '(/|")'


def test_nothing_refers_to_a_folder_beside_the_clone() -> None:
    found = subprocess.run(
        ["git", "grep", "-nE", OUTSIDE],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 1, f"references outside the repository:\n{found.stdout}"


def test_the_vendor_descriptions_are_in_the_repository_with_their_source_and_licence() -> None:
    assert VENDOR_SPECS.is_relative_to(REPO)
    readme = (VENDOR_SPECS / "README.md").read_text()
    for name in ("stripe-2020-08-27", "dynamics365-business-central-v1.0"):
        assert name in readme
    assert "MIT" in readme
    assert "Apache-2.0" in readme
    assert '"version": "2020-08-27"' in vendor_spec_text("stripe-2020-08-27/spec3.json")
    assert '"resources"' in vendor_spec_text("stripe-2020-08-27/fixtures3.json")
    assert "Business Central" in vendor_spec_text("dynamics365-business-central-v1.0/openapi.yaml")

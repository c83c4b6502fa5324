"""The package under test is compiled once per content, outside the sandbox, and what runs
is always what its source says."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.runtime.checks import _bytecode
from shipyard.runtime.checks._bytecode import precompile

PY, VERSION = Path(sys.executable), platform.python_version()
RAISES = "def where():\n    raise RuntimeError('here')\n"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_ENVS_DIR", str(tmp_path / "envs"))


def _site(root: Path, body: str) -> Path:
    """An unpacked wheel as a check lays it out: a package, a test inside it, its metadata."""
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text(body)
    (root / "pkg" / "test_inside.py").write_text("def test_x():\n    assert True\n")
    (root / "pkg-1.0.dist-info").mkdir()
    (root / "pkg-1.0.dist-info" / "METADATA").write_text("Name: pkg\n")
    return root


def _run(site: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([str(PY), "-v", "-c", code], env=env, capture_output=True, text=True,
                          check=False)


def test_a_module_compiled_for_one_check_is_reused_by_the_next_where_it_now_lies(tmp_path):
    first = _site(tmp_path / "check1" / "site", RAISES)
    assert precompile(PY, VERSION, first, 60) == (0, 1)   # the test file is pytest's to rewrite
    assert not list((first / "pkg" / "__pycache__").glob("test_inside.*"))

    second = _site(tmp_path / "check2" / "site", RAISES)
    assert precompile(PY, VERSION, second, 60) == (1, 0)
    [pyc] = (second / "pkg" / "__pycache__").glob("__init__.*.pyc")
    assert pyc.read_bytes()[4:8] == b"\x03\x00\x00\x00"   # checked-hash: the source is verified
    run = _run(second, "import pkg; pkg.where()")
    assert f"code object from '{pyc}'" in run.stderr       # loaded, not compiled again
    assert f'File "{second / "pkg" / "__init__.py"}"' in run.stderr   # and named where it lies


def test_a_changed_module_runs_its_new_code_never_the_bytecode_of_the_old(tmp_path):
    precompile(PY, VERSION, _site(tmp_path / "check1" / "site", RAISES), 60)
    changed = _site(tmp_path / "check2" / "site", "def where():\n    return 'new'\n")
    assert precompile(PY, VERSION, changed, 60) == (0, 1)
    assert _run(changed, "import pkg; print(pkg.where())").stdout.strip() == "new"

    # a test that edits an installed module after the check compiled it: Python sees the
    # source no longer matches its pyc's hash and compiles the edit
    (changed / "pkg" / "__init__.py").write_text("def where():\n    return 'edited'\n")
    assert _run(changed, "import pkg; print(pkg.where())").stdout.strip() == "edited"


def test_a_module_that_does_not_compile_is_left_for_the_tests_to_report(tmp_path):
    site = _site(tmp_path / "site", "def broken(:\n")
    precompile(PY, VERSION, site, 60)                     # no exception, no pyc
    assert not list((site / "pkg" / "__pycache__").glob("__init__.*.pyc"))
    assert "SyntaxError" in _run(site, "import pkg").stderr


def test_past_the_budget_new_source_is_left_to_the_run(tmp_path, monkeypatch):
    # a first check of a large package must not compile modules its tests never import
    monkeypatch.setattr(_bytecode, "FRESH_BYTES", 10)
    site = _site(tmp_path / "site", RAISES)
    assert precompile(PY, VERSION, site, 60) == (0, 0)
    assert _run(site, "import pkg; print('ok')").stdout.strip() == "ok"


def test_a_cache_that_cannot_be_written_costs_time_not_a_verdict(tmp_path, monkeypatch):
    blocked = tmp_path / "ro"
    blocked.write_text("a file where the cache folder would go\n")
    monkeypatch.setenv("SHIPYARD_ENVS_DIR", str(blocked / "envs"))
    site = _site(tmp_path / "site", RAISES)
    assert precompile(PY, VERSION, site, 60) == (0, 0)
    assert "RuntimeError: here" in _run(site, "import pkg; pkg.where()").stderr


# -- test files: pytest's rewritten pycs, made outside the sandbox -------------------------
ENV_SITE = Path(next(p for p in sys.path if p.endswith("site-packages")
                     and (Path(p) / "_pytest").is_dir()))
VERSIONS = {"python": VERSION, "pytest": pytest.__version__}
FAILING = "def test_sum():\n    total = 1 + 1\n    assert total == 3\n"


def _tests(root: Path, body: str = FAILING) -> Path:
    root.mkdir(parents=True)
    (root / "test_sum.py").write_text(body)
    return root


def _pytest(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTEST_DEBUG": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([str(PY), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tree / "test_sum.py")], cwd=tree, env=env, capture_output=True,
                          text=True, check=False)


def test_a_test_file_rewritten_for_one_check_is_what_pytest_loads_in_the_next(tmp_path):
    assert _bytecode.prerewrite(PY, VERSIONS, ENV_SITE, [_tests(tmp_path / "c1")], "", 60) \
        == (0, 1)
    second = _tests(tmp_path / "c2")
    assert _bytecode.prerewrite(PY, VERSIONS, ENV_SITE, [second], "", 60) == (1, 0)
    run = _pytest(second)
    assert f"found cached rewritten pyc for {second / 'test_sum.py'}" in run.stderr
    # the rewritten asserts explain the failure, at the file's own place
    assert "E       assert 2 == 3" in run.stdout
    assert "test_sum.py:3: AssertionError" in run.stdout and "c1" not in run.stdout


def test_a_test_file_edited_since_is_rewritten_by_pytest_not_loaded_stale(tmp_path):
    _bytecode.prerewrite(PY, VERSIONS, ENV_SITE, [_tests(tmp_path / "c1")], "", 60)
    second = _tests(tmp_path / "c2")
    _bytecode.prerewrite(PY, VERSIONS, ENV_SITE, [second], "", 60)
    (second / "test_sum.py").write_text(FAILING.replace("== 3", "== 2"))
    assert _pytest(second).returncode == 0


def test_a_rewrite_that_warns_or_a_pass_hook_leaves_the_test_file_to_pytest(tmp_path):
    warns = "def test_t():\n    assert (1 == 2, 'always true')\n"
    for i in (1, 2):      # an always-true assert's warning must come from the run: not kept
        assert _bytecode.prerewrite(PY, VERSIONS, ENV_SITE, [_tests(tmp_path / f"w{i}", warns)],
                                    "", 60) == (0, 1)
    assert "assertion is always true" in _pytest(tmp_path / "w2").stdout
    _bytecode.prerewrite(PY, VERSIONS, ENV_SITE, [_tests(tmp_path / "c1")], "", 60)
    hooked = "[pytest]\nenable_assertion_pass_hook = true\n"
    assert _bytecode.prerewrite(PY, VERSIONS, ENV_SITE, [_tests(tmp_path / "c2")], hooked,
                                60) == (0, 0)


# -- the environment's pytest plugins: rewritten once, where the environment is made -------
PLUGIN = "import pytest\n\n\n@pytest.fixture\ndef total():\n    value = 1 + 1\n    assert value == 3\n"


def _env_with_plugin(root: Path) -> Path:
    """An environment as `_testenv` makes it, holding pytest and a plugin of its own."""
    site = root / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    site.mkdir(parents=True)
    for name in ("_pytest", "pytest", "pluggy", "iniconfig", "packaging", "pygments", "py.py",
                 "exceptiongroup", "tomli"):   # pytest and what it imports
        if (ENV_SITE / name).exists():
            (site / name).symlink_to(ENV_SITE / name)
    (site / "myplug").mkdir()
    (site / "myplug" / "__init__.py").write_text(PLUGIN)
    info = site / "myplug-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nmyplug = myplug\n")
    (info / "RECORD").write_text("myplug/__init__.py,,\nmyplug-1.0.dist-info/RECORD,,\n")
    (root / "bin").mkdir()
    (root / "bin" / "python").symlink_to(PY)
    return site


def test_a_plugin_of_the_environment_is_rewritten_once_and_pytest_loads_it(tmp_path):
    from shipyard.runtime.checks._plugins import rewrite_plugins

    site = _env_with_plugin(tmp_path / "env")
    assert rewrite_plugins(tmp_path / "env", 60) == ["myplug"]
    tree = _tests(tmp_path / "tree", "def test_uses(total):\n    pass\n")
    env = {**os.environ, "PYTEST_DEBUG": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": str(site)}
    run = subprocess.run([str(PY), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tree,
                         env=env, capture_output=True, text=True, check=False)
    assert f"found cached rewritten pyc for {site / 'myplug' / '__init__.py'}" in run.stderr
    assert "E       assert 2 == 3" in run.stdout       # the plugin's assert, rewritten

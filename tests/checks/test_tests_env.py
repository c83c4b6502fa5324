"""The tests check tests exactly the tree under review, in an environment of its own.

Real git, real virtualenvs, tiny packages: the environments are cached under
~/.cache/shipyard/envs (keyed by the declarations), so after the first run each test
costs about a wheel build and a pytest run.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.runtime.checks import CheckPolicy, run_checks
from shipyard.runtime.checks._coverage import (
    coverage_data_lines,
    line_coverage,
    monitor_command,
    monitored_lines,
)
from shipyard.runtime.checks._declared import read_declarations
from shipyard.runtime.checks._testenv import _load

from .conftest import FixtureRepo, finding, init_repo

CALC = "def double(x):\n    return 2 * x\n"
CALC_BROKEN = "def double(x):\n    return 3 * x\n"
CALC_TEST = "from calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
SETUPTOOLS = '[project]\nname = "calc"\nversion = "0.1.0"\n'


def _result(repo: FixtureRepo, head: str = "HEAD", policy: CheckPolicy | None = None):
    report = run_checks(repo.path, repo.base, head, policy or CheckPolicy(), only=["tests"])
    return report, report.checks[0]


def _broken_branch(repo: FixtureRepo, path: str, content: str) -> str:
    """Commit `content` on branch `broken`; the working copy goes back to main."""
    repo.git("checkout", "-q", "-b", "broken")
    repo.write(path, content).commit("break it")
    repo.git("checkout", "-q", "main")
    return "broken"


def test_editable_install_of_the_working_copy_does_not_hide_a_broken_head(tmp_path):
    repo = init_repo(tmp_path / "calc")
    repo.write("pyproject.toml", SETUPTOOLS).write("calc/__init__.py", CALC)
    repo.write("tests/test_calc.py", CALC_TEST).write(".gitignore", ".venv/\n")
    repo.base = repo.commit("base")
    # the user's .venv imports the working copy (what `pip install -e .` leaves behind)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(repo.path / ".venv")],
                   check=True)
    site = next((repo.path / ".venv").glob("lib/python*/site-packages"))
    (site / "__editable__calc.pth").write_text(f"{repo.path}\n")
    head = _broken_branch(repo, "calc/__init__.py", CALC_BROKEN)
    report, tests = _result(repo, head)
    assert not report.passed
    f = finding(report, "tests", "tests.failure")
    assert "test_double" in f.message
    assert "env " in tests.summary  # which environment ran is in the report


def test_src_layout_with_hatch_vcs_version_file_is_built_and_tested(tmp_path):
    repo = init_repo(tmp_path / "vcs")
    repo.write("pyproject.toml", '''\
[build-system]
requires = ["hatchling", "hatch-vcs"]
build-backend = "hatchling.build"

[project]
name = "vcspkg"
dynamic = ["version"]

[project.optional-dependencies]
test = ["pytest"]

[tool.hatch.version]
source = "vcs"

[tool.hatch.build.hooks.vcs]
version-file = "src/vcspkg/_version.py"
''')
    repo.write("src/vcspkg/__init__.py", "from ._version import version\n\n\n" + CALC)
    repo.write("tests/test_vcs.py", "import vcspkg\n\n\ndef test_it():\n"
               "    assert vcspkg.version == '1.4.0'\n    assert vcspkg.double(2) == 4\n")
    repo.base = repo.commit("base")
    repo.git("tag", "v1.4.0")
    repo.write("src/vcspkg/__init__.py", "from ._version import version\n\n# head\n" + CALC)
    repo.commit("a change")
    report, tests = _result(repo)
    assert report.passed, tests
    assert "coverage 100.0%" in tests.summary
    assert any(e.path.endswith("environment.json") for e in tests.evidence)


def test_the_users_venv_is_byte_identical_after_a_check(repo):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(repo.path / ".venv")],
                   check=True)
    (repo.path / ".gitignore").write_text(".venv/\n")
    before = _digest(repo.path / ".venv")
    repo.write("app.py", (repo.path / "app.py").read_text() + "\n# touched\n").commit()
    report, _ = _result(repo)
    assert report.passed
    assert _digest(repo.path / ".venv") == before


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames + dirnames):
            p = Path(dirpath) / name
            st = p.lstat()
            h.update(f"{p.relative_to(root)}|{st.st_mode}|{st.st_size}|{st.st_mtime_ns}".encode())
            if p.is_file() and not p.is_symlink():
                h.update(p.read_bytes())
    return h.hexdigest()


def test_unreachable_index_is_an_error_naming_the_fix_and_policy_may_fall_back(repo, monkeypatch):
    for key in ("PIP_INDEX_URL", "UV_INDEX_URL"):
        monkeypatch.setenv(key, "http://127.0.0.1:9/simple")
    for key in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS"):
        monkeypatch.setenv(key, "")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_RETRIES", "0")
    repo.write("requirements-test.txt", "shipyard-surely-not-a-package==9.9\n").commit()
    report, tests = _result(repo)
    assert tests.status == "error"
    f = finding(report, "tests", "tests.env")
    assert "test_env_fallback" in f.message and "pip configuration" in f.message
    _, tests = _result(repo, policy=CheckPolicy(test_env_fallback=True))
    assert tests.status == "pass", tests
    assert "fallback" in tests.summary


def test_declarations_cover_extras_groups_requirements_and_tox(tmp_path):
    (tmp_path / "pyproject.toml").write_text('''\
[project]
name = "demo"
dependencies = ["attrs>=22"]
[project.optional-dependencies]
test = ["demo[fast]", "hypothesis"]
fast = ["orjson"]
docs = ["sphinx"]
[dependency-groups]
dev = ["ruff", {include-group = "lint"}]
lint = ["mypy"]
''')
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "test.txt").write_text("-r base.txt\nfreezegun  # time\n")
    (tmp_path / "requirements" / "base.txt").write_text("idna\n-e .\n")
    (tmp_path / "tox.ini").write_text("[testenv]\ndeps =\n    pytest-mock\n    {[base]deps}\n")
    decl = read_declarations(tmp_path)
    assert set(decl.requirements) == {"attrs>=22", "hypothesis", "orjson", "ruff", "mypy",
                                      "freezegun", "idna", "pytest-mock", "pytest", "coverage"}
    assert "sphinx" not in decl.requirements and decl.packaged and decl.name == "demo"
    assert decl.key("py") == read_declarations(tmp_path).key("py") != decl.key("py2")


NOXFILE = """import nox

REQS = ["never-read"]


@nox.session
def lint(session):
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session(python=["3.11", "3.12"])
def tests(session):
    session.install("-e", ".[test]", "-r", "requirements-ci.txt", "-c", "constraints.txt",
                    "pytest-xdist", *REQS)
    session.run("pytest", "-x", "tests/unit", *session.posargs)
"""


def test_a_noxfile_is_read_never_run_for_its_pytest_arguments_and_requirements(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n[project.optional-dependencies]\ntest = ["hypothesis"]\n'
        'lint = ["ruff"]\n')
    (tmp_path / "requirements-ci.txt").write_text("freezegun\n")
    (tmp_path / "noxfile.py").write_text(NOXFILE + "\nraise SystemExit('executed!')\n")
    from shipyard.runtime.checks._nox import read_noxfile

    nox = read_noxfile(tmp_path)
    assert nox is not None and nox.session == "tests"
    assert nox.pytest_args == ("-x", "tests/unit")
    decl = read_declarations(tmp_path)
    assert {"pytest-xdist", "hypothesis", "freezegun"} <= set(decl.requirements)
    assert "never-read" not in decl.requirements and "constraints.txt" not in decl.requirements
    assert "noxfile.py" in decl.sources
    (tmp_path / "noxfile.py").write_text("def (broken")
    assert read_noxfile(tmp_path) is None                 # a broken noxfile is not a crash


def _python_312() -> str | None:
    """A Python 3.12+ interpreter on this machine, for sys.monitoring."""
    if sys.version_info >= (3, 12):
        return sys.executable
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3.1?"))
                   + glob.glob("/usr/bin/python3.1[2-9]"))
    return found[0] if found else None


def test_cached_line_coverage_matches_coverage_py(tmp_path):

    pkg = tmp_path / "src" / "m"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("def f(x):\n    y = (x +\n         1)\n    if x:\n"
                                     "        return y\n    return 0  # pragma: no cover\n\n\n"
                                     "def g():\n    return 2\n")
    (pkg / "unused.py").write_text("A = 1\nB = 2\n")
    (tmp_path / "run.py").write_text("import m\nm.f(1)\n")
    data = tmp_path / ".coverage"
    subprocess.run([sys.executable, "-m", "coverage", "run", f"--data-file={data}",
                    f"--source={tmp_path / 'src'}", "run.py"], cwd=tmp_path, check=True,
                   env={**os.environ, "PYTHONPATH": str(tmp_path / "src")})
    subprocess.run([sys.executable, "-m", "coverage", "json", f"--data-file={data}", "-o",
                    str(tmp_path / "c.json")], cwd=tmp_path, check=True)
    ours = line_coverage(coverage_data_lines([data], tmp_path / "combined"), tmp_path / "src",
                         tmp_path, [], tmp_path / "cache")
    theirs = json.loads((tmp_path / "c.json").read_text())
    assert round(ours.percent, 6) == round(theirs["totals"]["percent_covered"], 6)
    for path, info in theirs["files"].items():
        assert ours.missing[str(tmp_path / path)] == set(info["missing_lines"])
    again = line_coverage(coverage_data_lines([data], tmp_path / "combined2"),
                          tmp_path / "src", tmp_path, [], tmp_path / "cache")  # statement cache
    assert again == ours
    if (py := _python_312()) is not None:  # and sys.monitoring records the same lines
        out = tmp_path / "lines.json"
        argv = monitor_command(tmp_path, out, str(tmp_path / "src"), "*/unused.py")
        subprocess.run([py, "-P", *argv, "-m", "run"], cwd=tmp_path, check=True,
                       env={**os.environ, "PYTHONPATH": f"{tmp_path / 'src'}:{tmp_path}"})
        monitored = line_coverage(monitored_lines(out), tmp_path / "src", tmp_path, [],
                                  tmp_path / "cache")
        assert monitored == ours
        assert str(pkg / "unused.py") not in monitored_lines(out)  # omitted: never traced


def test_a_file_shipyards_python_cannot_parse_is_measured_by_the_tests_python(tmp_path):
    # `type` statements are 3.12 syntax; shipyard may run on 3.11
    (tmp_path / "new.py").write_text("def f():\n    return 1\n\n\ntype Pair = tuple[int, int]\n"
                                     "x = [\n    1,\n]\n")
    (tmp_path / "old.py").write_text("A = 1\n")
    asked: list[list[str]] = []

    def parse(paths):
        asked.append([p.name for p in paths])
        return {str(tmp_path / "new.py"): ({1, 2, 5, 6}, {7: 6, 8: 6})}

    executed = {str(tmp_path / "new.py"): {1, 2, 5, 7}, str(tmp_path / "old.py"): {1}}
    got = line_coverage(executed, tmp_path, tmp_path, [], tmp_path / "cache",
                        elsewhere=("3.12.1", parse))
    if sys.version_info < (3, 12):
        assert asked == [["new.py"]]  # only the file ours could not parse
        assert got.missing[str(tmp_path / "new.py")] == set()  # line 7 is statement 6's
        assert got.percent == 100.0
        again = line_coverage(executed, tmp_path, tmp_path, [], tmp_path / "cache",
                              elsewhere=("3.12.1", parse))
        assert again == got and len(asked) == 1  # cached by content and version
    else:
        assert asked == []  # every file parsed here


def test_a_run_that_ends_without_exiting_leaves_no_line_record(tmp_path):
    py = _python_312()
    if py is None:
        pytest.skip("needs a Python 3.12+ interpreter (sys.monitoring)")
    (tmp_path / "quits.py").write_text("import os\nos._exit(0)\n")
    (tmp_path / "ends.py").write_text("x = 1\n")
    for module in ("quits", "ends"):
        argv = monitor_command(tmp_path, tmp_path / f"{module}.json", str(tmp_path), "")
        subprocess.run([py, "-P", *argv, "-m", module], cwd=tmp_path, check=True,
                       env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert not (tmp_path / "quits.json").exists()  # the check reports tests.no-coverage
    assert monitored_lines(tmp_path / "ends.json") == {str(tmp_path / "ends.py"): {1}}


def test_an_environment_cached_without_bytecode_is_compiled_once_when_reused(tmp_path):
    # the tests run with the environment read-only: bytecode compiled nowhere else would be
    # compiled anew on every run
    env = tmp_path / "env"
    site = env / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "tool.py").write_text("VALUE = 1\n")
    (env / "bin").mkdir()
    (env / "bin" / "python").symlink_to(sys.executable)
    (env / "shipyard-env.json").write_text(json.dumps(
        {"installer": "uv", "versions": {"python": "3.11.7"}}))
    _load(env, reused=True, timeout=60)
    assert list((site / "__pycache__").glob("tool.*.pyc"))
    assert json.loads((env / "shipyard-env.json").read_text())["bytecode"] is True


def test_a_change_to_modules_only_is_tested_in_the_base_wheel_patched_not_rebuilt(tmp_path):
    # the head of one change is the base of the next: its wheel was built by the last check
    # wheels are cached by tree id: a tree of this run's own, or the cache of an earlier
    # run would answer ("wheel reused")
    unique = f"# {os.urandom(8).hex()}\n"
    repo = init_repo(tmp_path / "calc")
    repo.write("pyproject.toml", SETUPTOOLS).write("calc/__init__.py", unique + CALC)
    repo.write("tests/test_calc.py", CALC_TEST)
    repo.base = repo.commit("base")
    repo.git("tag", "v0.1.0")
    first = repo.write("tests/test_more.py", CALC_TEST.replace("_double", "_again")).commit("t")
    _, tests = _result(repo, first)
    assert "wheel built" in tests.summary
    repo.base = first
    broken = _broken_branch(repo, "calc/__init__.py", unique + CALC_BROKEN)
    report, tests = _result(repo, broken)
    assert "wheel patched" in tests.summary
    assert "test_double" in finding(report, "tests", "tests.failure").message  # the head ran
    repo.base = repo.git("rev-parse", broken).strip()
    repo.git("checkout", "-q", "broken")
    # a release commit, tagged: the version alone changes in pyproject.toml, and the wheel
    # says so (crashtest: its nearest tag is its own, not its base's)
    fixed = repo.write("calc/__init__.py", unique + CALC).write(
        "pyproject.toml", SETUPTOOLS.replace("0.1.0", "0.2.0")).write(
        "tests/test_version.py", "from importlib.metadata import version\n\n\n"
        "def test_version():\n    assert version('calc') == '0.2.0'\n").commit("fix, bump")
    repo.git("tag", "v0.2.0", fixed)
    report, tests = _result(repo, fixed)
    assert report.passed and "wheel patched" in tests.summary, tests.summary
    repo.base = fixed
    described = repo.write("pyproject.toml", SETUPTOOLS.replace("0.1.0", "0.3.0") +
                           'description = "calc"\n').commit("describe")
    _, tests = _result(repo, described)
    assert "wheel built" in tests.summary                     # more than the version: built


def test_a_readme_edit_is_written_into_the_base_wheels_metadata_not_rebuilt(tmp_path):
    # the backend copies the README into METADATA; a test of the head reads it from there
    unique = f"# {os.urandom(8).hex()}\n"
    repo = init_repo(tmp_path / "calc")
    repo.write("pyproject.toml", SETUPTOOLS + 'readme = "README.md"\n')
    repo.write("calc/__init__.py", unique + CALC).write("README.md", "# calc\n\nDoubles.\n")
    repo.write("tests/test_calc.py", CALC_TEST)
    repo.base = repo.commit("base")
    repo.git("tag", "v0.1.0")
    described = ("from importlib.metadata import metadata\n\n\ndef test_described():\n"
                 "    assert metadata('calc').get_payload().startswith({!r})\n")
    first = repo.write("tests/test_readme.py", described.format("# calc\n\nDoubles.\n")
                       ).commit("t")
    _, tests = _result(repo, first)
    assert "wheel built" in tests.summary
    repo.base = first
    edited = repo.write("README.md", "# calc\n\nDoubles a number, any number.\n").write(
        "tests/test_readme.py", described.format("# calc\n\nDoubles a number, any number.\n")
    ).commit("readme")
    report, tests = _result(repo, edited)
    assert report.passed and "wheel patched" in tests.summary, tests.summary
    repo.base = edited
    unended = repo.write("README.md", "# calc\n\nDoubles.").commit("no last newline")
    _, tests = _result(repo, unended)
    assert "wheel built" in tests.summary      # the backends differ on a missing newline


def test_a_readme_is_described_only_where_metadata_holds_it_verbatim():
    from shipyard.runtime.checks._readme import described

    meta = "Metadata-Version: 2.1\nName: p\n\n"
    assert described(meta + "# p\nold\n", "# p\nold\n", "# p\nnew\n") == meta + "# p\nnew\n"
    # poetry-core adds a newline after the README whatever it ends with
    assert described(meta + "# p\nold\n\n", "# p\nold\n", "# p\nnew\n") == \
        meta + "# p\nnew\n\n"
    assert described(meta + "# p\nold\n", "# p\nold\n", "# p\nnew") is None
    assert described(meta + "        # p\n", "# p\n", "# q\n") is None   # escaped: build
    assert described("Name: p\nDescription: # p\n", "# p\n", "# q\n") is None
    assert described(meta + "# p\nold\n# other\n", "# p\nold\n", "# p\nnew\n") is None


def test_a_patched_wheel_records_the_new_bytes_of_each_replaced_member(tmp_path):
    import base64
    import zipfile

    from shipyard.runtime.checks._wheels import _patch

    src, dest = tmp_path / "p-1.0-py3-none-any.whl", tmp_path / "out.whl"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("p/__init__.py", "x = 1\n")
        zf.writestr("p/other.py", "y = 2\n")
        zf.writestr("p-1.0.dist-info/RECORD", "p/__init__.py,sha256=old,6\n"
                    "p/other.py,sha256=keep,6\np-1.0.dist-info/RECORD,,\n")
    _patch(src, dest, {"p/__init__.py": b"x = 10\n"})
    with zipfile.ZipFile(dest) as zf:
        assert zf.read("p/__init__.py") == b"x = 10\n" and zf.read("p/other.py") == b"y = 2\n"
        record = zf.read("p-1.0.dist-info/RECORD").decode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(b"x = 10\n").digest()).rstrip(b"=")
    assert f"p/__init__.py,sha256={digest.decode()},7" in record
    assert "p/other.py,sha256=keep,6" in record


def test_a_version_bump_renames_the_wheels_metadata_and_records_it(tmp_path):
    import zipfile

    from shipyard.runtime.checks._bump import version_bump
    from shipyard.runtime.checks._wheels import _patch

    poetry = '[tool.poetry]\nname = "p"\nversion = "1.0"\n[tool.poetry.dependencies]\nx = "*"\n'
    assert version_bump(poetry, poetry.replace('"1.0"', '"1.1"')) == ("1.0", "1.1")
    assert version_bump(poetry, poetry.replace('"1.0"', '"1.1"').replace('"*"', '">1"')) is None
    assert version_bump(SETUPTOOLS, SETUPTOOLS.replace("0.1.0", "0.2.0-beta")) == ("0.1.0",
                                                                                 "0.2.0b0")
    dynamic = '[project]\nname = "p"\ndynamic = ["version"]\n'
    assert version_bump(dynamic, dynamic + "\n") is None and version_bump("[x", "") is None

    src, dest = tmp_path / "p-1.0-py3-none-any.whl", tmp_path / "p-1.1-py3-none-any.whl"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("p/__init__.py", "v = '1.0'\n")
        zf.writestr("p-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: p\n"
                    "Version: 1.0\n\nVersion: 1.0 is described here\n")
        zf.writestr("p-1.0.dist-info/RECORD", "p/__init__.py,sha256=a,10\n"
                    "p-1.0.dist-info/METADATA,sha256=b,60\np-1.0.dist-info/RECORD,,\n")
    assert _patch(src, dest, {"p/__init__.py": b"v = '1.1'\n"}, ("1.0", "1.1"))
    with zipfile.ZipFile(dest) as zf:
        assert sorted(zf.namelist()) == ["p-1.1.dist-info/METADATA", "p-1.1.dist-info/RECORD",
                                         "p/__init__.py"]
        meta = zf.read("p-1.1.dist-info/METADATA").decode()
        record = zf.read("p-1.1.dist-info/RECORD").decode()
    assert "Version: 1.1\n\nVersion: 1.0 is described here" in meta   # the header alone
    assert "p-1.1.dist-info/RECORD,,\n" in record and "p-1.0" not in record
    assert "p-1.1.dist-info/METADATA,sha256=" in record and ",60" not in record
    # a wheel whose metadata names another version, or is no text, is built, not patched
    assert not _patch(src, tmp_path / "x.whl", {}, ("0.9", "1.1"))
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("p-1.0.dist-info/METADATA", b"Version: 1.0\n\xff\xfe")
        zf.writestr("p-1.0.dist-info/RECORD", "p-1.0.dist-info/RECORD,,\n")
    assert not _patch(src, tmp_path / "y.whl", {}, ("1.0", "1.1"))

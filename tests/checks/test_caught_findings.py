"""Each bad change of the issue is caught by the right check, at the right path and line."""

from __future__ import annotations

import json
import uuid

from shipyard.runtime.checks import CheckPolicy

from .conftest import finding

AWS = 'REGION = "eu-west-1"\nAWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n'

ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56) + b"\x00" * 200

PWN_WORKFLOW = """\
name: ci
on:
  pull_request_target:
    types: [opened]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: make test
"""


def test_committed_aws_key_is_caught_by_secrets_with_path_and_line(repo):
    repo.write("settings.py", AWS).commit()
    report = repo.check("secrets", policy=CheckPolicy(blocking=[]))
    f = finding(report, "secrets", "AWS")
    assert (f.path, f.line) == ("settings.py", 2)
    assert report.checks[0].blocks, "secrets block even when the policy lists no blocking checks"
    assert not report.passed


def test_secret_listed_in_the_base_baseline_is_not_new(repo):
    repo.write("settings.py", AWS).commit()
    scanned = repo.check("secrets")
    assert scanned.checks[0].status == "fail"
    # An audited baseline in the base that lists exactly this secret.
    import subprocess
    import sys
    from pathlib import Path

    ds = Path(sys.executable).parent / "detect-secrets"
    out = subprocess.run([str(ds), "scan", "--no-verify", "settings.py"], cwd=repo.path,
                         capture_output=True, text=True, check=True).stdout
    repo.git("reset", "-q", "--hard", repo.base)
    repo.write(".secrets.baseline", out)
    repo.base = repo.commit("baseline")
    repo.write("settings.py", AWS).commit()
    assert repo.check("secrets").checks[0].status == "pass"


def test_secret_already_in_the_base_is_not_reported_when_other_lines_change(repo):
    repo.write("settings.py", AWS)
    repo.base = repo.commit("base with a key")
    repo.write("settings.py", AWS + 'DEBUG = False\n').commit()
    assert repo.check("secrets").checks[0].status == "pass"


def test_a_secret_like_string_copied_from_the_base_adds_no_secret(repo):
    # HumanEval 78: shipyard's test plan quoted the docstring's hex_key("123456789ABCDEF0")
    # and the secrets check blocked the run three rounds in a row
    repo.write("hexes.py", 'def f(s):\n    """f("123456789ABCDEF0") == 6"""\n')
    repo.base = repo.commit("base with a hex example")
    repo.write("docs/plan.md", '| `f("123456789ABCDEF0")` | 6 | docstring |\n').commit()
    assert repo.check("secrets").checks[0].status == "pass"
    repo.write("docs/new.md", '| `f("9F3A7C21B84D6E05")` | 6 | docstring |\n').commit()
    f = finding(repo.check("secrets"), "secrets", "Hex")
    assert f.path == "docs/new.md"                        # a new one is still a secret


def test_a_high_entropy_run_of_letters_is_noted_but_a_key_with_digits_blocks(repo):
    # HumanEval 98: a mixed-case test input of count_upper blocked a correct change
    repo.write("tests/test_upper.py",
               "def test_mixed():\n    assert count_upper('QWERTYUIOPasdfghjklZXCVBNM') == 3\n")
    repo.commit("a string function's test data")
    result = repo.check("secrets").checks[0]
    assert result.status == "pass" and "1 letters-only or counting-up string(s) or commit id(s) noted" \
        in result.summary
    (note,) = result.findings
    assert (note.path, note.line, note.fails) == ("tests/test_upper.py", 2, False)
    assert "rotate" in note.message                     # the human still sees it
    # the same shape with digits in it is what generated keys look like: it blocks
    repo.write("tests/test_upper.py",
               "def test_mixed():\n    assert f('QWERTY7UIOPasd9fghjklZX3CVBNM') == 3\n")
    repo.commit("a key")
    assert finding(repo.check("secrets"), "secrets", "Base64").fails


def test_a_string_that_counts_up_is_noted_but_the_same_characters_shuffled_block(repo):
    # make demo (2026-12-06): the Test Engineer's slugify('1234567890abc') in the test plan
    # blocked a correct slugify as a "Hex High Entropy String"
    repo.write("docs/plan.md", "| `slugify('1234567890abc')` | `'1234567890abc'` |\n")
    repo.commit("test data")
    result = repo.check("secrets").checks[0]
    assert result.status == "pass" and "counting-up" in result.summary
    assert all(not f.fails and "counts up" in f.message for f in result.findings)
    repo.write("docs/plan.md", "| `slugify('7c0a91b3e8f42d6')` |\n")
    repo.commit("a key")
    assert finding(repo.check("secrets"), "secrets", "Hex").fails


def test_a_password_of_letters_assigned_to_a_secret_name_still_blocks(repo):
    repo.write("settings.py", 'DB_PASSWORD = "QWERTYUIOPasdfghjklZXCVBNM"\n').commit()
    result = repo.check("secrets").checks[0]
    assert result.status == "fail"
    assert any(f.rule == "secrets.Secret-Keyword" and f.fails for f in result.findings)


def test_eval_of_input_is_caught_by_sast_with_path_and_line(repo):
    repo.write("calc.py", 'def ask():\n    return eval(input("expr? "))\n').commit()
    f = finding(repo.check("sast"), "sast", "307")
    assert (f.path, f.line, f.severity) == ("calc.py", 2, "medium")


def test_shell_true_with_formatted_string_is_caught_by_sast_with_path_and_line(repo):
    repo.write("runner.py", 'import subprocess\n\n\ndef ls(d):\n'
                            '    return subprocess.run(f"ls {d}", shell=True, check=False)\n').commit()
    report = repo.check("sast")
    f = finding(report, "sast", "602")
    assert (f.path, f.line, f.severity) == ("runner.py", 5, "high")
    assert report.checks[0].status == "fail"


def test_assert_is_a_sast_finding_in_code_but_not_in_tests(repo):
    repo.write("calc.py", "def half(n):\n    assert n % 2 == 0\n    return n // 2\n")
    repo.write("tests/test_calc.py", "from calc import half\n\n\ndef test_half():\n"
                                     "    assert half(4) == 2\n").commit()
    findings = repo.check("sast").checks[0].findings
    assert {(f.path, f.line) for f in findings if f.rule.endswith("101")} == {("calc.py", 2)}


def test_sast_severity_threshold_comes_from_policy(repo):
    repo.write("calc.py", 'def ask():\n    return eval(input("expr? "))\n').commit()
    assert repo.check("sast", policy=CheckPolicy(sast_severity="high")).checks[0].status == "pass"
    assert repo.check("sast", policy=CheckPolicy(sast_severity="low")).checks[0].status == "fail"


def test_failing_test_is_caught_by_tests_with_path_and_line(repo):
    repo.write("tests/test_add.py", "from app import add\n\n\ndef test_add():\n"
                                    "    total = add(2, 2)\n    assert total == 5\n").commit()
    report = repo.check("tests")
    f = finding(report, "tests", "failure")
    assert (f.path, f.line) == ("tests/test_add.py", 6)
    assert report.checks[0].status == "fail"


def test_deleted_test_so_coverage_drops_is_caught_by_tests(repo):
    repo.remove("tests/test_sub.py").commit("drop a test")
    report = repo.check("tests")
    f = finding(report, "tests", "coverage-drop")
    assert (f.path, f.line) == ("app.py", 9)  # `return a - b` is no longer run
    assert "100.0%" in f.message and report.checks[0].status == "fail"


def test_no_tests_at_all_fails_tests(repo):
    repo.remove("tests/test_add.py").remove("tests/test_sub.py").commit()
    report = repo.check("tests", policy=CheckPolicy(coverage_max_drop=100))
    assert finding(report, "tests", "tests.none")
    assert report.checks[0].status == "fail"


def test_coverage_below_policy_minimum_fails_tests(repo):
    repo.write("app.py", (repo.path / "app.py").read_text()
               + "\n\ndef untested(x: int) -> int:\n    return x\n").commit()
    report = repo.check("tests", policy=CheckPolicy(coverage_min=95, coverage_max_drop=100))
    assert finding(report, "tests", "coverage-min")


def test_lint_reports_only_changed_files_with_path_and_line(repo):
    repo.write("legacy.py", "import os\n")
    repo.base = repo.commit("legacy lint debt")
    repo.write("new.py", "import sys\n\nx = 1\n").commit()
    report = repo.check("lint")
    f = finding(report, "lint", "F401")
    assert (f.path, f.line) == ("new.py", 1)
    assert {x.path for x in report.checks[0].findings} == {"new.py"}


def test_dependency_pinned_to_a_version_with_an_advisory_is_caught_by_deps(repo, advisory_db):
    repo.write("requirements.txt", "# runtime\nrequests-toolbelt==1.0.0\njinja2==2.10\n").commit()
    report = repo.check("deps", policy=CheckPolicy(advisories_db=str(advisory_db)))
    f = finding(report, "deps", "PYSEC-2019-217")
    assert (f.path, f.line) == ("requirements.txt", 3)
    assert "2.10.1" in f.message and report.checks[0].status == "fail"


def test_fixed_version_is_not_flagged_by_deps(repo, advisory_db):
    repo.write("requirements.txt", "jinja2==2.10.1\n").commit()
    report = repo.check("deps", policy=CheckPolicy(advisories_db=str(advisory_db)))
    assert report.checks[0].status == "pass", report.checks[0]


def test_gpl_dependency_under_mit_only_policy_is_caught_by_licenses(repo, fake_venv):
    fake_venv(repo.path, {"gplthing": ("1.0", "GPL-3.0-or-later", []),
                          "mitthing": ("2.0", "MIT", ["gplthing"])})
    repo.write("pyproject.toml", '[project]\nname = "tiny-app"\nversion = "0.1.0"\n'
                                 'dependencies = [\n    "mitthing>=2",\n]\n').commit()
    report = repo.check("licenses", policy=CheckPolicy(license_allow=["MIT"]))
    f = finding(report, "licenses", "denied")
    assert (f.path, f.line) == ("pyproject.toml", 5)
    assert "gplthing" in f.message and "via mitthing" in f.message
    assert report.checks[0].status == "fail"


def test_elf_binary_added_is_caught_by_hygiene(repo):
    repo.write("tools/helper", ELF).commit()
    f = finding(repo.check("hygiene"), "hygiene", "binary-artifact")
    assert f.path == "tools/helper"


def test_pull_request_target_with_pr_checkout_is_caught_by_hygiene(repo):
    repo.write(".github/workflows/ci.yml", PWN_WORKFLOW).commit()
    report = repo.check("hygiene")
    f = finding(report, "hygiene", "pwn-request")
    assert (f.path, f.line, f.severity) == (".github/workflows/ci.yml", 11, "critical")
    assert report.checks[0].status == "fail"


def test_event_expression_in_run_and_write_all_are_caught_by_hygiene(repo):
    repo.write(".github/workflows/t.yml", "on: issues\npermissions: write-all\njobs:\n  a:\n"
               "    runs-on: ubuntu-latest\n    steps:\n      - run: |\n"
               '          echo "${{ github.event.issue.title }}"\n'
               "      - uses: someone/action@v1\n").commit()
    report = repo.check("hygiene")
    assert finding(report, "hygiene", "script-injection").line == 8
    assert finding(report, "hygiene", "write-all").line == 2
    assert finding(report, "hygiene", "unpinned-action").line == 9


def test_new_component_is_a_finding_for_review_in_the_sbom_diff(repo):
    repo.write("requirements.txt", "packaging==24.0\n").commit()
    report = repo.check("sbom")
    f = finding(report, "sbom", "sbom.added")
    assert not f.fails  # review, not block: listed, but it does not fail the check
    assert (f.path, f.line) == ("requirements.txt", 1) and "packaging" in f.message
    assert report.checks[0].status == "pass"  # review, not block, by default
    assert len(report.checks[0].evidence) == 2
    blocked = repo.check("sbom", policy=CheckPolicy(sbom_new_components="block"))
    assert blocked.checks[0].status == "fail"


def test_an_sbom_is_generated_once_for_the_same_declarations(repo, tmp_path, monkeypatch):
    from shipyard.runtime.checks import run_checks, sbom

    unique = f"pkg-{uuid.uuid4().hex[:12]}==1.0"  # inputs no earlier check has seen
    repo.write("requirements.txt", f"packaging==24.0\n{unique}\n")
    repo.base = repo.commit("declare")
    repo.write("app.py", (repo.path / "app.py").read_text() + "\n# code only\n").commit()
    runs: list[str] = []
    real = sbom.run_proc
    monkeypatch.setattr(sbom, "run_proc", lambda argv, **kw: runs.append(argv[0]) or real(argv, **kw))

    def head_sbom(name: str) -> bytes:
        kept = tmp_path / name
        run_checks(repo.path, repo.base, "HEAD", CheckPolicy(), only=["sbom"], evidence_dir=kept)
        return (kept / "sbom" / "sbom-head.cdx.json").read_bytes()

    first = head_sbom("first")
    assert 1 <= len(runs) <= 2  # base and head share their inputs (both may miss at once)
    again = len(runs)
    assert head_sbom("second") == first and len(runs) == again  # read back, not run again
    repo.write("requirements.txt", f"packaging==24.0\n{unique}\nidna==3.7\n").commit()
    report = repo.check("sbom")
    assert len(runs) == again + 1  # new declarations: generated (the base's is kept)
    assert "idna" in finding(report, "sbom", "sbom.added").message


def test_sbom_is_valid_cyclonedx_json(repo, tmp_path):
    repo.write("requirements.txt", "packaging==24.0\n").commit()
    from shipyard.runtime.checks import run_checks
    from shipyard.runtime.checks.sbom import validate

    kept = tmp_path / "evidence"
    run_checks(repo.path, repo.base, "HEAD", CheckPolicy(), only=["sbom"], evidence_dir=kept)
    head = kept / "sbom" / "sbom-head.cdx.json"
    assert validate(head) is None
    doc = json.loads(head.read_text())
    assert doc["bomFormat"] == "CycloneDX"
    assert {c["name"] for c in doc["components"]} == {"packaging"}

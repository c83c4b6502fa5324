"""License expressions: SPDX mapping and allow/deny judgement."""

from __future__ import annotations

from license_expression import get_spdx_licensing

from shipyard.runtime.checks.licenses import _allowed, spdx_expression


def judge(expr: str, allow: set[str], deny: set[str] = frozenset()):
    return _allowed(get_spdx_licensing().parse(expr), set(allow), set(deny))


def test_a_or_b_passes_if_either_is_allowed():
    assert judge("GPL-3.0-only OR MIT", {"MIT"}, {"GPL-3.0-only"}) is True


def test_a_and_b_needs_both():
    assert judge("MIT AND GPL-3.0-only", {"MIT"}, {"GPL-3.0-only"}) == "denied"
    assert judge("MIT AND Apache-2.0", {"MIT"}) == "not-allowed"


def test_classifiers_and_free_text_map_to_spdx():
    assert spdx_expression({"License-Classifier": "MIT License"})[0] == "MIT"
    assert spdx_expression({"License-Classifier": "GNU General Public License v3 (GPLv3)"})[0] \
        == "GPL-3.0-only"
    assert spdx_expression({"License-Expression": "Apache-2.0 OR BSD-2-Clause"})[0] \
        == "Apache-2.0 OR BSD-2-Clause"
    assert spdx_expression({"License-Metadata": "Some Custom Thing"})[0] is None


def test_unknown_license_warns_or_blocks_by_policy(repo, fake_venv):
    from shipyard.runtime.checks import CheckPolicy

    fake_venv(repo.path, {"oddthing": ("1.0", "LicenseRef-Weird Thing", [])})
    repo.write("requirements.txt", "oddthing==1.0\n").commit()
    warn = repo.check("licenses")
    assert warn.checks[0].status == "pass" and warn.checks[0].findings
    block = repo.check("licenses", policy=CheckPolicy(unknown_license="block"))
    assert block.checks[0].status == "fail"

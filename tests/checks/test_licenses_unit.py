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


MIT_TEXT = """MIT License

Copyright (c) 2015 Some Author

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
"""

BSD3_TEXT = """Copyright (c) 2010, The Authors. All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:
* Redistributions of source code must retain the above copyright notice.
* Neither the name of the copyright holder nor the names of its contributors
  may be used to endorse or promote products derived from this software
  without specific prior written permission.
"""

BSD2_TEXT = BSD3_TEXT.split("* Neither")[0]

APACHE_TEXT = """
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION
"""

GPL2_NOTICE = """This program is free software; you can redistribute it and/or modify
it under the terms of the GNU General Public License as published by
the Free Software Foundation; either version 2 of the License, or
(at your option) any later version.
"""

LGPL3_TEXT = """                   GNU LESSER GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007
  This version of the GNU Lesser General Public License incorporates
the terms and conditions of version 3 of the GNU General Public License.
"""

ISC_TEXT = """ISC License

Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.
"""

MPL_TEXT = """Mozilla Public License Version 2.0
==================================
1. Definitions
--------------
"""

PSF_TEXT = """PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2
--------------------------------------------
1. This LICENSE AGREEMENT is between the Python Software Foundation ("PSF"), and
the Individual or Organization ("Licensee") accessing and otherwise using this
software ("Python") in source or binary form and its associated documentation.
"""


def test_full_license_texts_are_identified_by_content():
    cases = {MIT_TEXT: "MIT", BSD3_TEXT: "BSD-3-Clause", BSD2_TEXT: "BSD-2-Clause",
             APACHE_TEXT: "Apache-2.0", GPL2_NOTICE: "GPL-2.0-or-later",
             LGPL3_TEXT: "LGPL-3.0-only", ISC_TEXT: "ISC", MPL_TEXT: "MPL-2.0",
             PSF_TEXT: "PSF-2.0"}
    for text, spdx in cases.items():
        assert spdx_expression({"License": text}) == (spdx, text), spdx


def test_two_license_texts_in_one_field_need_both():
    assert spdx_expression({"License": MIT_TEXT + "\n\n" + BSD3_TEXT})[0] == "MIT AND BSD-3-Clause"


def test_pep639_expression_wins_over_the_text_and_unknown_is_skipped():
    info = {"License-Expression": "MIT OR Apache-2.0", "License": "UNKNOWN",
            "License-Classifier": "UNKNOWN"}
    assert spdx_expression(info)[0] == "MIT OR Apache-2.0"
    assert spdx_expression({"License": "UNKNOWN", "License-Classifier": "UNKNOWN"}) \
        == (None, "UNKNOWN")


def test_multi_license_strings_and_classifier_lists_mean_a_choice():
    assert spdx_expression({"License-Metadata": "MIT/Apache-2.0"})[0] == "MIT OR Apache-2.0"
    assert spdx_expression({"License-Metadata": "Apache 2.0 or MIT"})[0] == "Apache-2.0 OR MIT"
    assert spdx_expression({"License-Classifier": "MIT License; BSD License"})[0] \
        == "MIT OR BSD-3-Clause"
    assert spdx_expression({"License-Metadata": "Dual License"})[0] is None
    assert spdx_expression({"License-Metadata": "GPL-2.0-or-later; MIT"})[0] \
        == "GPL-2.0-or-later OR MIT"


def test_inputs_that_crash_license_expression_are_unknown_not_a_crash():
    # Each of these has raised inside license-expression (AttributeError from its own
    # ExpressionError path, or a parse error); none may escape.
    odd = ["(", "MIT AND (", "MIT WITH", "and or", "LicenseRef-", "MIT)(", "\x00",
           "Copyright (c) 2020\nAll rights reserved.\n\nNo license granted.\n" * 3]
    for raw in odd:
        expr, _ = spdx_expression({"License": raw})
        assert expr is None or isinstance(expr, str)


def _package(venv, name: str, version: str, headers: str) -> None:
    site = next(venv.glob("lib/python*/site-packages"))
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                   f"{headers}")


def test_a_package_whose_license_field_is_its_full_text_is_identified(repo, fake_venv):
    venv = fake_venv(repo.path, {})
    folded = "\n        ".join(MIT_TEXT.splitlines())  # multi-line core-metadata field
    _package(venv, "textlicensed", "1.0", f"License: {folded}\n")
    repo.write("requirements.txt", "textlicensed==1.0\n").commit()
    result = repo.check("licenses").checks[0]
    assert result.status == "pass", result
    assert result.findings == (), result.findings


def test_an_exception_while_judging_one_package_is_a_finding_naming_it(repo, fake_venv,
                                                                        monkeypatch):
    from shipyard.runtime.checks import CheckPolicy, licenses

    fake_venv(repo.path, {"fine": ("1.0", "MIT", []), "weird": ("2.0", "MIT", [])})
    repo.write("requirements.txt", "fine==1.0\nweird==2.0\n").commit()
    real = licenses.spdx_expression

    def explode(info):
        if info.get("Name") == "weird":
            raise AttributeError("'ExpressionError' object has no attribute 'token_string'")
        return real(info)
    monkeypatch.setattr(licenses, "spdx_expression", explode)
    warn = repo.check("licenses").checks[0]
    assert warn.status == "pass"
    [f] = warn.findings
    assert f.rule == "licenses.unreadable" and "weird" in f.message and "License" in f.message
    assert f.path == "requirements.txt" and f.line == 2
    block = repo.check("licenses", policy=CheckPolicy(unknown_license="block")).checks[0]
    assert block.status == "fail" and block.findings[0].rule == "licenses.unreadable"


def test_real_metadata_that_crashed_license_expression_is_identified():
    # License fields of packages in shipyard's own environment on which
    # license-expression raised AttributeError (sqlite-vec, distro, sqlite-fts4).
    assert spdx_expression({"License": "MIT License, Apache License, Version 2.0"})[0] \
        == "MIT OR Apache-2.0"
    assert spdx_expression({"License": "Apache License, Version 2.0"})[0] == "Apache-2.0"

"""The adversarial suite: each test is an attack on a gate; it must fail, and say why.

Later changes must keep this suite green (issue 8). Fixture repositories come
from the checks suite: a small app with tests, committed as the base.
"""

from checks.conftest import APP, FixtureRepo, finding, repo  # noqa: F401 — re-exported fixtures

AWS = 'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n'

"""What model-written code returned, as built-in data, before anyone compares it.

An acceptance case asks `f(x) == expected`, and `==` is the returned object's own method:
a class of the code's own whose `__eq__` answers True for anything (the "always equal"
object reward-hacking agents are known to return) passes every case, in the G5 probe
and in the pytest file G3 writes alike. So the value is first read with the built-in
types' own methods (`int.__add__(v, 0)`, `list.__iter__(v)`, `dict.items(v)`: a subclass
cannot override what those read), giving plain data whose `==` nobody wrote. An object
that is not built-in data is converted only where it is a real number (numpy's int64, a
Decimal) and the expected value a number: `float(v)` must produce the value itself, which
is what the case asks for, so it can be trusted. Anything else — a generator where a list
is expected, an object of the code's own — is not the expected data, as `==` would say.

`_as_data` is written in the source both places run: the probe's runner and the acceptance
test file get its text (`PLAIN_SOURCE`), standard library only.
"""

from __future__ import annotations

import inspect

__all__ = ["PLAIN_SOURCE", "as_data"]


def _as_data(value: object, like: object = None) -> object:
    """`value` as built-in data; `like` (the expected value) says what to convert to."""
    if value is None or isinstance(value, bool):
        return value
    for kind, zero in ((int, 0), (float, 0.0), (complex, 0j)):
        if isinstance(value, kind):
            return kind.__add__(value, zero)
    for kind, empty in ((str, ""), (bytes, b"")):
        if isinstance(value, kind):
            return kind.__add__(empty, value)
    if isinstance(value, dict):
        return {_as_data(k): _as_data(v) for k, v in dict.items(value)}
    for kind in (list, tuple, frozenset, set):
        if isinstance(value, kind):
            items = [_as_data(v, w) for v, w in _paired(kind.__iter__(value), like)]
            return frozenset(items) if kind in (set, frozenset) else kind(items)
    import numbers

    if isinstance(like, (int, float)) and not isinstance(like, bool) \
            and isinstance(value, numbers.Number):
        return float(value)
    # the message in a variable first: a repository linting with flake8-errmsg (EM102)
    # otherwise blocks the acceptance test file this source is written into
    msg = f"returned a {type(value).__name__}, not built-in data"
    raise TypeError(msg)


def _paired(items: object, like: object) -> list:
    """Each item with the expected item at its place, where `like` is a sequence."""
    likes = list(like) if isinstance(like, (list, tuple)) else []
    return [(v, likes[i] if i < len(likes) else None) for i, v in enumerate(items)]


PLAIN_SOURCE: str = inspect.getsource(_as_data) + "\n\n" + inspect.getsource(_paired)

# the generated files call it by this name: a leading underscore keeps it clear of the
# functions a test file imports from the code under test
as_data = _as_data

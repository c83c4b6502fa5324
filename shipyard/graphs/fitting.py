"""Whether a proposed case's call is one the function could take (G3, issue 7).

A 0.5B Test Engineer writes calls no implementation could answer: too few arguments
(`circular_shift(12)` for `circular_shift(x, shift)`, HumanEval 65), an unquoted tuple
that calls a literal (HumanEval 1), a string where every documented example passes a
number (`is_multiply_prime(',30')`, HumanEval 75). Every candidate raises on such a call,
and that agreement once counted as a second opinion; G3 drops them instead, recorded.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any

from .context import is_test

__all__ = ["argument_kinds", "fits", "functions", "like_documented", "odd_ones", "parameters",
           "signatures"]


def signatures(files: dict[str, str], names: set[str]) -> dict[str, inspect.Signature]:
    """The signatures of `names` as the files define them (defaults not evaluated, and
    annotations kept as their source text: `_accepts` reads the plain builtin ones)."""
    return {name: _signature(args) for name, args in parameters(files, names).items()}


def parameters(files: dict[str, str], names: set[str]) -> dict[str, ast.arguments]:
    """The parameters of `names` where a non-test file defines them at top level."""
    out: dict[str, ast.arguments] = {}
    for path, text in files.items():
        if path.endswith(".py") and not is_test(path):
            for node in functions(text):
                if node.name in names:
                    out.setdefault(node.name, node.args)
    return out


def _signature(a: ast.arguments) -> inspect.Signature:
    P = inspect.Parameter
    positional = [*a.posonlyargs, *a.args]
    first_default = len(positional) - len(a.defaults)
    params = [P(arg.arg, P.POSITIONAL_ONLY if i < len(a.posonlyargs) else
                P.POSITIONAL_OR_KEYWORD, default=None if i >= first_default else P.empty,
                annotation=ast.unparse(arg.annotation) if arg.annotation else P.empty)
              for i, arg in enumerate(positional)]
    if a.vararg:
        params.append(P(a.vararg.arg, P.VAR_POSITIONAL))
    params += [P(arg.arg, P.KEYWORD_ONLY, default=P.empty if d is None else None)
               for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)]
    if a.kwarg:
        params.append(P(a.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)


def fits(call: str, signatures: dict[str, inspect.Signature]) -> bool:
    """Whether `call` passes arguments its function accepts; True when code cannot tell
    (an unknown function, `*args` or `**kwargs` in the call)."""
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except SyntaxError:
        return True
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in signatures):
        return True
    if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords):
        return True
    sig = signatures[node.func.id]
    try:
        bound = sig.bind(*node.args, **{k.arg: k.value for k in node.keywords if k.arg})
    except TypeError:
        return False
    return all(_accepts(sig.parameters[name].annotation, arg)
               for name, arg in bound.arguments.items())


# An annotation's builtin type, for the plain forms a docstring's signature uses. Anything
# else (Optional, unions, user classes, no annotation) says nothing here.
_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
          "list": (list,), "List": (list,), "tuple": (tuple,), "Tuple": (tuple,),
          "dict": (dict,), "Dict": (dict,), "set": (set,), "Set": (set,)}


def _accepts(annotation: object, arg: ast.expr) -> bool:
    """False for an argument no implementation could take: a call of a literal (HumanEval
    1's Test Engineer wrote `separate_paren_groups(( ) (( )))`, unquoted: it calls a
    tuple), or a literal of another type than a plain annotation names (`()` for a `str`).
    Every candidate raises on such a case, and that agreement must not count."""
    if any(isinstance(x, ast.Call) and isinstance(x.func, ast.Constant | ast.Tuple | ast.List
                                                  | ast.Dict | ast.Set) for x in ast.walk(arg)):
        return False  # `( ) (( )) (( ))` is `()(())(())`: a call of a call of a tuple
    wanted = _TYPES.get(str(annotation).split("[", 1)[0]) if isinstance(annotation, str) else None
    if wanted is None:
        return True
    try:
        value = ast.literal_eval(arg)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return True  # an expression code cannot read: the candidates decide
    return isinstance(value, wanted)


def functions(text: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The top-level functions of a Python file; none when it does not parse."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    return [node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def argument_kinds(calls: list[str]) -> dict[str, dict[int, set[str]]]:
    """Per function, the kinds of value (`_kind`) each positional argument of `calls`
    passes: what the documented examples show the function takes."""
    out: dict[str, dict[int, set[str]]] = {}
    for call in calls:
        node = _call(call)
        if node is not None:
            for i, arg in enumerate(node.args):
                out.setdefault(node.func.id, {}).setdefault(i, set()).add(_kind(arg))
    return out


def like_documented(call: str, kinds: dict[str, dict[int, set[str]]]) -> bool:
    """False when an argument of `call` is of another kind than every documented example
    passes at its place (a string where they pass numbers); True when code cannot tell
    (no example, an expression, None)."""
    node = _call(call)
    if node is None:
        return True
    known = kinds.get(node.func.id, {})
    for i, arg in enumerate(node.args):
        seen, kind = known.get(i, set()), _kind(arg)
        if seen and "?" not in seen and kind != "?" and kind not in seen:
            return False
    return True


def odd_ones(calls: list[str]) -> set[str]:
    """Without a documented example, the calls passing an argument of another kind than
    three or more of the other calls all pass at its place: `is_even('4')` among
    `is_even(4)`, `is_even(5)`, `is_even(0)` for "True when the integer n is even"
    (features benchmark, 2026-12-07). Every sample raised TypeError on it, the Test
    Engineer upheld it when asked again, and it blocked every right candidate. Dropping
    such a case loses one case; keeping it can block the change for good."""
    out = set()
    for i, call in enumerate(calls):
        others = calls[:i] + calls[i + 1:]
        if len(others) >= 3 and not like_documented(call, argument_kinds(others)):
            out.add(call)
    return out


def _call(call: str) -> ast.Call | None:
    try:
        node = ast.parse(call.strip(), mode="eval").body
    except SyntaxError:
        return None
    return node if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None


def _kind(arg: ast.expr) -> str:
    """A value's kind as docs vary it: numbers (1 or 1.5), strings, sequences (list or
    tuple), booleans; "?" for None or anything that is no literal."""
    try:
        value: Any = ast.literal_eval(arg)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return "?"
    if value is None:
        return "?"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "sequence" if isinstance(value, list | tuple) else type(value).__name__

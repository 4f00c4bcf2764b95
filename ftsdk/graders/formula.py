"""A multi grader's ``calculate_output``, read and computed without ``eval``.

The formula is parsed by Python's :mod:`ast` and only a whitelist of node types is
evaluated: numbers, the sub-graders' names, ``+ - * /``, ``^`` (power, as the service reads
it; ``**`` too), unary ``+``/``-``, parentheses, and the functions the service lists:
``min``, ``max``, ``abs``, ``floor``, ``ceil``, ``exp``, ``sqrt``, ``log``. Anything else
(attributes, subscripts, calls of other names, lambdas, comparisons...) is refused before
anything is computed.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Final

__all__ = ["FUNCTIONS", "Formula", "FormulaError"]

FUNCTIONS: Final[dict[str, Callable[..., float]]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "floor": lambda x: float(math.floor(x)),
    "ceil": lambda x: float(math.ceil(x)),
    "exp": math.exp,
    "sqrt": math.sqrt,
    "log": math.log,
}
"""The functions a formula may call."""

_ONE_ARGUMENT: Final = frozenset({"abs", "floor", "ceil", "exp", "sqrt"})
_BINARY: Final[dict[type[ast.operator], Callable[[float, float], float]]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY: Final[dict[type[ast.unaryop], Callable[[float], float]]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_MAX_LENGTH: Final = 2000


class FormulaError(ValueError):
    """A formula that cannot be read, or that names something it may not."""


class Formula:
    """A parsed ``calculate_output``.

    >>> Formula("(name + date) / 2").evaluate({"name": 1.0, "date": 0.5})
    0.75
    >>> Formula("0.3 * sqrt(a) + 0.7 * b ^ 2").evaluate({"a": 0.25, "b": 1.0})
    0.85
    >>> try:
    ...     Formula("__import__('os')")
    ... except FormulaError as error:
    ...     print(str(error)[:56])
    calculate_output: unknown function '__import__' (the fun
    """

    def __init__(self, text: str) -> None:
        if len(text) > _MAX_LENGTH:
            raise FormulaError(f"calculate_output: longer than {_MAX_LENGTH} characters")
        try:
            # The service's ^ is a power, binding tighter than * as a power should; Python's
            # ^ is an exclusive or that binds looser than +, so it is read as ** instead.
            tree = ast.parse(text.strip().replace("^", "**"), mode="eval")
        except SyntaxError as err:
            raise FormulaError(f"calculate_output: cannot read {text!r}: {err.msg}") from None
        self.text = text
        self._tree = tree.body
        self.names: frozenset[str] = frozenset(self._check(self._tree))

    def _check(self, node: ast.expr) -> set[str]:
        """The variable names ``node`` uses; :class:`FormulaError` for anything not allowed."""
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise FormulaError(f"calculate_output: {node.value!r} is not a number")
            return set()
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise FormulaError(f"calculate_output: {node.id} is a function: {node.id}(...)")
            return {node.id}
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return self._check(node.left) | self._check(node.right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return self._check(node.operand)
        if isinstance(node, ast.Call):
            return self._check_call(node)
        shown = ast.unparse(node)
        raise FormulaError(
            f"calculate_output: {shown!r} is not allowed (numbers, grader names, + - * / ^, "
            "parentheses and the functions only)"
        )

    def _check_call(self, node: ast.Call) -> set[str]:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            called = ast.unparse(node.func)
            raise FormulaError(
                f"calculate_output: unknown function {called!r} "
                f"(the functions are {', '.join(sorted(FUNCTIONS))})"
            )
        name, count = node.func.id, len(node.args)
        if node.keywords or (name in _ONE_ARGUMENT and count != 1) or count == 0:
            raise FormulaError(
                f"calculate_output: {name}() takes positional arguments only, "
                f"{'one' if name in _ONE_ARGUMENT else 'one or more'}"
            )
        if name == "log" and count > 2:
            raise FormulaError("calculate_output: log(x) or log(x, base)")
        return set().union(*(self._check(arg) for arg in node.args))

    def evaluate(self, values: Mapping[str, float]) -> float:
        """The formula's value with the sub-graders' scores; :class:`ArithmeticError` or
        :class:`ValueError` when the arithmetic fails (a division by zero, ``sqrt(-1)``)."""
        missing = sorted(self.names - set(values))
        if missing:
            raise FormulaError(
                f"calculate_output names {', '.join(missing)}, which no grader in 'graders' is "
                f"(the graders are {', '.join(sorted(values)) or 'none'})"
            )
        return float(self._evaluate(self._tree, values))

    def _evaluate(self, node: ast.expr, values: Mapping[str, float]) -> float:
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)  # checked when parsed
            return float(node.value)
        if isinstance(node, ast.Name):
            return float(values[node.id])
        if isinstance(node, ast.BinOp):
            left, right = self._evaluate(node.left, values), self._evaluate(node.right, values)
            result = _BINARY[type(node.op)](left, right)
            if isinstance(result, complex):  # (-8) ^ 0.5
                raise ValueError(f"{ast.unparse(node)} has no real value")
            return result
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._evaluate(node.operand, values))
        assert isinstance(node, ast.Call)  # checked when parsed
        assert isinstance(node.func, ast.Name)
        return float(FUNCTIONS[node.func.id](*(self._evaluate(a, values) for a in node.args)))

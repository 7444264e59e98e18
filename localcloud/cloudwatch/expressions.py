"""Metric math for alarms, period by period: `+ - * /`, numbers, query ids, and the functions
FILL(series, value), SUM/AVG/MIN/MAX(a, b, ...) and ABS(x).

An alarm on an expression (its Metrics list) evaluates the one query with ReturnData true; the
other queries are its inputs. A period where an input has no value has no value, unless FILL
supplies one (as in CloudWatch, where a missing datapoint propagates through arithmetic).
Anything else in an expression is refused when the alarm is loaded, with the reason logged.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping, Sequence

Series = list[float | None]

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {
    "SUM": sum,
    "AVG": lambda values: sum(values) / len(values),
    "MIN": min,
    "MAX": max,
}


class UnsupportedExpression(ValueError):
    """An expression localcloud does not evaluate."""


def parse(expression: str) -> ast.expr:
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError as error:
        raise UnsupportedExpression(f"not an expression: {expression}") from error
    _check(tree)
    return tree


def _check(node: ast.expr) -> None:
    match node:
        case ast.Constant(value=value) if isinstance(value, int | float):
            return
        case ast.Name():
            return
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
            _check(left)
            _check(right)
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            _check(operand)
        case ast.Call(func=ast.Name(id=name), args=args) if name in {*_AGGREGATES, "FILL", "ABS"}:
            for arg in args:
                _check(arg)
        case _:
            raise UnsupportedExpression(f"unsupported metric math: {ast.unparse(node)}")


def references(tree: ast.expr) -> set[str]:
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} - {
        *_AGGREGATES,
        "FILL",
        "ABS",
    }


def evaluate(tree: ast.expr, inputs: Mapping[str, Series], length: int) -> Series:
    """The expression's value in each of `length` periods."""
    return [_at(tree, inputs, index) for index in range(length)]


def _at(node: ast.expr, inputs: Mapping[str, Series], index: int) -> float | None:
    match node:
        case ast.Constant(value=int() | float() as number):
            return float(number)
        case ast.Name(id=name):
            if name not in inputs:
                raise UnsupportedExpression(f"unknown query id {name}")
            return inputs[name][index]
        case ast.BinOp(left=left, op=op, right=right):
            a, b = _at(left, inputs, index), _at(right, inputs, index)
            if a is None or b is None or (isinstance(op, ast.Div) and b == 0):
                return None
            return _BINARY[type(op)](a, b)
        case ast.UnaryOp(operand=operand):
            value = _at(operand, inputs, index)
            return None if value is None else -value
        case ast.Call(func=ast.Name(id="FILL"), args=[series, fill]):
            value = _at(series, inputs, index)
            return value if value is not None else _at(fill, inputs, index)
        case ast.Call(func=ast.Name(id="ABS"), args=[arg]):
            value = _at(arg, inputs, index)
            return None if value is None else abs(value)
        case ast.Call(func=ast.Name(id=name), args=args) if name in _AGGREGATES:
            values = [v for v in (_at(arg, inputs, index) for arg in args) if v is not None]
            return _AGGREGATES[name](values) if values else None
    raise UnsupportedExpression(f"unsupported metric math: {ast.unparse(node)}")

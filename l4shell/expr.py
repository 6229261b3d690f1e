"""Conditions over an event: ``until EXPR``, ``break … if EXPR``.

An expression is Python syntax restricted to comparisons, ``and``/``or``/``not``, names and
literals; names are the event's fields (``seq``, ``time``, ``core``, ``kind``, ``task``,
``thread``) and its data (``name``, ``address``, ``label``…). A name the event lacks is
None, so ``name == "write"`` is simply false for events without a name.
"""

from __future__ import annotations

import ast
import operator

_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
            ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


class ExprError(ValueError):
    pass


def compile_expr(text: str):
    """Parse ``text`` once; returns a function event -> bool."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as error:
        raise ExprError(f"bad expression {text!r}: {error.msg}") from None
    _check(tree)
    return lambda event: bool(_eval(tree, _names(event)))


def _names(event) -> dict:
    names = {"seq": event.seq, "time": event.time, "core": event.core, "kind": event.kind,
             "task": event.task, "thread": event.thread}
    names.update(event.data)
    return names


def _check(node) -> None:
    allowed = (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Tuple,
               ast.List, ast.And, ast.Or, ast.Not, ast.Load, *_COMPARE)
    for child in ast.walk(node):
        if not isinstance(child, allowed):
            raise ExprError(f"not allowed in a condition: {type(child).__name__}")


def _eval(node, names):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, (ast.Tuple, ast.List)):
        return [_eval(e, names) for e in node.elts]
    if isinstance(node, ast.UnaryOp):
        return not _eval(node.operand, names)
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, names) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    left = _eval(node.left, names)
    for op, right_node in zip(node.ops, node.comparators):
        right = _eval(right_node, names)
        try:
            if not _COMPARE[type(op)](left, right):
                return False
        except TypeError:
            return False
        left = right
    return True

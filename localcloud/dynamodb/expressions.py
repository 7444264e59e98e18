"""DynamoDB expressions parsed once per text, and moto's AST walks without its per-node costs.

A conditional write is most of what the shop asks of DynamoDB (Powertools' idempotency record,
the outbox, the saga's steps), and in the 200-order burst of issue 8 PutItem, UpdateItem and
TransactWriteItems were a quarter of localcloud's CPU: an UpdateItem cost 4.7 ms of the
endpoint's CPU, a GetItem 1.1. moto handles each such request by

- tokenizing and parsing its UpdateExpression twice (once in the response handler to find
  the names and values it uses, once in the backend), 0.7 ms a time;
- lexing its ConditionExpression twice, a list of regular expressions tried at each
  position of the text, 0.45 ms a time;
- walking the UpdateExpression's AST once per validation step (ten of them), asking at every
  node `isinstance` against abstract base classes and rebuilding the step's
  `{node class: handler}` map and its tuple of keys.

The texts are the same few for every request (the values change, the expressions do not), so
`install()` keeps what depends on the text alone:

- `UpdateExpressionParser.make(text)`: the parsed AST, per text (an LRU). moto only reads
  that AST (`find_clauses`) or deep-copies it before a validator rewrites it
  (`Validator.__init__`), so the same tree can serve every request.
- next to each kept AST, a pickle of it: the copy `Validator.__init__` makes before its
  processors rewrite the tree (one per UpdateItem, two when the item is new, one per Update
  of a transaction) is `pickle.loads` of that snapshot instead of `copy.deepcopy` of the
  tree: 17-21 µs instead of 82-95 for the shop's expressions (a node's instance dict, its
  children list and its parent link rebuilt in C instead of deepcopy's memo walk in
  Python). Both rebuild the same graph: moto's AST nodes define no `__deepcopy__`,
  `__reduce__` or `__getstate__`, so deepcopy and pickle both copy each node's `__dict__`
  by `object.__reduce_ex__`, and the shared parent links come back shared (both memoize).
  That is also checked once per text: a snapshot is kept only when the graph it loads is
  the one `copy.deepcopy` makes (same classes, attributes, values and shared objects, see
  `_graph`); otherwise that text is deep-copied as before. Any other deepcopy in moto's
  validators (list_append's operand) is still `copy.deepcopy`. Server-side CPU per request
  (the endpoint's WSGI app in process, A/B alternating 6x600): an UpdateItem of an
  existing item 1.225 -> 1.144 ms median, a TransactWriteItems of two Updates and a Put
  2.74 -> 2.47 ms.
- `ConditionExpressionParser._lex_condition_expression`: the tokens, per text. They are
  immutable named tuples, which the parser's later passes read and wrap but never change;
  names and values are looked up after lexing (`_parse_paths`), so they are not part of it.
- `ConditionExpressionParser.parse`: a thread's last parse, for the same text with the very
  same ExpressionAttributeNames and ExpressionAttributeValues objects. moto's response
  handler parses a request's condition to check the names it uses, then hands the same text
  and the same two dicts to the backend, which parses it again to evaluate it; the second
  now gets the first's tree (moto's condition trees are only evaluated, never changed).
- `ConditionExpressionParser.parse` again: the tree of a text with names and values equal to
  an earlier request's (compared as canonical JSON; values holding anything JSON cannot write
  exactly, bytes or a Decimal, are not kept). The tree is a function of those three alone:
  the parser reads the names and values by key while parsing (an AttributeValue operand keeps
  the value's type and member, which evaluation only reads), and what it found (the names
  and values used, for moto's unused-name check) is kept with it. A condition without values
  (`attribute_not_exists(pk)`) or with the same ones (a transaction's `available >= :q`) is
  parsed once for all requests; one whose values change (Powertools' `:now`) parses anew.
  Only successful parses are kept: a bad condition raises every time. At most 1,024 kept.
  Server-side A/B against the per-request parse (alternating, 6x600 unless said):
  TransactWriteItems (two conditional Updates, a conditional Put) 2.20 -> 1.76 ms median;
  conditional order PutItem 0.881 -> 0.852 (12x600, within the host's noise); the order mix
  1.056 -> 1.020 ms per request.

and walks the AST in `DepthFirstTraverser.traverse` as moto's `traverse_node_recursively`
does (children first, `pre_processing_of_child` before each child, a processed node put back
in its parent's place) with the step's handler map built once per walk and each node class's
handler (the first map key it is a subclass of, in map order, as `process` picks it) looked
up once per class and map (the maps' keys are class literals, the same for every instance of
a step), and `pre_processing_of_child` not called for the nine steps that keep moto's no-op
(only ExpressionAttributeResolvingProcessor defines one). `Node.find_clauses`
(ActionCountValidator asks it three times at every UpdateExpression node; the handler, for
the names used) asks once per child class whether it is an Expression or an
UpdateExpressionFunction, abstract base classes whose
isinstance is slow, and otherwise collects the same nodes in the same order. Server-side CPU
per request (in-process endpoint app, A/B alternating against the per-walk handler lookup
and moto's find_clauses): UpdateItem 1.074 -> 0.912 ms median (8x600), TransactWriteItems of
two Updates and a Put 2.53 -> 2.03 ms (6x600).
Invalid expressions are not kept: they raise on every request as before.
tests/localcloud/test_dynamodb_expressions.py runs the same writes, good and bad, with and
without these changes and compares every answer and every item.
"""

from __future__ import annotations

import copy
import importlib
import json
import pickle
import threading
import weakref
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_install_lock = threading.Lock()
_installed = False
_EXPRESSIONS_KEPT = 512  # distinct texts: the template's functions use a few dozen

# moto's own, kept for comparison and for the cache misses
moto_make: Any = None
moto_lex: Any = None
moto_traverse: Any = None
moto_parse: Any = None
moto_deepcopy: Any = None  # what moto's validators module calls deepcopy
moto_find_clauses: Any = None
# kept AST -> a pickle of it, loaded for each copy a validator makes
_snapshots: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()
_last_parse = threading.local()  # (text, names, values, tree, names found, values found)
_PARSES_KEPT = 1024  # condition parses kept by (text, names, values); all dropped when full
_parses: dict[tuple[str, str], tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}


def install() -> None:
    global _installed, moto_make, moto_lex, moto_traverse, moto_parse, moto_deepcopy  # noqa: PLW0603
    global moto_find_clauses, _moto_pre_processing  # noqa: PLW0603
    from moto.dynamodb.comparisons import ConditionExpressionParser

    # moto's parsing modules start with "# type: ignore": mypy sees nothing in them
    ast_nodes: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
    update_parsing: Any = importlib.import_module("moto.dynamodb.parsing.expressions")
    validators: Any = importlib.import_module("moto.dynamodb.parsing.validators")
    DepthFirstTraverser = ast_nodes.DepthFirstTraverser
    UpdateExpressionParser = update_parsing.UpdateExpressionParser

    with _install_lock:
        if _installed:
            return
        moto_make = UpdateExpressionParser.make.__func__
        moto_lex = ConditionExpressionParser._lex_condition_expression
        moto_traverse = DepthFirstTraverser.traverse
        moto_parse = ConditionExpressionParser.parse
        moto_deepcopy = validators.deepcopy
        moto_find_clauses = ast_nodes.Node.find_clauses
        _moto_pre_processing = DepthFirstTraverser.pre_processing_of_child

        @lru_cache(maxsize=_EXPRESSIONS_KEPT)
        def parsed(expression: str) -> Any:
            tree = moto_make(UpdateExpressionParser, expression)
            snapshot = faithful_snapshot(tree)
            if snapshot is not None:
                _snapshots[tree] = snapshot
            return tree

        def make(cls: Any, expression: str) -> Any:
            return parsed(expression)

        @lru_cache(maxsize=_EXPRESSIONS_KEPT)
        def lexed(expression: str) -> tuple[Any, ...]:
            return tuple(moto_lex(ConditionExpressionParser(expression, None, None)))

        def lex(self: ConditionExpressionParser) -> deque[Any]:
            return deque(lexed(self.condition_expression))

        UpdateExpressionParser.make = classmethod(make)
        ConditionExpressionParser._lex_condition_expression = lex  # type: ignore[method-assign]
        ConditionExpressionParser.parse = parse  # type: ignore[method-assign]
        DepthFirstTraverser.traverse = traverse
        validators.deepcopy = copy_of
        ast_nodes.Node.find_clauses = find_clauses
        _installed = True


def copy_of(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """moto's validators' `deepcopy`: a kept AST's copy loaded from its snapshot."""
    if memo is None and _is_node(value):
        snapshot = _snapshots.get(value)
        if snapshot is not None:
            return pickle.loads(snapshot)  # our own pickle of a parsed AST
    return copy.deepcopy(value, memo)


def faithful_snapshot(tree: Any) -> bytes | None:
    """A pickle of `tree` that loads as the graph `copy.deepcopy` makes of it, or None."""
    try:
        snapshot = pickle.dumps(tree, pickle.HIGHEST_PROTOCOL)
        loaded = pickle.loads(snapshot)  # made just above
        same = _graph(loaded) == _graph(copy.deepcopy(tree))
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError, _NotPlain):
        return None
    return snapshot if same else None


class _NotPlain(Exception):
    """A value `_graph` does not describe (no `__dict__`, not a plain builtin)."""


_PLAIN = (str, int, float, bool, type(None), bytes)


def _graph(value: Any, seen: dict[int, int] | None = None) -> Any:
    """An object graph as nested tuples: each object's class and contents, in visit order; an
    object met again is ("again", its visit number). Two graphs with equal descriptions have
    the same shape, the same sharing and the same values."""
    seen = {} if seen is None else seen
    if type(value) in _PLAIN:
        return value
    if id(value) in seen:
        return ("again", seen[id(value)])
    seen[id(value)] = len(seen)
    if type(value) in (list, tuple):
        return (type(value).__name__, tuple(_graph(each, seen) for each in value))
    if type(value) is dict:
        return ("dict", tuple((_graph(k, seen), _graph(v, seen)) for k, v in value.items()))
    if not hasattr(value, "__dict__") or hasattr(type(value), "__slots__"):
        raise _NotPlain(type(value).__qualname__)
    cls = type(value)
    return (cls.__module__, cls.__qualname__, _graph(vars(value), seen))


def parse(self: Any) -> Any:
    """moto's `ConditionExpressionParser.parse`, answered from this thread's last parse when
    it was of the same text with the same names and values objects, or from a kept parse of
    the same text with equal names and values (see the docstring)."""
    text = self.condition_expression
    names, values = self.expression_attribute_names, self.expression_attribute_values
    last = getattr(_last_parse, "value", None)
    if last is not None and last[0] == text and last[1] is names and last[2] is values:
        tree, names_found, values_found = last[3:]
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return tree
    if not text:
        return moto_parse(self)
    key = _parse_key(text, names, values)
    kept = _parses.get(key) if key is not None else None
    if kept is not None:
        tree, names_found, values_found = kept
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
    else:
        names_before = len(self.expr_attr_names_found)
        values_before = len(self.expr_attr_values_found)
        tree = moto_parse(self)
        names_found = tuple(self.expr_attr_names_found[names_before:])
        values_found = tuple(self.expr_attr_values_found[values_before:])
        if key is not None:
            if len(_parses) >= _PARSES_KEPT:
                _parses.clear()
            _parses[key] = (tree, names_found, values_found)
    _last_parse.value = (text, names, values, tree, names_found, values_found)
    return tree


def _parse_key(text: str, names: Any, values: Any) -> tuple[str, str] | None:
    """The text with its names and values as canonical JSON (equal mappings, equal key), or
    None when they hold something JSON cannot write exactly (bytes, Decimal): not kept."""
    try:
        return text, json.dumps([names, values], sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None


# a processing map's keys -> {node class: the first key it is a subclass of, or None}
_handler_keys: dict[tuple[type, ...], dict[type, type | None]] = {}
_moto_pre_processing: Any = None  # DepthFirstTraverser.pre_processing_of_child: a no-op


def traverse(self: Any, node: Any) -> Any:
    """moto's `DepthFirstTraverser.traverse`, each class's handler looked up once (per map),
    and `pre_processing_of_child` called only where a processor defines one."""
    processing_map = self._processing_map()
    keys = tuple(processing_map)
    per_class = _handler_keys.get(keys)
    if per_class is None:
        per_class = _handler_keys.setdefault(keys, {})
    pre = self.pre_processing_of_child
    if getattr(pre, "__func__", None) is _moto_pre_processing:
        pre = None  # moto's hook, which does nothing
    return _walk(node, -1, processing_map, per_class, pre)


_node_classes: dict[type, bool] = {}  # class -> is it moto's AST Node (an ABC: slow isinstance)


def _is_node(value: Any) -> bool:
    cls = type(value)
    try:
        return _node_classes[cls]
    except KeyError:
        node: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes").Node
        answer = _node_classes[cls] = isinstance(value, node)
        return answer


def _walk(
    node: Any,
    child_id: int,
    processing_map: dict[type, Callable[[Any], Any]],
    per_class: dict[type, type | None],
    pre: Callable[[Any, int], None] | None,
) -> Any:
    cls = type(node)
    is_node = _node_classes.get(cls)
    if is_node is None:
        is_node = _is_node(node)
    if not is_node:
        return node
    parent_node = node.parent
    if node.children is not None:
        for i, child_node in enumerate(node.children):
            if pre is not None:
                pre(node, i)
            _walk(child_node, i, processing_map, per_class, pre)
    try:
        key = per_class[cls]
    except KeyError:
        key = per_class[cls] = next((k for k in processing_map if issubclass(cls, k)), None)
    if key is not None:
        node = processing_map[key](node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
    return node


_descends: dict[type, bool] = {}  # class -> moto's find_clauses looks into it


def find_clauses(self: Any, clause_types: list[type]) -> list[Any]:
    """moto's `Node.find_clauses`, asking once per class whether it is an Expression or an
    UpdateExpressionFunction (abstract base classes: a slow isinstance per child)."""
    clauses = []
    for child in self.children or []:
        cls = type(child)
        if cls in clause_types:
            clauses.append(child)
        else:
            descends = _descends.get(cls)
            if descends is None:
                ast_nodes: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
                descends = _descends[cls] = isinstance(
                    child, (ast_nodes.Expression, ast_nodes.UpdateExpressionFunction)
                )
            if descends:
                clauses.extend(child.find_clauses(clause_types))
    return clauses

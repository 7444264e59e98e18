"""A state machine's graph from its ASL definition, laid out for drawing, and each state's
status in one execution, read from the execution's history (GetExecutionHistory's events).

The layout is a small layered one (no graph library): a state's row is the longest path to it
from StartAt (back edges, which ASL allows, are left out of the ranking), so every forward edge
points down. The "main path" (what StartAt reaches through Next, Default and Choices, never
through a Catch) keeps column 0; the states only a Catch leads to (the compensations) take the
columns to its right, each near the states that lead to it. Parallel and Map states are drawn
as one node each (their branches are not drawn).

Statuses, as the Step Functions console colours them, plus the saga's own reading:
`succeeded`; `compensated` (a Task off the main path that succeeded: an undo step);
`caught` (the state failed and a Catch moved the execution on); `failed`; `running`;
`not-run`. Each state also carries its attempts (a Retry makes more than one), its input,
output, error and cause, and when it was entered and left.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

NODE_WIDTH = 176
NODE_HEIGHT = 34
COLUMN_GAP = 56
ROW_GAP = 24
MARGIN = 16

# History event types that end one attempt of a state's work in failure.
_FAILED_ATTEMPT = {
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "TaskFailed",
    "TaskTimedOut",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "ActivityFailed",
    "ActivityTimedOut",
    "MapStateFailed",
    "ParallelStateFailed",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "ExecutionAborted",
}
_ATTEMPT_STARTED = {"LambdaFunctionScheduled", "TaskScheduled", "ActivityScheduled"}
# History event types that end an execution, with the status DescribeExecution then gives.
_EXECUTION_ENDED = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # "next" | "default" | "choice" | "catch"
    label: str = ""


@dataclass
class Node:
    name: str
    type: str
    main: bool  # on the main path (reached without a Catch)
    rank: int = 0
    column: int = 0
    comment: str = ""

    @property
    def x(self) -> int:
        return MARGIN + self.column * (NODE_WIDTH + COLUMN_GAP)

    @property
    def y(self) -> int:
        return MARGIN + self.rank * (NODE_HEIGHT + ROW_GAP)


def edges_of(states: Mapping[str, Any]) -> list[Edge]:
    """Every transition the definition names, in the order it names them."""
    edges: list[Edge] = []
    for name, state in states.items():
        for choice in state.get("Choices", []):
            if "Next" in choice:
                edges.append(Edge(name, choice["Next"], "choice", _choice_label(choice)))
        if "Default" in state:
            edges.append(Edge(name, state["Default"], "default", "default"))
        if "Next" in state:
            edges.append(Edge(name, state["Next"], "next"))
        for catch in state.get("Catch", []):
            errors = ", ".join(catch.get("ErrorEquals", []))
            edges.append(Edge(name, catch["Next"], "catch", errors))
    return [e for e in edges if e.target in states]


def _choice_label(choice: Mapping[str, Any]) -> str:
    variable = choice.get("Variable", "")
    for key, value in choice.items():
        if key not in {"Variable", "Next"}:
            return f"{variable} {key} {json.dumps(value)}".strip()[:60]
    return variable


def main_path(start: str, edges: Iterable[Edge]) -> set[str]:
    """What StartAt reaches without taking a Catch."""
    forward: dict[str, list[str]] = {}
    for edge in edges:
        if edge.kind != "catch":
            forward.setdefault(edge.source, []).append(edge.target)
    seen = {start}
    todo = [start]
    while todo:
        for target in forward.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _back_edges(start: str, names: Iterable[str], edges: list[Edge]) -> set[Edge]:
    """Edges that close a cycle (depth-first from StartAt, then from whatever is left)."""
    out: dict[str, list[Edge]] = {}
    for edge in edges:
        out.setdefault(edge.source, []).append(edge)
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    back: set[Edge] = set()
    for root in [start, *names]:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, index = stack[-1]
            followers = out.get(node, [])
            if index == len(followers):
                state[node] = 2
                stack.pop()
                continue
            stack[-1] = (node, index + 1)
            edge = followers[index]
            seen = state.get(edge.target)
            if seen == 1:
                back.add(edge)
            elif seen is None:
                state[edge.target] = 1
                stack.append((edge.target, 0))
    return back


def layout(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Nodes with their box, edges with their SVG path, and the drawing's size."""
    states: Mapping[str, Any] = definition.get("States", {})
    start = definition.get("StartAt", "")
    edges = edges_of(states)
    main = main_path(start, edges)
    forward = [e for e in edges if e not in _back_edges(start, list(states), edges)]
    nodes = {
        name: Node(name, state.get("Type", "?"), name in main, comment=state.get("Comment", ""))
        for name, state in states.items()
    }
    _rank(nodes, forward)
    _place(nodes, forward)
    columns = max((n.column for n in nodes.values()), default=0) + 1
    rows = max((n.rank for n in nodes.values()), default=0) + 1
    return {
        "startAt": start,
        "width": 2 * MARGIN + columns * NODE_WIDTH + (columns - 1) * COLUMN_GAP,
        "height": 2 * MARGIN + rows * NODE_HEIGHT + (rows - 1) * ROW_GAP,
        "nodes": [
            {
                "name": n.name,
                "type": n.type,
                "main": n.main,
                "x": n.x,
                "y": n.y,
                "width": NODE_WIDTH,
                "height": NODE_HEIGHT,
                "comment": n.comment,
            }
            for n in nodes.values()
        ],
        "edges": [
            {
                "source": e.source,
                "target": e.target,
                "kind": e.kind,
                "label": e.label,
                "path": _path(nodes[e.source], nodes[e.target]),
            }
            for e in edges
        ],
    }


def _rank(nodes: Mapping[str, Node], forward: list[Edge]) -> None:
    """Longest path from the sources (Kahn's order over the acyclic edges)."""
    incoming = {name: 0 for name in nodes}
    for edge in forward:
        incoming[edge.target] += 1
    ready = [name for name in nodes if incoming[name] == 0]
    while ready:
        name = ready.pop(0)
        for edge in forward:
            if edge.source != name:
                continue
            target = nodes[edge.target]
            target.rank = max(target.rank, nodes[name].rank + 1)
            incoming[edge.target] -= 1
            if incoming[edge.target] == 0:
                ready.append(edge.target)


def _place(nodes: Mapping[str, Node], forward: list[Edge]) -> None:
    """Main path in column 0; every other state in the free column nearest its predecessors."""
    taken: set[tuple[int, int]] = set()
    predecessors: dict[str, list[str]] = {}
    for edge in forward:
        predecessors.setdefault(edge.target, []).append(edge.source)
    for node in sorted(nodes.values(), key=lambda n: (n.rank, not n.main)):
        lowest = 0 if node.main else 1
        placed = sorted(
            nodes[p].column for p in predecessors.get(node.name, []) if not nodes[p].main
        )
        column = max(lowest, placed[len(placed) // 2] if placed else lowest)
        candidates = sorted(range(lowest, column + len(nodes) + 1), key=lambda c: abs(c - column))
        node.column = next(c for c in candidates if (node.rank, c) not in taken)
        taken.add((node.rank, node.column))


def _path(source: Node, target: Node) -> str:
    """The edge's SVG path: a curve to the next row; a detour that keeps off the boxes in
    between when it skips rows (through the gap beside the source's column); a loop round
    the right-hand side for a back edge."""
    middle_of = NODE_HEIGHT / 2
    if target.rank == source.rank + 1:
        sx, sy = source.x + NODE_WIDTH / 2, float(source.y + NODE_HEIGHT)
        tx, ty = target.x + NODE_WIDTH / 2, float(target.y)
        bend = (sy + ty) / 2
        return f"M{sx:.0f},{sy:.0f} C{sx:.0f},{bend:.0f} {tx:.0f},{bend:.0f} {tx:.0f},{ty:.0f}"
    if target.rank <= source.rank or source.column == target.column:
        # Out of the right side, down (or up) beside the column, into the right side.
        right = max(source.x, target.x) + NODE_WIDTH
        channel = right + COLUMN_GAP * (0.3 if target.rank <= source.rank else 0.6)
        sy, ty = source.y + middle_of, target.y + middle_of
        return (
            f"M{source.x + NODE_WIDTH:.0f},{sy:.0f} L{channel:.0f},{sy:.0f} "
            f"L{channel:.0f},{ty:.0f} L{target.x + NODE_WIDTH:.0f},{ty:.0f}"
        )
    # Another column, rows below: out of the side facing it, down the gap, across the row gap
    # above the target, into its top.
    toward = 1 if target.column > source.column else -1
    side = source.x + NODE_WIDTH if toward > 0 else source.x
    channel = side + toward * COLUMN_GAP / 2
    sy = source.y + middle_of
    gap = target.y - ROW_GAP / 2
    tx = target.x + NODE_WIDTH / 2
    return (
        f"M{side:.0f},{sy:.0f} L{channel:.0f},{sy:.0f} L{channel:.0f},{gap:.0f} "
        f"L{tx:.0f},{gap:.0f} L{tx:.0f},{target.y:.0f}"
    )


# ---------------------------------------------------------------- an execution's states


@dataclass
class StateRun:
    """What one state did in one execution (its last visit, and how many there were)."""

    name: str
    status: str = "not-run"
    visits: int = 0
    attempts: int = 0
    entered: str | None = None
    exited: str | None = None
    input: Any = None
    output: Any = None
    error: str | None = None
    cause: Any = None
    failed: bool = False  # the last attempt failed (caught when the state then exited)
    retried: list[str] = field(default_factory=list)  # errors a Retry answered, in order

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "visits": self.visits,
            "attempts": self.attempts,
            "entered": self.entered,
            "exited": self.exited,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "retried": self.retried,
        }


def state_runs(
    definition: Mapping[str, Any], events: Iterable[Mapping[str, Any]], execution_status: str
) -> dict[str, dict[str, Any]]:
    """Each state's status in an execution with this history and status (DescribeExecution's:
    RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE)."""
    states: Mapping[str, Any] = definition.get("States", {})
    main = main_path(definition.get("StartAt", ""), edges_of(states))
    runs = {name: StateRun(name) for name in states}
    current: StateRun | None = None
    for event in events:
        kind = str(event.get("type", ""))
        entered = event.get("stateEnteredEventDetails")
        exited = event.get("stateExitedEventDetails")
        if entered is not None and entered.get("name") in runs:
            if current is not None:  # left without an exit event (a Catch moved it on)
                current.status = _ended(current, states[current.name], current.name in main)
            current = runs[entered["name"]]
            current.visits += 1
            current.attempts = 0
            current.status = "running"
            current.failed = False
            current.retried = []
            current.error = current.cause = current.output = current.exited = None
            current.entered = _time(event)
            current.input = _json(entered.get("input"))
        if current is None:
            continue
        if kind in _ATTEMPT_STARTED:
            current.attempts += 1
            if current.failed and current.error:  # a Retry: this attempt follows a failure
                current.retried.append(current.error)
            current.failed = False
            current.error = current.cause = None
        elif kind in _FAILED_ATTEMPT:
            details = _failure_details(event)
            current.failed = True
            current.error = details.get("error")
            current.cause = _json(details.get("cause"))
        if exited is not None and exited.get("name") == current.name:
            current.exited = _time(event)
            current.output = _json(exited.get("output"))
            current.status = _ended(current, states[current.name], current.name in main)
            current = None
    if current is not None and execution_status != "RUNNING":
        current.status = "failed"  # the execution ended inside this state
    for run in runs.values():
        if run.visits and run.attempts == 0 and states[run.name].get("Type") == "Task":
            run.attempts = 1
    return {name: run.as_json() for name, run in runs.items()}


def status_with_history(described_status: str, events: Iterable[Mapping[str, Any]]) -> str:
    """The execution's status as of its history. DescribeExecution is called before
    GetExecutionHistory, so a history read after the execution ended can end in its last event
    while the status read before it still says RUNNING; the history is the newer of the two
    then. An ExecutionRedriven after the end makes it RUNNING again. A status other than
    RUNNING is already final for this snapshot and stands."""
    if described_status != "RUNNING":
        return described_status
    status = described_status
    for event in events:
        kind = str(event.get("type", ""))
        if kind in _EXECUTION_ENDED:
            status = _EXECUTION_ENDED[kind]
        elif kind == "ExecutionRedriven":
            status = "RUNNING"
    return status


def _ended(run: StateRun, state: Mapping[str, Any], main: bool) -> str:
    if state.get("Type") == "Fail":
        return "failed"
    if run.failed:
        return "caught"
    if state.get("Type") == "Task" and not main:
        return "compensated"
    return "succeeded"


def taken_edges(events: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """The transitions the execution made, [source, target], in order."""
    names = [
        str(details["name"])
        for event in events
        if (details := event.get("stateEnteredEventDetails")) is not None
    ]
    return [[a, b] for a, b in pairwise(names)]


def _failure_details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _time(event: Mapping[str, Any]) -> str | None:
    stamp = event.get("timestamp")
    if stamp is None:
        return None
    return stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp)


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text

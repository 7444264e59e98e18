"""`localcloud logs`: the per-function files merged in time order (optionally followed), or one
order's story from a running localcloud."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FOLLOW_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class FileLine:
    time: str  # ISO 8601, sorts as text
    function: str
    text: str


def _records(function: str, handle: Iterable[str]) -> Iterator[FileLine]:
    """Records of one file from the handle's position (continuation lines start with a tab)."""
    current: FileLine | None = None
    for raw in handle:
        line = raw.rstrip("\n")
        if line.startswith("\t") and current is not None:
            current = FileLine(current.time, function, current.text + "\n" + line[1:])
            continue
        if current is not None:
            yield current
        stamp, _, text = line.partition(" ")
        current = FileLine(stamp, function, text)
    if current is not None:
        yield current


def read_files(directory: Path, function: str | None = None) -> list[FileLine]:
    files = _files(directory, function)
    lines: list[FileLine] = []
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as handle:
            lines += _records(path.stem, handle)
    return sorted(lines, key=lambda line: line.time)


def _files(directory: Path, function: str | None) -> list[Path]:
    if function is not None:
        path = directory / f"{function}.log"
        return [path] if path.exists() else []
    return sorted(directory.glob("*.log"))


def follow(
    directory: Path,
    function: str | None,
    out: Callable[[FileLine], None],
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Print what is already there, then each new record as it is written. Each file is read
    from where the last read ended, the first read included: reading the files whole and then
    noting their sizes lost what was written in between."""
    positions: dict[Path, int] = {}
    _print_new(directory, function, positions, out)
    while not stop():
        time.sleep(FOLLOW_POLL_SECONDS)
        _print_new(directory, function, positions, out)


def _print_new(
    directory: Path,
    function: str | None,
    positions: dict[Path, int],
    out: Callable[[FileLine], None],
) -> None:
    """The complete records written since `positions` (then moved past them), in time order."""
    fresh: list[FileLine] = []
    for path in _files(directory, function):
        start = positions.get(path, 0)
        if path.stat().st_size <= start:
            continue
        with path.open("rb") as handle:
            handle.seek(start)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a record still being written waits
        positions[path] = start + len(complete)
        text = complete.decode("utf-8", errors="replace")
        fresh += _records(path.stem, text.splitlines(keepends=True))
    for line in sorted(fresh, key=lambda line: line.time):
        out(line)


def format_file_line(line: FileLine) -> str:
    return f"{line.time[11:23]}  {line.function:<32} {line.text}"


def fetch_story(aws_url: str, order_id: str) -> dict[str, Any] | None:
    url = f"{aws_url}/_localcloud/orders/{urllib.parse.quote(order_id, safe='')}/story"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            story: dict[str, Any] = json.loads(response.read())
            return story
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def format_story_entry(entry: dict[str, Any]) -> str:
    return (
        f"{entry['time'][11:23]}  {entry['kind']:<9} {entry['source']:<32} "
        f"{entry.get('level', ''):<7} {entry['message']}"
    )

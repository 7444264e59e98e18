"""A localcloud for a benchmark, started like `make run`, tried again when it did not come up
in time (tests.support.localcloud_process waits 60 s; a shared machine under heavy load can
take longer than that to start the whole template)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.load import Target
from tests.support.localcloud_process import localcloud_process

ATTEMPTS = 3


@contextmanager
def started_localcloud(overrides: dict[str, str] | None = None) -> Iterator[Target]:
    for attempt in range(1, ATTEMPTS + 1):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                process = localcloud_process(Path(tmp), overrides=overrides)
                cloud = process.__enter__()
            except RuntimeError:
                if attempt == ATTEMPTS:
                    raise
                continue
            try:
                yield Target(cloud.api_url, cloud.aws_url)
            finally:
                process.__exit__(None, None, None)
            return

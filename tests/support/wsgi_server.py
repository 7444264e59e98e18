"""A WSGI app behind werkzeug's own threaded server, for tests of what goes over the wire."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server


@contextmanager
def serving(app: Any, **options: Any) -> Iterator[BaseWSGIServer]:
    """`app` served on a free port of 127.0.0.1 until the block ends (`options`: make_server's,
    such as request_handler)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, **options)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()

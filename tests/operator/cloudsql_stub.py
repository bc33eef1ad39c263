"""A local stand-in for the Cloud SQL Admin API's backupRuns collection (list and insert), on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "test-token"
PATH = "/v1/projects/shop/instances/orders/backupRuns"


class CloudSql:
    """The stub's state: the runs it lists; ``insert`` requests append a RUNNING run the test can complete."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.endpoint = ""
        #: answer every request with this HTTP status instead (e.g. 503: the API in trouble)
        self.failing: int | None = None

    def complete(self, description: str, end_time: str) -> None:
        for run in self.runs:
            if run.get("description") == description:
                run.update(status="SUCCESSFUL", endTime=end_time)


@contextmanager
def serving() -> Iterator[CloudSql]:
    state = CloudSql()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self._authorized():
                self._answer(200, {"kind": "sql#backupRunsList", "items": state.runs})

        def do_POST(self) -> None:
            if self._authorized():
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                run = {"id": str(len(state.runs) + 1), "status": "RUNNING", "type": "ON_DEMAND", **body}
                state.runs.append(run)
                self._answer(200, {"kind": "sql#operation", "status": "PENDING"})

        def _authorized(self) -> bool:
            if state.failing is not None:
                self._answer(state.failing, {"error": {"code": state.failing}})
                return False
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"error": {"code": 401}})
                return False
            if self.path.split("?")[0] != PATH:
                self._answer(404, {"error": {"code": 404}})
                return False
            return True

        def _answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

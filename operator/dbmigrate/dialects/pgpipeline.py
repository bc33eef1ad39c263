"""Pipelined transactions on a psycopg 3 connection: the next migrations are sent while the server runs this one.

With one round trip per migration the server idles while the client reads the result and prepares the next one,
and the client idles while the server works. In libpq's pipeline mode a few migrations (each its own BEGIN …
COMMIT) are queued ahead, so both work at once and results stream back in order.

Safety rests on one rule of the protocol: after an error the server skips every queued command until the next
Sync, and this module sends a Sync only once it has stopped. So nothing queued behind a failed migration runs, and
what committed before it stays committed with its history row.
"""

from __future__ import annotations

import collections
import dataclasses
import select
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, NamedTuple

from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.abc import Buffer
from psycopg.adapt import PyFormat, Transformer

#: Transactions queued ahead of the one running: enough to keep the server busy between two reads.
WINDOW = 8
_CANCEL_SECONDS = 5.0
_OK = frozenset({pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY})


class Command(NamedTuple):
    """One command of a transaction: SQL with ``$n`` parameters (text values), or a prepared statement's name.

    ``flush`` asks the server to send this command's result as soon as it is done, not with the transaction's last
    one (it holds results back until asked): for a caller that must know when the next command starts."""

    sql: bytes
    params: Sequence[Buffer | None] | None = None
    prepared: bool = False
    flush: bool = False


@dataclasses.dataclass(frozen=True)
class Completed:
    """Transaction ``index`` committed, ``seconds`` after the one before it (or the start) did."""

    index: int
    seconds: float


@dataclasses.dataclass(frozen=True)
class Failed:
    """Command ``command`` of transaction ``index`` failed with ``error``; nothing after it ran."""

    index: int
    command: int
    error: Exception
    seconds: float


class Pipeline:
    """Runs transactions through one psycopg 3 connection in pipeline mode, between ``with`` and its end.

    The connection must be idle in autocommit mode. On exit the pipeline is synced and left, and a transaction a
    failure left open is rolled back, so the connection is as usable as before.
    """

    def __init__(self, connection: Any, *, window: int = WINDOW) -> None:
        self._conn = connection
        self._pg: pq.abc.PGconn = connection.pgconn
        self._encoding: str = connection.info.encoding
        self._adapters = Transformer.from_context(connection)
        self._window = window
        self._poll = select.poll()
        self._socket = -1
        self._lost = False

    def __enter__(self) -> Pipeline:
        self._pg.enter_pipeline_mode()
        self._socket = self._pg.socket
        self._poll.register(self._socket, select.POLLIN)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if kind is not None and not self._lost:
                # Interrupted (Ctrl-C, or the caller failed): cancel what the server is running, so that it skips
                # the rest of the queue instead of running it before the Sync below.
                self._conn.cancel_safe(timeout=_CANCEL_SECONDS)
            self._finish()
        finally:
            self._poll.unregister(self._socket)

    def prepare(self, name: bytes, sql: str) -> None:
        """Prepare ``sql`` as ``name`` on the server, once and outside ``with`` (then queue :meth:`prepared`
        commands): a statement run per migration is then parsed and planned only once."""
        result = self._pg.prepare(name, sql.encode(self._encoding))
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise pg_errors.error_from_result(result, encoding=self._encoding)

    def command(self, sql: str, params: Sequence[object] | None = None, *, flush: bool = False) -> Command:
        """``sql`` (one statement, ``$n`` parameters) as a command for :meth:`run`."""
        return Command(sql.encode(self._encoding), None if params is None else self._dump(params), flush=flush)

    def prepared(self, name: bytes, params: Sequence[object]) -> Command:
        """A run of the statement :meth:`prepare` made ``name``, as a command for :meth:`run`."""
        return Command(name, self._dump(params), prepared=True)

    def _dump(self, params: Sequence[object]) -> Sequence[Buffer | None]:
        """Parameter values as text, by psycopg's own adapters for this connection (its encoding, time zones)."""
        return self._adapters.dump_sequence(params, [PyFormat.TEXT] * len(params))

    def run(
        self, transactions: Iterable[Sequence[Command]], *, running: Callable[[int, int], None]
    ) -> Iterator[Completed | Failed]:
        """Run ``transactions`` in order, yielding each one's outcome as it arrives; stops after a failure.

        Each transaction is a list of commands, BEGIN … COMMIT included, taken from ``transactions`` only when
        there is room in the queue. Outcomes come one per transaction, so a caller can report each migration as it
        finishes while later ones are already queued; ``running(index, command)`` is told which command the server
        is on whenever that changes (for a live display)."""
        pending = iter(transactions)
        queued: collections.deque[tuple[int, int]] = collections.deque()  # (index, how many commands)
        sent = index = position = 0
        mark = time.monotonic()
        try:
            while True:
                while len(queued) < self._window and (transaction := next(pending, None)) is not None:
                    for command in transaction:
                        self._send(command)
                        if command.flush:
                            self._pg.send_flush_request()
                    self._pg.send_flush_request()
                    queued.append((sent, len(transaction)))
                    sent += 1
                if not queued:
                    return
                self._flush()
                index, size = queued.popleft()
                for position in range(size):
                    running(index, position)
                    result = self._result()
                    if result.status not in _OK:
                        yield Failed(index, position, self._error(result), time.monotonic() - mark)
                        return
                now = time.monotonic()
                yield Completed(index, now - mark)
                mark = now
        except pg_errors.Error as error:  # a lost connection: the command the server was on failed
            self._lost = True
            yield Failed(index, position, error, time.monotonic() - mark)

    def _send(self, command: Command) -> None:
        if command.prepared:
            self._pg.send_query_prepared(command.sql, command.params)
        else:
            self._pg.send_query_params(command.sql, command.params)

    def _result(self) -> pq.abc.PGresult:
        """The next command's result (each is followed by a None that ends it in pipeline mode)."""
        result = self._next()
        if result is None:  # the None ending the previous command
            result = self._next()
        if result is None:
            raise pg_errors.InternalError("the server sent no result for a queued command")
        return result

    def _next(self) -> pq.abc.PGresult | None:
        while self._pg.is_busy():
            self._wait(select.POLLIN)
            self._pg.consume_input()
        return self._pg.get_result()

    def _flush(self) -> None:
        """Send what libpq buffered; read meanwhile, so neither side can block the other on a full socket."""
        while self._pg.flush():
            if self._wait(select.POLLIN | select.POLLOUT) & select.POLLIN:
                self._pg.consume_input()

    def _wait(self, events: int) -> int:
        self._poll.modify(self._socket, events)
        return self._poll.poll()[0][1]

    def _error(self, result: pq.abc.PGresult) -> Exception:
        if result.status in (pq.ExecStatus.COPY_IN, pq.ExecStatus.COPY_OUT, pq.ExecStatus.COPY_BOTH):
            self._conn.close()  # the protocol cannot leave COPY inside a pipeline: the connection is unusable
            return pg_errors.ProgrammingError("COPY with STDIN/STDOUT cannot run in a migration")
        return pg_errors.error_from_result(result, encoding=self._encoding)

    def _finish(self) -> None:
        """Sync (the server skipped what followed an error), drain, leave pipeline mode, roll back a failed
        transaction. On a lost connection there is nothing to do: the server rolled back what was open."""
        if self._lost or self._pg.status != pq.ConnStatus.OK:
            return
        try:
            self._pg.pipeline_sync()
            self._flush()
            while (result := self._next()) is None or result.status != pq.ExecStatus.PIPELINE_SYNC:
                pass
        except pg_errors.OperationalError:
            return
        self._pg.exit_pipeline_mode()
        if self._pg.transaction_status != pq.TransactionStatus.IDLE:
            self._conn.execute("ROLLBACK")

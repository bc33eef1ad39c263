"""What framework code prints (Alembic's log lines, an env.py's prints, a migration's own output), held back while
it runs so it never splits a progress line, and shown afterwards with every secret of the database URL masked."""

from __future__ import annotations

import contextlib
import io
import sys
import urllib.parse
from collections.abc import Iterator

from sqlalchemy.engine import URL

from dbmigrate import dburl

_INDENT = " " * 6


@contextlib.contextmanager
def captured(buffer: io.StringIO) -> Iterator[io.StringIO]:
    """Everything written to stdout and stderr meanwhile, into ``buffer``, including by log handlers an env.py
    creates meanwhile (``fileConfig`` binds them to the ``sys.stderr`` of the moment)."""
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer


def show(printed: io.StringIO, url: URL) -> None:
    """Pass captured output on to stderr (stdout carries the JSON document), masked and indented under its step."""
    text = mask(printed.getvalue(), url).rstrip("\n")
    if text:
        sys.stderr.write("".join(f"{_INDENT}{line}\n" for line in text.splitlines()))
        sys.stderr.flush()


def mask(text: str, url: URL) -> str:
    """``text`` with the URL's password and secret options as ``***``, also where a URL quotes them encoded."""
    secrets = dburl.secrets(url)
    forms = {
        form
        for secret in secrets
        for form in (secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret))
    }
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text

"""A short, stable digest of a schema snapshot, to tell at a glance whether two schemas are the same.

The digest covers a canonical JSON of the snapshot, so exactly what the snapshot holds (docs/safety.md has the
list per database), which depends only on the schema's definition: not on object creation order, OIDs, the
order the catalog returned rows in, the database's name or a sequence's current value (the snapshot leaves all
of those out and keeps its collections sorted by name), nor on the session's time zone or date style (the
snapshot is read in neutral settings: :meth:`Dialect.neutral_session`). It leaves out the states the integrity
check reports (an index's validity, a constraint's NOT VALID: fields marked :data:`model.NOT_FINGERPRINTED`),
which following its remedies changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import operator
from collections.abc import Callable

from dbmigrate.schema.model import Schema


def canonical_json(schema: Schema) -> str:
    """The exact text the fingerprint is computed over: every object as the array of its fingerprinted field
    values, in the order the dataclass declares them (``to_json()`` without the keys), with no whitespace.

    Leaving the keys out halves the encoding time, most of the fingerprint's cost on thousands of tables.
    """
    return json.dumps(schema, default=_field_values, separators=(",", ":"), ensure_ascii=False)


def fingerprint(schema: Schema) -> str:
    """``sha256:<hex>`` of the snapshot's canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical_json(schema).encode()).hexdigest()


def _field_values(obj: object) -> object:
    getter = _GETTERS.get(type(obj))
    if getter is None:  # a getter of the fingerprinted fields, as a tuple (every model class has several)
        names = [f.name for f in dataclasses.fields(obj) if f.metadata.get("fingerprint", True)]  # type: ignore[arg-type]
        getter = _GETTERS[type(obj)] = operator.attrgetter(*names)
    return getter(obj)


_GETTERS: dict[type, Callable[[object], object]] = {}

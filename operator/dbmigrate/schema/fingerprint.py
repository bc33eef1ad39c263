"""A short, stable digest of a schema snapshot, to tell at a glance whether two schemas are the same.

The digest covers the snapshot's canonical JSON (sorted keys, collections in the snapshot's name order, no
whitespace), so it depends only on the schema's definition: not on object creation order, OIDs, the order the
catalog returned rows in, the database's name or a sequence's current value.
"""

from __future__ import annotations

import hashlib
import json

from dbmigrate.schema.model import Schema


def canonical_json(schema: Schema) -> str:
    """The exact text the fingerprint is computed over: ``schema.to_json()`` with sorted keys, no whitespace.

    Encoded straight from the dataclasses (``default=vars``) rather than through ``to_json()``, which would
    build the same dicts first: on thousands of tables that is most of the fingerprint's cost.
    """
    return json.dumps(schema, default=vars, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(schema: Schema) -> str:
    """``sha256:<hex>`` of the snapshot's canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical_json(schema).encode()).hexdigest()

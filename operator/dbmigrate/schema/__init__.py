"""Schema snapshots: what a schema is, its fingerprint, how two differ, and what failed DDL left behind."""

from dbmigrate.schema.model import Column, Constraint, Index, Routine, Schema, Sequence, Table, Trigger, Type, View
from dbmigrate.schema.snapshot import read_schema

__all__ = [
    "Column",
    "Constraint",
    "Index",
    "Routine",
    "Schema",
    "Sequence",
    "Table",
    "Trigger",
    "Type",
    "View",
    "read_schema",
]

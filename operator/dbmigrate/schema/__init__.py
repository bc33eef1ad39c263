"""Schema snapshots: what a schema is, its fingerprint, how two differ, and what failed DDL left behind."""

from dbmigrate.schema.model import Column, Constraint, Index, Schema, Sequence, Table, View
from dbmigrate.schema.snapshot import read_schema

__all__ = ["Column", "Constraint", "Index", "Schema", "Sequence", "Table", "View", "read_schema"]

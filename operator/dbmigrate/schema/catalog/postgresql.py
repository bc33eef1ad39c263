"""The schema of a PostgreSQL database, from pg_catalog: every user schema, extension members left out.

Names in ``current_schema()`` (``public`` by default) come back unqualified (``schema`` NULL), others as
``schema.name``; definitions are printed by the server's own ``pg_get_*`` functions, as psql shows them.
"""

from __future__ import annotations

import sqlalchemy

from dbmigrate.schema.catalog import Parts, Row, rows
from dbmigrate.schema.model import Column, Constraint, ConstraintKind, Index, Sequence, View, qualify

#: The relation ``c`` (in namespace ``n``) is a user object: not in a system schema, not part of an extension.
USER_RELATION = """
    n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    AND NOT EXISTS (SELECT 1 FROM pg_depend e
                    WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
"""

_TABLES = f"""
SELECT NULLIF(n.nspname, current_schema()), c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND {USER_RELATION}
"""

_COLUMNS = f"""
SELECT NULLIF(n.nspname, current_schema()), c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       NOT a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
       row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
       CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
       CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) || ' stored' END
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND {USER_RELATION}
"""

# Each key column with its non-default ordering and operator class (pg_get_indexdef(oid, k) prints neither);
# indexes that implement a constraint are reported as the constraint.
_INDEXES = f"""
SELECT NULLIF(n.nspname, current_schema()), c.relname, i.relname, x.indisunique, am.amname,
       pg_get_expr(x.indpred, x.indrelid, true), x.indisvalid,
       ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                    || CASE WHEN k <= x.indnkeyatts AND NOT oc.opcdefault THEN ' ' || oc.opcname ELSE '' END
                    || CASE WHEN k > x.indnkeyatts THEN ''
                            WHEN x.indoption[k - 1] & 3 = 3 THEN ' DESC'
                            WHEN x.indoption[k - 1] & 1 = 1 THEN ' DESC NULLS LAST'
                            WHEN x.indoption[k - 1] & 2 = 2 THEN ' NULLS FIRST'
                            ELSE '' END
             FROM generate_series(1, x.indnatts) AS k
             LEFT JOIN pg_opclass oc ON oc.oid = x.indclass[k - 1]
             ORDER BY k),
       x.indnkeyatts
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_am am ON am.oid = i.relam
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND {USER_RELATION}
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid
                  AND k.contype IN ('p', 'u', 'x'))
"""

_CONSTRAINTS = f"""
SELECT NULLIF(n.nspname, current_schema()), c.relname, k.conname, k.contype,
       ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS u(num, pos)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num ORDER BY u.pos),
       NULLIF(rn.nspname, current_schema()), r.relname,
       ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY AS u(num, pos)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num ORDER BY u.pos),
       k.confdeltype, k.confupdtype,
       CASE k.contype WHEN 'c' THEN pg_get_expr(k.conbin, k.conrelid, true)
                      WHEN 'x' THEN pg_get_constraintdef(k.oid, true) END,
       k.convalidated
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class r ON r.oid = k.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE k.contype IN ('p', 'u', 'f', 'c', 'x') AND c.relkind IN ('r', 'p') AND {USER_RELATION}
"""

_VIEWS = f"""
SELECT NULLIF(n.nspname, current_schema()), c.relname, pg_get_viewdef(c.oid, true), c.relkind = 'm'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND {USER_RELATION}
"""

# The owning column is the serial's (dependency 'a') or the identity's ('i') one.
_SEQUENCES = f"""
SELECT NULLIF(n.nspname, current_schema()), c.relname, format_type(s.seqtypid, NULL), s.seqstart,
       s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
       NULLIF(tn.nspname, current_schema()), t.relname, a.attname
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
     AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class t ON t.oid = d.refobjid
LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE {USER_RELATION}
"""

_CONSTRAINT_KINDS: dict[str, ConstraintKind] = {
    "p": "primary key",
    "u": "unique",
    "f": "foreign key",
    "c": "check",
    "x": "exclude",
}
_FK_ACTIONS = {"a": "no action", "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}


def read(conn: sqlalchemy.Connection) -> Parts:
    """All tables, columns, indexes, constraints, views and sequences of the database, in six queries."""
    parts = Parts(tables=[(r[0], r[1]) for r in rows(conn, _TABLES)])
    for r in rows(conn, _COLUMNS):
        column = Column(
            name=r[2], type=r[3], nullable=r[4], default=r[5], ordinal=r[6], identity=r[7], generated=r[8]
        )
        parts.columns.append(((r[0], r[1]), column))
    for r in rows(conn, _INDEXES):
        items, nkey = r[7], r[8]
        index = Index(
            name=r[2],
            columns=tuple(items[:nkey]),
            unique=r[3],
            method=r[4],
            predicate=r[5],
            include=tuple(items[nkey:]),
            valid=r[6],
        )
        parts.indexes.append(((r[0], r[1]), index))
    for r in rows(conn, _CONSTRAINTS):
        parts.constraints.append(((r[0], r[1]), _constraint(r)))
    parts.views = [
        View(name=r[1], schema=r[0], definition=r[2], materialized=r[3]) for r in rows(conn, _VIEWS)
    ]
    parts.sequences = [
        Sequence(
            name=r[1],
            schema=r[0],
            data_type=r[2],
            start=r[3],
            increment=r[4],
            min_value=r[5],
            max_value=r[6],
            cache=r[7],
            cycle=r[8],
            owned_by=f"{qualify(r[9], r[10])}.{r[11]}" if r[10] else None,
        )
        for r in rows(conn, _SEQUENCES)
    ]
    return parts


def _constraint(r: Row) -> Constraint:
    kind = _CONSTRAINT_KINDS[r[3]]
    if kind == "foreign key":
        return Constraint(
            name=r[2],
            kind=kind,
            columns=tuple(r[4]),
            ref_table=qualify(r[5], r[6]),
            ref_columns=tuple(r[7]),
            on_delete=_FK_ACTIONS[r[8]],
            on_update=_FK_ACTIONS[r[9]],
            validated=r[11],
        )
    columns = tuple(r[4]) if kind in ("primary key", "unique") else ()
    return Constraint(name=r[2], kind=kind, columns=columns, expression=r[10], validated=r[11])

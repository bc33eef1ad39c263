"""The schema of a PostgreSQL database, from pg_catalog: every user schema, extension members left out.

Names in ``current_schema()`` (``public`` by default) come back unqualified (``schema`` NULL), others as
``schema.name``; expressions are printed by the server's own ``pg_get_*`` functions, as psql shows them.

Speed: the queries return OIDs and attribute numbers, which are turned into names here, and call the
``pg_get_*`` deparsers only for real expressions (each one makes the server open the table). On a schema of
thousands of tables this reads everything in well under half the time ``pg_dump --schema-only`` takes.
"""

from __future__ import annotations

import operator

import sqlalchemy

from dbmigrate.schema.catalog import Parts, Row, TableKey, rows
from dbmigrate.schema.model import (
    Column,
    Constraint,
    ConstraintKind,
    Index,
    Routine,
    Sequence,
    Trigger,
    Type,
    View,
    qualify,
)

#: The namespace ``n`` is a user schema.
USER_SCHEMA = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"
#: The object ``{oid}`` of catalog ``{catalog}`` is not part of an extension.
_NOT_IN_EXTENSION = """NOT EXISTS (SELECT 1 FROM pg_depend e
                    WHERE e.classid = '{catalog}'::regclass AND e.objid = {oid} AND e.deptype = 'e')"""
#: The relation ``c`` in namespace ``n`` is a user object: in a user schema, not part of an extension.
USER_RELATION = f"{USER_SCHEMA} AND {_NOT_IN_EXTENSION.format(catalog='pg_class', oid='c.oid')}"
_IN_USER_SCHEMA = f"c.relnamespace IN (SELECT n.oid FROM pg_namespace n WHERE {USER_SCHEMA})"

#: How a collation is written: schema-qualified unless it is a built-in one.
_COLLATION_NAME = """(SELECT CASE WHEN cn.nspname = 'pg_catalog' THEN '' ELSE quote_ident(cn.nspname) || '.' END
                         || quote_ident(co.collname)
                  FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = {oid})"""

# Tables and materialized views (whose indexes and their columns are read with the tables'), with how they are
# stored and partitioned or inherit. Extension members are read too (flagged), as foreign keys may reference them.
_TABLES = f"""
SELECT c.oid, NULLIF(n.nspname, current_schema()), c.relname,
       NOT {_NOT_IN_EXTENSION.format(catalog="pg_class", oid="c.oid")}, c.relkind = 'm',
       array_remove(ARRAY[
           CASE WHEN c.relpersistence = 'u' THEN 'unlogged' END,
           CASE WHEN c.relkind = 'p' THEN 'partition by ' || pg_get_partkeydef(c.oid) END,
           CASE WHEN c.relispartition
                THEN 'partition of ' || (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid)
                     || ' ' || pg_get_expr(c.relpartbound, c.oid)
                ELSE 'inherits ' || (SELECT string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhseqno)
                                     FROM pg_inherits i WHERE i.inhrelid = c.oid) END
       ], NULL)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND {USER_SCHEMA}
"""

# A default cannot refer to columns, so it is deparsed without its table (which would have to be opened). A
# collation is named when it is not the type's own.
_COLUMNS = f"""
SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, 0) END,
       CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
       CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) || ' stored' END,
       CASE WHEN a.attcollation <> t.typcollation THEN {_COLLATION_NAME.format(oid="a.attcollation")} END
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped AND {_IN_USER_SCHEMA}
"""

# Key columns that are expressions (attnum 0) need pg_get_indexdef(oid, k); plain ones are named here. A key's
# collation is named when it is not its column's (for an expression, not the default one).
_INDEXES = f"""
SELECT x.indexrelid, x.indrelid, i.relname, x.indisunique, am.amname, x.indisvalid, x.indnkeyatts,
       x.indkey::int2[], x.indoption::int2[], x.indclass::oid[],
       pg_get_expr(x.indpred, x.indrelid, true),
       CASE WHEN x.indexprs IS NOT NULL
            THEN ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) FROM generate_series(1, x.indnatts) AS k)
       END,
       {{nulls_not_distinct}},
       ARRAY(SELECT CASE WHEN u.coll NOT IN (0, COALESCE(a.attcollation, 100))
                         THEN {_COLLATION_NAME.format(oid="u.coll")} END
             FROM unnest(x.indcollation::oid[]) WITH ORDINALITY AS u(coll, k)
             LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[u.k - 1] AND a.attnum > 0
             ORDER BY u.k)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_am am ON am.oid = i.relam
JOIN pg_class c ON c.oid = x.indrelid
WHERE c.relkind IN ('r', 'p', 'm') AND NOT x.indisprimary AND {_IN_USER_SCHEMA}
"""

_NON_DEFAULT_OPCLASSES = "SELECT oid, opcname FROM pg_opclass WHERE NOT opcdefault"

_CONSTRAINTS = f"""
SELECT k.conrelid, k.conname, k.contype, k.conkey, k.confrelid, k.confkey, k.confdeltype, k.confupdtype,
       CASE k.contype WHEN 'c' THEN pg_get_expr(k.conbin, k.conrelid, true)
                      WHEN 'x' THEN pg_get_constraintdef(k.oid, true) END,
       k.convalidated, k.conindid, k.condeferrable, k.condeferred, k.confmatchtype,
       (SELECT {{nulls_not_distinct}} FROM pg_index x WHERE x.indexrelid = k.conindid AND k.contype = 'u')
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
WHERE k.contype IN ('p', 'u', 'f', 'c', 'x') AND c.relkind IN ('r', 'p') AND {_IN_USER_SCHEMA}
"""

_VIEWS = f"""
SELECT NULLIF(n.nspname, current_schema()), c.relname, pg_get_viewdef(c.oid, true), c.relkind = 'm'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND {USER_RELATION}
"""

_TRIGGERS = f"""
SELECT t.tgrelid, t.tgname, pg_get_triggerdef(t.oid, true), t.tgenabled
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE NOT t.tgisinternal AND c.relkind IN ('r', 'p') AND {_IN_USER_SCHEMA}
"""

# Aggregates have no CREATE statement pg_get_functiondef can print: name and signature only.
_ROUTINES = f"""
SELECT NULLIF(n.nspname, current_schema()), p.proname, pg_get_function_identity_arguments(p.oid),
       CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
       CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE {USER_SCHEMA} AND {_NOT_IN_EXTENSION.format(catalog="pg_proc", oid="p.oid")}
"""

# Enums with their values in order; domains with base type, NOT NULL, default and constraints (by name).
_TYPES = f"""
SELECT NULLIF(n.nspname, current_schema()), t.typname, t.typtype = 'e',
       CASE WHEN t.typtype = 'e'
            THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
            ELSE ARRAY[format_type(t.typbasetype, t.typtypmod)]
                 || CASE WHEN t.typnotnull THEN ARRAY['not null'] ELSE ARRAY[]::text[] END
                 || CASE WHEN t.typdefault IS NOT NULL THEN ARRAY['default ' || t.typdefault] ELSE ARRAY[]::text[] END
                 || ARRAY(SELECT quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid, true)
                          FROM pg_constraint k WHERE k.contypid = t.oid ORDER BY k.conname)
       END
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd') AND {USER_SCHEMA} AND {_NOT_IN_EXTENSION.format(catalog="pg_type", oid="t.oid")}
"""

# The owning column is the serial's (dependency 'a') or the identity's ('i') one.
_SEQUENCES = f"""
SELECT NULLIF(n.nspname, current_schema()), c.relname, format_type(s.seqtypid, NULL), s.seqstart,
       s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, d.refobjid, d.refobjsubid
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
     AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
WHERE {USER_RELATION}
"""

_CONSTRAINT_KINDS: dict[str, ConstraintKind] = {
    "p": "primary key",
    "u": "unique",
    "f": "foreign key",
    "c": "check",
    "x": "exclude",
}
_ATTNUM = operator.itemgetter(1)
_TRIGGER_STATES = {"O": "enabled", "D": "disabled", "R": "replica", "A": "always"}
_FK_MATCH = {"f": "match full", "p": "match partial"}
_FK_ACTIONS = {"a": "no action", "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}


def read(conn: sqlalchemy.Connection) -> Parts:
    """All tables, columns, indexes, constraints, triggers, views, sequences, routines and types of the database,
    in eleven queries."""
    parts = Parts(own_schema=conn.exec_driver_sql("SELECT current_schema()").scalar())
    # Until 15 every unique index and constraint treats NULLs as distinct.
    nulls_not_distinct = "x.indnullsnotdistinct" if (conn.dialect.server_version_info or (0,)) >= (15,) else "false"
    tables: dict[int, TableKey] = {}  # materialized views too: their indexes are read with the tables'
    for oid, schema, name, extension_member, materialized, options in rows(conn, _TABLES):
        tables[oid] = (schema, name)
        if not (extension_member or materialized):
            parts.tables.append((schema, name))
            if options:
                parts.options[schema, name] = tuple(options)
    names: dict[tuple[int, int], str] = {}
    by_table: dict[int, list[Row]] = {}
    for r in rows(conn, _COLUMNS):  # sorted here: cheaper than ORDER BY, rows mostly come in order anyway
        names[r[0], r[1]] = r[2]
        by_table.setdefault(r[0], []).append(r)
    for relid, columns in by_table.items():
        for ordinal, r in enumerate(sorted(columns, key=_ATTNUM), start=1):
            column = Column(
                name=r[2],
                type=r[3],
                nullable=r[4],
                default=r[5],
                ordinal=ordinal,
                identity=r[6],
                generated=r[7],
                collation=r[8],
            )
            parts.columns.append((tables[relid], column))
    constraints = rows(conn, _CONSTRAINTS.format(nulls_not_distinct=nulls_not_distinct))
    # Indexes that implement a constraint are reported as the constraint (primary keys' are not even read).
    constraint_indexes = {r[10] for r in constraints if r[2] in ("u", "x")}
    opclasses = {r[0]: r[1] for r in rows(conn, _NON_DEFAULT_OPCLASSES)}
    for r in rows(conn, _INDEXES.format(nulls_not_distinct=nulls_not_distinct)):
        if r[0] not in constraint_indexes:
            parts.indexes.append((tables[r[1]], _index(r, names=names, opclasses=opclasses)))
    for r in constraints:
        parts.constraints.append((tables[r[0]], _constraint(r, tables=tables, names=names)))
    for r in rows(conn, _TRIGGERS):
        parts.triggers.append((tables[r[0]], Trigger(name=r[1], definition=r[2], enabled=_TRIGGER_STATES[r[3]])))
    parts.views = [View(name=r[1], schema=r[0], definition=r[2], materialized=r[3]) for r in rows(conn, _VIEWS)]
    parts.sequences = [_sequence(r, tables=tables, names=names) for r in rows(conn, _SEQUENCES)]
    parts.routines = [
        Routine(name=r[1], schema=r[0], kind=r[3], signature=r[2], definition=r[4]) for r in rows(conn, _ROUTINES)
    ]
    parts.types = [
        Type(name=r[1], schema=r[0], kind="enum" if r[2] else "domain", definition=tuple(r[3]))
        for r in rows(conn, _TYPES)
    ]
    return parts


def _index(r: Row, *, names: dict[tuple[int, int], str], opclasses: dict[int, str]) -> Index:
    """Key items: column names, or expressions as pg_get_indexdef prints them, with non-default collation,
    operator class and order (which pg_get_indexdef(oid, k) leaves out)."""
    nkey, attnums, options, classes, expressions, collations = r[6], r[7], r[8], r[9], r[11], r[13]
    items = []
    for k, attnum in enumerate(attnums):
        item = expressions[k] if attnum == 0 else names[r[1], attnum]
        if k < nkey:
            if collations[k]:
                item += f" COLLATE {collations[k]}"
            if classes[k] in opclasses:
                item += f" {opclasses[classes[k]]}"
            item += _ORDER[options[k] & 3]
        items.append(item)
    return Index(
        name=r[2],
        columns=tuple(items[:nkey]),
        unique=r[3],
        method=r[4],
        predicate=r[10],
        include=tuple(items[nkey:]),
        valid=r[5],
        options=("nulls not distinct",) if r[12] else (),
    )


def _sequence(
    r: Row, *, tables: dict[int, TableKey], names: dict[tuple[int, int], str]
) -> tuple[TableKey | None, Sequence]:
    """The sequence, and the table of the serial or identity column that owns it (None when no column does)."""
    owner = tables[r[9]] if (r[9], r[10]) in names else None
    sequence = Sequence(
        name=r[1],
        schema=r[0],
        data_type=r[2],
        start=r[3],
        increment=r[4],
        min_value=r[5],
        max_value=r[6],
        cache=r[7],
        cycle=r[8],
        owned_by=f"{qualify(*owner)}.{names[r[9], r[10]]}" if owner else None,
    )
    return owner, sequence


#: indoption bits (1 = DESC, 2 = NULLS FIRST) as written when not the default for the direction.
_ORDER = {0: "", 1: " DESC NULLS LAST", 2: " NULLS FIRST", 3: " DESC"}


def _constraint(r: Row, *, tables: dict[int, TableKey], names: dict[tuple[int, int], str]) -> Constraint:
    kind = _CONSTRAINT_KINDS[r[2]]
    columns = tuple(names[r[0], n] for n in r[3]) if kind in ("primary key", "unique", "foreign key") else ()
    options = tuple(
        option
        for option, applies in (
            ("deferrable", r[11]),
            ("initially deferred", r[12]),
            (_FK_MATCH.get(r[13], ""), r[13] in _FK_MATCH),
            ("nulls not distinct", r[14]),
        )
        if applies
    )
    if kind == "foreign key":
        return Constraint(
            name=r[1],
            kind=kind,
            columns=columns,
            ref_table=qualify(*tables[r[4]]),
            ref_columns=tuple(names[r[4], n] for n in r[5]),
            on_delete=_FK_ACTIONS[r[6]],
            on_update=_FK_ACTIONS[r[7]],
            validated=r[9],
            options=options,
        )
    return Constraint(name=r[1], kind=kind, columns=columns, expression=r[8], validated=r[9], options=options)

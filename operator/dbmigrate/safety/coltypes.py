"""Judging column type changes: can every value of the old type be stored in the new one, and does it rewrite?

Types are reduced to small value-domain profiles (integer ranges, string lengths, float precision, date/time
shape) so one comparison covers every spelling (``int4``/``integer``/``INT(11)``). Anything without a profile
(enums, JSON, arrays, extension types) compares as UNKNOWN: we never claim a change we do not understand is safe.
"""

from __future__ import annotations

import dataclasses
import enum
import math

from sqlglot import exp

T = exp.DType


class Change(enum.Enum):
    """How a new column type relates to the old one."""

    SAME = "same"
    WIDER = "wider"  # every old value fits
    NARROWER = "narrower"  # some old values do not fit
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class _Exact:
    """Integers and decimals: the range of the integer part and the digits kept after the point."""

    lo: float
    hi: float
    scale: float


@dataclasses.dataclass(frozen=True)
class _Approx:
    bits: int  # mantissa precision


@dataclasses.dataclass(frozen=True)
class _Chars:
    length: float


@dataclasses.dataclass(frozen=True)
class _Bytes:
    length: float


@dataclasses.dataclass(frozen=True)
class _Moment:
    has_time: bool
    zoned: bool
    fsp: int | None  # fractional-second digits, None when unknown


_Profile = _Exact | _Approx | _Chars | _Bytes | _Moment

_SIGNED_BYTES = {
    T.TINYINT: 1, T.SMALLINT: 2, T.MEDIUMINT: 3, T.INT: 4, T.BIGINT: 8,
    T.SMALLSERIAL: 2, T.SERIAL: 4, T.BIGSERIAL: 8,
}  # fmt: skip
_UNSIGNED_BYTES = {T.UTINYINT: 1, T.USMALLINT: 2, T.UMEDIUMINT: 3, T.UINT: 4, T.UBIGINT: 8}
_VARIABLE_CHARS = {T.VARCHAR, T.NVARCHAR}
_FIXED_CHARS = {T.CHAR, T.NCHAR}
_MYSQL_TEXT = {T.TINYTEXT: 255, T.TEXT: 65_535, T.MEDIUMTEXT: 16_777_215, T.LONGTEXT: 4_294_967_295}
_BLOBS = {T.TINYBLOB: 255, T.BLOB: 65_535, T.MEDIUMBLOB: 16_777_215, T.LONGBLOB: 4_294_967_295}
#: String types whose length can grow in place (PostgreSQL: binary-coercible; MySQL: in-place VARCHAR extension).
_GROWABLE = {"postgresql": {T.VARCHAR, T.NVARCHAR, T.TEXT}, "mysql": {T.VARCHAR, T.NVARCHAR}}
#: Fractional-second digits of a timestamp declared without them: MySQL keeps whole seconds, PostgreSQL
#: microseconds (SQLite stores text: unknown).
_DEFAULT_FSP = {"mysql": 0, "postgresql": 6}
_TIMESTAMPS = {T.TIMESTAMP: False, T.DATETIME: False, T.TIMESTAMPTZ: True, T.TIMESTAMPLTZ: True}


def compare(old: exp.DataType, new: exp.DataType, *, dialect: str) -> Change:
    """Whether ``new`` holds every value ``old`` can hold (``dialect`` is ours: postgresql, mysql, sqlite)."""
    old_profile, new_profile = _profile(old, dialect), _profile(new, dialect)
    if old.this == new.this and old_profile == new_profile and (old_profile or old == new):
        return Change.SAME
    if old_profile is None or new_profile is None:
        return Change.UNKNOWN
    return _compare_profiles(old_profile, new_profile)


def rewrites_table(old: exp.DataType, new: exp.DataType, *, dialect: str) -> bool:
    """Whether a widening change still rebuilds the table: all but growing a varchar (or a PG numeric) do."""
    growable = _GROWABLE.get(dialect, set())
    if old.this in growable and new.this in growable:
        return False
    return not (dialect == "postgresql" and old.this == new.this == T.DECIMAL)


def _compare_profiles(old: _Profile, new: _Profile) -> Change:
    if isinstance(old, _Exact) and isinstance(new, _Exact):
        return _verdict(new.lo <= old.lo and new.hi >= old.hi and new.scale >= old.scale)
    if isinstance(old, _Approx) and isinstance(new, _Approx):
        return _verdict(new.bits >= old.bits)
    if isinstance(old, _Exact) and isinstance(new, _Approx):
        return _verdict(old.scale == 0 and max(-old.lo, old.hi) <= 2**new.bits)
    if isinstance(old, _Approx) and isinstance(new, _Exact):
        return Change.NARROWER
    if isinstance(old, _Exact) and isinstance(new, _Chars):
        return _verdict(new.length >= _chars_needed(old))
    if (isinstance(old, _Chars) and isinstance(new, _Chars)) or (isinstance(old, _Bytes) and isinstance(new, _Bytes)):
        return _verdict(new.length >= old.length)
    if isinstance(old, _Moment) and isinstance(new, _Moment):
        return _compare_moments(old, new)
    return Change.UNKNOWN


def _compare_moments(old: _Moment, new: _Moment) -> Change:
    if old.zoned != new.zoned and old.has_time and new.has_time:
        return Change.UNKNOWN  # same instants, different meaning: not a width question
    if old.has_time and not new.has_time:
        return Change.NARROWER
    if old.fsp is not None and new.fsp is not None and new.fsp < old.fsp:
        return Change.NARROWER
    return Change.WIDER


def _verdict(fits: bool) -> Change:
    return Change.WIDER if fits else Change.NARROWER


def _chars_needed(profile: _Exact) -> float:
    """Characters the longest value of an exact numeric type takes as text (sign, digits, point, fraction)."""
    if math.isinf(profile.hi) or math.isinf(profile.scale):
        return math.inf
    digits = len(str(int(max(-profile.lo, profile.hi))))
    return 1 + digits + (profile.scale + 1 if profile.scale else 0)


def _profile(dtype: exp.DataType, dialect: str) -> _Profile | None:
    """The value domain of ``dtype``, or None when we do not model the type."""
    kind = dtype.this
    params = _params(dtype)
    if params is None:
        return None
    if kind in _SIGNED_BYTES:
        half = 2 ** (8 * _SIGNED_BYTES[kind] - 1)
        return _Exact(lo=-half, hi=half - 1, scale=0)
    if kind in _UNSIGNED_BYTES:
        return _Exact(lo=0, hi=2 ** (8 * _UNSIGNED_BYTES[kind]) - 1, scale=0)
    if kind == T.DECIMAL:
        return _decimal(params, dialect)
    if kind in (T.FLOAT, T.DOUBLE):
        return _Approx(bits=24 if kind == T.FLOAT or (params and params[0] <= 24) else 53)
    if kind in _TIMESTAMPS:
        return _Moment(has_time=True, zoned=_TIMESTAMPS[kind], fsp=params[0] if params else _DEFAULT_FSP.get(dialect))
    if kind == T.DATE:
        return _Moment(has_time=False, zoned=False, fsp=None)
    return _text_profile(kind, params, dialect)


def _text_profile(kind: exp.DType, params: list[int], dialect: str) -> _Profile | None:
    unbounded = dialect == "sqlite"  # SQLite never enforces declared lengths
    if kind in _VARIABLE_CHARS or kind in _FIXED_CHARS or kind == T.BPCHAR:
        default = math.inf if kind not in _FIXED_CHARS else 1
        return _Chars(length=math.inf if unbounded else (params[0] if params else default))
    if kind in _MYSQL_TEXT:
        return _Chars(length=_MYSQL_TEXT[kind] if dialect == "mysql" else math.inf)
    if kind in (T.VARBINARY, T.BINARY):
        return _Bytes(length=math.inf if unbounded or not params else params[0])
    if kind in _BLOBS:
        return _Bytes(length=_BLOBS[kind] if dialect == "mysql" else math.inf)
    return None


def _decimal(params: list[int], dialect: str) -> _Exact:
    if not params:
        if dialect == "mysql":
            params = [10, 0]  # MySQL's DECIMAL means DECIMAL(10, 0)
        else:
            return _Exact(lo=-math.inf, hi=math.inf, scale=math.inf)
    precision, scale = params[0], (params[1] if len(params) > 1 else 0)
    bound = 10 ** (precision - scale) - 1
    return _Exact(lo=-bound, hi=bound, scale=scale)


def _params(dtype: exp.DataType) -> list[int] | None:
    """The numeric type parameters (lengths, precision, scale); None when one is not a plain number."""
    values: list[int] = []
    for param in dtype.expressions:
        if not (isinstance(param, exp.DataTypeParam) and param.name.isdigit()):
            return None
        values.append(int(param.name))
    return values

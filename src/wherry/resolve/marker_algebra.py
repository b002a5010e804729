"""PEP 508 markers as sets of environments, for universal resolution.

`packaging` evaluates a marker against one environment; a universal resolution has to
ask whether a marker *can* hold somewhere in a region of environments, whether two
markers are disjoint, and which environments need a package, then print that as a
marker again. This represents a marker as a union of "cubes": per variable, the values
allowed (a version range for the Python version, a finite or co-finite set of strings
for platform variables). Comparisons it cannot model exactly (substring `in`, ordered
string comparisons, other version variables) become opaque atoms, independent of each
other: that over-approximates what is possible, which keeps every answer sound (a
dependency that might apply is included; a fork happens only on proven disjointness).

`python_version` is expressed on `python_full_version` (`python_version >= '3.10'` is
`python_full_version >= '3.10'`, `python_version == '3.10'` is `== '3.10.*'`), as uv
does, so the two spellings combine.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wherry.resolve.ranges import PubGrubRange

PYTHON = "python_full_version"
STRING_VARIABLES = ("implementation_name", "os_name", "platform_machine",
                    "platform_python_implementation", "platform_system", "sys_platform")
# Variables the output prints first, in this order (then opaque atoms).
_ORDER = (PYTHON, *STRING_VARIABLES)


@dataclass(frozen=True)
class Strings:
    """A set of string values: `values` itself, or everything but `values` (`negated`)."""

    values: frozenset[str]
    negated: bool

    def __and__(self, other: Strings) -> Strings:
        if not self.negated and not other.negated:
            return Strings(self.values & other.values, False)
        if self.negated and other.negated:
            return Strings(self.values | other.values, True)
        positive, negative = (self, other) if not self.negated else (other, self)
        return Strings(positive.values - negative.values, False)

    def __or__(self, other: Strings) -> Strings:
        return ~(~self & ~other)

    def __invert__(self) -> Strings:
        return Strings(self.values, not self.negated)

    @property
    def is_empty(self) -> bool:
        return not self.negated and not self.values

    @property
    def is_full(self) -> bool:
        return self.negated and not self.values

    def is_subset(self, other: Strings) -> bool:
        return (self & ~other).is_empty


Constraint = PubGrubRange | Strings | bool
Cube = tuple[tuple[str, Constraint], ...]  # sorted by variable


def _empty(value: Constraint) -> bool:
    if isinstance(value, bool):
        return False
    return bool(value.is_empty)


def _full(value: Constraint) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, Strings):
        return value.is_full
    return value.covers_all_versions()


def _and(a: Constraint, b: Constraint) -> Constraint | None:
    """The intersection, None when empty (opaque atoms: equal or contradictory)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a if a == b else None
    result: Constraint = a & b  # type: ignore[operator]
    return None if _empty(result) else result


def _not(value: Constraint) -> Constraint | None:
    if isinstance(value, bool):
        return not value
    result: Constraint = ~value
    return None if _empty(result) else result


def _subset(a: Constraint, b: Constraint) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, Strings) and isinstance(b, Strings):
        return a.is_subset(b)
    if isinstance(a, PubGrubRange) and isinstance(b, PubGrubRange):
        return bool(a.is_subset(b))
    return False


class MarkerSet:
    """A set of environments: a union of cubes (an empty union is no environment)."""

    __slots__ = ("cubes",)

    def __init__(self, cubes: tuple[Cube, ...]) -> None:
        self.cubes = cubes

    @classmethod
    def true(cls) -> MarkerSet:
        return cls(((),))

    @classmethod
    def false(cls) -> MarkerSet:
        return cls(())

    @classmethod
    def atom(cls, variable: str, value: Constraint) -> MarkerSet:
        if _empty(value):
            return cls.false()
        if _full(value):
            return cls.true()
        return cls((((variable, value),),))

    @property
    def is_empty(self) -> bool:
        return not self.cubes

    def __and__(self, other: MarkerSet) -> MarkerSet:
        cubes = []
        for left in self.cubes:
            for right in other.cubes:
                joined = _cube_and(left, right)
                if joined is not None:
                    cubes.append(joined)
        return MarkerSet(tuple(cubes)).simplified()

    def __or__(self, other: MarkerSet) -> MarkerSet:
        return MarkerSet(self.cubes + other.cubes).simplified()

    def __invert__(self) -> MarkerSet:
        result = MarkerSet.true()
        for cube in self.cubes:
            negated = MarkerSet(tuple(
                ((variable, inverse),) for variable, value in cube
                if (inverse := _not(value)) is not None
            ))
            result = result & negated
            if result.is_empty:
                break
        return result

    def contains(self, environment: dict[str, str]) -> bool:
        """Whether one concrete environment (PEP 508 variables) is in the set."""
        return any(all(_holds(variable, value, environment) for variable, value in cube)
                   for cube in self.cubes)

    def is_disjoint(self, other: MarkerSet) -> bool:
        return (self & other).is_empty

    def is_subset(self, other: MarkerSet) -> bool:
        return (self & ~other).is_empty

    def simplified(self) -> MarkerSet:
        """Without duplicate or subsumed cubes, and with cubes that differ in one
        variable merged (so `a or not a` becomes everything)."""
        cubes = list(dict.fromkeys(self.cubes))
        changed = True
        while changed:
            changed = False
            cubes = [c for i, c in enumerate(cubes)
                     if not any(j != i and _cube_subset(c, d) and (c != d or j < i)
                                for j, d in enumerate(cubes))]
            for i in range(len(cubes)):
                for j in range(i + 1, len(cubes)):
                    merged = _cube_merge(cubes[i], cubes[j])
                    if merged is not None:
                        cubes[i] = merged
                        del cubes[j]
                        changed = True
                        break
                if changed:
                    break
            if changed:
                continue
            for i, j in itertools.permutations(range(len(cubes)), 2):
                widened = _cube_absorb(cubes[i], cubes[j])
                if widened is not None:
                    cubes[j] = widened
                    changed = True
                    break
        return MarkerSet(tuple(cubes))

    def python_lower_bound(self, default: Version) -> Version:
        """The lowest Python version any environment of the set can have."""
        lowest: Version | None = None
        for cube in self.cubes:
            python = dict(cube).get(PYTHON)
            bound = default
            if isinstance(python, PubGrubRange) and python._bounds:
                low = python._bounds[0][0].version
                if isinstance(low, Version):
                    bound = max(low, default)
            lowest = bound if lowest is None else min(lowest, bound)
        return lowest if lowest is not None else default

    def render(self, base: MarkerSet | None = None) -> str | None:
        """PEP 508 text (None for "everywhere"), leaving out what `base` already implies
        (a universal resolution's Python floor). Callers never render an empty set."""
        cubes = self.cubes
        floor = None
        if base is not None:
            if base.is_subset(self):
                return None
            inside = (self & base).cubes
            if inside:  # else nothing of `self` is in `base`: say it all
                cubes = inside
                floor = base.python_lower_bound(Version("0"))
        if not cubes or cubes == ((),):
            return None
        parts = sorted(_render_cube(cube, floor) for cube in cubes)
        if len(parts) == 1:
            return parts[0]
        return " or ".join(f"({p})" if " and " in p else p for p in parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MarkerSet):
            return NotImplemented
        return self.is_subset(other) and other.is_subset(self)

    def __hash__(self) -> int:  # pragma: no cover - not hashed by value
        return id(self)

    def __repr__(self) -> str:
        return f"MarkerSet({self.render()!r})"


def _holds(variable: str, value: Constraint, environment: dict[str, str]) -> bool:
    if isinstance(value, bool):  # an opaque atom is its own marker text
        return bool(Marker(variable).evaluate(environment)) == value
    if isinstance(value, Strings):
        return (environment[variable] in value.values) != value.negated
    return Version(environment["python_full_version"]) in value


def _cube_and(left: Cube, right: Cube) -> Cube | None:
    values: dict[str, Constraint] = dict(left)
    for variable, value in right:
        if variable in values:
            joined = _and(values[variable], value)
            if joined is None:
                return None
            values[variable] = joined
        else:
            values[variable] = value
    return tuple(sorted(values.items(), key=lambda item: _key(item[0])))


def _cube_subset(small: Cube, big: Cube) -> bool:
    """Every environment of `small` is in `big`."""
    values = dict(small)
    for variable, value in big:
        mine = values.get(variable)
        if mine is None or not _subset(mine, value):
            return False
    return True


def _cube_absorb(single: Cube, other: Cube) -> Cube | None:
    """`x or (y and rest)` is `x or ((x or y) and rest)` when `x` constrains one variable
    only (what the widening adds lies in `x`): `other` widened that way, or None when
    that changes nothing. Turns `a < 3.11 or (a >= 3.11 and b)` into `a < 3.11 or b`."""
    if len(single) != 1:
        return None
    variable, value = single[0]
    values = dict(other)
    mine = values.get(variable)
    if mine is None or len(values) < 2 or _subset(value, mine):
        return None
    if isinstance(mine, bool) or isinstance(value, bool):
        del values[variable]  # `atom or (not atom and rest)`
    else:
        union: Constraint = mine | value  # type: ignore[operator]
        if _full(union):
            del values[variable]
        else:
            values[variable] = union
    return tuple(sorted(values.items(), key=lambda item: _key(item[0])))


def _cube_merge(a: Cube, b: Cube) -> Cube | None:
    """`a or b` as one cube, when they constrain the same variables and differ in one."""
    da, db = dict(a), dict(b)
    if da.keys() != db.keys():
        return None
    different = [v for v in da if da[v] != db[v]]
    if len(different) != 1:
        return None
    (variable,) = different
    x, y = da[variable], db[variable]
    if isinstance(x, bool) or isinstance(y, bool):
        del da[variable]  # `atom or not atom`
    else:
        union: Constraint = x | y  # type: ignore[operator]
        if _full(union):
            del da[variable]
        else:
            da[variable] = union
    return tuple(sorted(da.items(), key=lambda item: _key(item[0])))


def _key(variable: str) -> tuple[int, str]:
    return (_ORDER.index(variable) if variable in _ORDER else len(_ORDER), variable)


def _render_cube(cube: Cube, floor: Version | None) -> str:
    parts: list[str] = []
    for variable, value in cube:
        if isinstance(value, bool):
            parts.append(variable if value else f"not ({variable})")
        elif isinstance(value, Strings):
            op = "!=" if value.negated else "=="
            joiner = " and " if value.negated else " or "
            text = joiner.join(f"{variable} {op} '{v}'" for v in sorted(value.values))
            if len(value.values) > 1 and not value.negated:
                text = f"({text})"
            parts.append(text)
        else:
            parts.append(_render_python(value, floor))
    return " and ".join(part for part in parts if part)


def _minor_block(low: Any, high: Any) -> str | None:
    """`3.10` when the interval is exactly [3.10, 3.11) (printed `== '3.10.*'`)."""
    lv, hv = low.version, high.version
    if not (isinstance(lv, Version) and isinstance(hv, Version)):
        return None
    if not low.inclusive or high.inclusive or len(lv.release) != 2 or lv != Version(
            f"{lv.major}.{lv.minor}"):
        return None
    return f"{lv.major}.{lv.minor}" if hv == Version(f"{lv.major}.{lv.minor + 1}") else None


def _render_python(value: PubGrubRange, floor: Version | None = None) -> str:
    """`python_full_version >= '3.10' and python_full_version < '3.12'`; a lower bound at
    the universal resolution's floor goes unsaid."""
    bounds = value._bounds
    first_low = bounds[0][0] if bounds else None
    open_below = first_low is not None and (
        first_low.version is None or (first_low.inclusive and first_low.version == floor))
    if len(bounds) == 2 and open_below and bounds[1][1].version is None:
        below, above = bounds[0][1], bounds[1][0]
        if below.version == above.version and not below.inclusive and not above.inclusive:
            return f"{PYTHON} != '{below.version}'"
    alternatives = []
    for low, high in bounds:
        clauses = []
        if low.version is not None and low.version == high.version:
            alternatives.append(f"{PYTHON} == '{low.version}'")
            continue
        minor = _minor_block(low, high)
        if minor is not None and not (low.inclusive and low.version == floor):
            alternatives.append(f"{PYTHON} == '{minor}.*'")
            continue
        if low.version is not None and not (low.inclusive and low.version == floor):
            clauses.append(f"{PYTHON} {'>=' if low.inclusive else '>'} '{low.version}'")
        if high.version is not None:
            clauses.append(f"{PYTHON} {'<=' if high.inclusive else '<'} '{high.version}'")
        alternatives.append(" and ".join(clauses))
    if "" in alternatives:
        return ""  # one interval is unbounded above the floor: no constraint to state
    if len(alternatives) == 1:
        return alternatives[0]
    return "(" + " or ".join(f"({a})" if " and " in a else a for a in alternatives) + ")"


# -- from packaging's Marker -------------------------------------------------------------

_SYSTEM_TO_PLATFORM = {"Windows": "win32", "Darwin": "darwin", "Linux": "linux"}

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def from_marker(marker: Marker | None, extras: frozenset[str] = frozenset()) -> MarkerSet:
    """The environments where `marker` holds, with `extra` fixed: `extras` are the ones
    requested (`extra == 'x'` holds for them only)."""
    if marker is None:
        return MarkerSet.true()
    return _expression(marker._markers, extras)


def _expression(items: list[Any], extras: frozenset[str]) -> MarkerSet:
    result = MarkerSet.false()
    conjunction = MarkerSet.true()
    for item in items:
        if item == "or":
            result = result | conjunction
            conjunction = MarkerSet.true()
        elif item == "and":
            continue
        elif isinstance(item, list):
            conjunction = conjunction & _expression(item, extras)
        else:
            conjunction = conjunction & _atom(item, extras)
    return result | conjunction


def _atom(item: tuple[Any, Any, Any], extras: frozenset[str]) -> MarkerSet:
    lhs, op_node, rhs = item
    op = op_node.value
    lhs_is_var = type(lhs).__name__ == "Variable"
    variable, value = (lhs.value, rhs.value) if lhs_is_var else (rhs.value, lhs.value)
    text = f"{lhs.value if lhs_is_var else repr(lhs.value)} {op} " \
        f"{repr(rhs.value) if lhs_is_var else rhs.value}"
    if not lhs_is_var:
        if op not in _FLIP:
            return MarkerSet.atom(text, True)
        op = _FLIP[op]
    if variable == "extra":
        if op not in ("==", "!="):
            return MarkerSet.false()
        holds = canonicalize_name(value) in extras
        return MarkerSet.true() if holds == (op == "==") else MarkerSet.false()
    if variable in ("python_version", "python_full_version"):
        python = _python_range(variable, op, value)
        return MarkerSet.atom(text, True) if python is None else MarkerSet.atom(PYTHON, python)
    if variable == "platform_system" and value in _SYSTEM_TO_PLATFORM and op in ("==", "!="):
        # uv's reading: these platform_system values and sys_platform values name the
        # same platforms, so `colorama; platform_system == 'Windows'` and
        # `colorama; sys_platform == 'win32'` combine into one marker.
        variable, value = "sys_platform", _SYSTEM_TO_PLATFORM[value]
    if variable in STRING_VARIABLES and op in ("==", "!="):
        return MarkerSet.atom(variable, Strings(frozenset({value}), op == "!="))
    return MarkerSet.atom(text, True)


def _interval(low: Version | None, low_inclusive: bool, high: Version | None,
              high_inclusive: bool) -> PubGrubRange:
    """A plain interval in version order (no PEP 440 pre/post-release exceptions), so
    that complements are exact: `< 3.10` and `>= 3.10` together are everything."""
    from packaging._ranges import LowerBound, UpperBound

    bounds = ((LowerBound(low, low_inclusive), UpperBound(high, high_inclusive)),)
    return PubGrubRange._build(bounds, prereleases_configured=True)  # type: ignore[return-value]


def _python_range(variable: str, op: str, value: str) -> PubGrubRange | None:
    """The Python versions (as `python_full_version`) a comparison admits."""
    wildcard = value.endswith(".*")
    try:
        version = Version(value[:-2] if wildcard else value)
    except InvalidVersion:
        return None
    release = version.release
    if variable == "python_version" and len(release) == 2 and not (
        version.pre or version.post or version.dev or version.local
    ) and not wildcard:
        major, minor = release
        low, nxt = Version(f"{major}.{minor}"), Version(f"{major}.{minor + 1}")
        return {
            "==": _interval(low, True, nxt, False),
            "!=": ~_interval(low, True, nxt, False),
            "<": _interval(None, False, low, False),
            "<=": _interval(None, False, nxt, False),
            ">": _interval(nxt, True, None, False),
            ">=": _interval(low, True, None, False),
            "~=": _interval(low, True, Version(f"{major + 1}"), False),
        }.get(op)
    if wildcard:
        if op not in ("==", "!=") or not release:
            return None
        prefix = release
        upper = Version(".".join(map(str, (*prefix[:-1], prefix[-1] + 1))))
        block = _interval(Version(".".join(map(str, prefix))), True, upper, False)
        return block if op == "==" else ~block
    if op == "~=":
        if len(release) < 2:
            return None
        upper = Version(".".join(map(str, (*release[:-2], release[-2] + 1))))
        return _interval(version, True, upper, False)
    return {
        "==": _interval(version, True, version, True),
        "!=": ~_interval(version, True, version, True),
        "<": _interval(None, False, version, False),
        "<=": _interval(None, False, version, True),
        ">": _interval(version, False, None, False),
        ">=": _interval(version, True, None, False),
    }.get(op)

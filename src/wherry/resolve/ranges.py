"""packaging's `VersionRange` shaped for nab-resolver's `RangeProtocol`.

nab-resolver needs `relation()` and ranges whose set operations return the same class.
Every range here is built with `prereleases=True` so that membership is plain set
membership: whether a pre-release may be *chosen* is the provider's policy, decided
when it picks a version, not a property of the range (packaging's default policy would
otherwise make `1.0a1 in >=0.9` false and the solver would reason about a different set).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from packaging.ranges import VersionRange
from packaging.specifiers import SpecifierSet
from packaging.version import Version

if TYPE_CHECKING:
    from typing_extensions import Self


class Relation(NamedTuple):
    is_subset: bool
    is_disjoint: bool


class PubGrubRange(VersionRange):
    """A `VersionRange` with pure set membership and the protocol's `relation()`."""

    __slots__ = ()

    @classmethod
    def empty(cls, *, prereleases: bool | None = True) -> Self:
        return cls._build((), prereleases_configured=True)  # type: ignore[return-value]

    @classmethod
    def full(cls, *, admit_arbitrary: bool = True, prereleases: bool | None = True) -> Self:
        return super().full(admit_arbitrary=admit_arbitrary, prereleases=True)  # type: ignore[return-value]

    @classmethod
    def singleton(cls, version: Version | str, *, prereleases: bool | None = True) -> Self:
        return super().singleton(version, prereleases=True)  # type: ignore[return-value]

    @classmethod
    def from_specifier(cls, specifier: SpecifierSet | str) -> PubGrubRange:
        text = str(specifier)
        built = SpecifierSet(text, prereleases=True).to_range()
        return cls._adopt(built)

    @classmethod
    def between(cls, low: Version | None, high: Version | None) -> PubGrubRange:
        """The open interval (`low`, `high`) in PEP 440 version order (None: unbounded).

        Plain order, not `>`/`<` specifier semantics (which skip post, local and
        pre-releases of the bound): the provider widens a decision to the gap between
        its neighbouring versions, whatever they are."""
        from packaging._ranges import LowerBound, UpperBound

        bounds = ((LowerBound(low, False), UpperBound(high, False)),)
        return cls._build(bounds, prereleases_configured=True)  # type: ignore[return-value]

    @classmethod
    def _adopt(cls, value: VersionRange) -> PubGrubRange:
        if isinstance(value, cls):
            return value
        result = object.__new__(cls)
        for slot in VersionRange.__slots__:
            object.__setattr__(result, slot, getattr(value, slot))
        return result

    def is_single_version(self) -> bool:
        """Whether exactly one version is in the range (a pin), read from its bounds."""
        if len(self._bounds) != 1 or self._admit or self._reject:
            return False
        lower, upper = self._bounds[0]
        return (
            lower.version is not None
            and lower.inclusive
            and upper.inclusive
            and lower.version == upper.version
        )

    def covers_all_versions(self) -> bool:
        """Whether every PEP 440 version is in the range (`~empty()` is such a range
        without the arbitrary `===` strings, so `~self` is not empty for it)."""
        if len(self._bounds) != 1:
            return False
        lower, upper = self._bounds[0]
        return lower.version is None and upper.version is None

    def relation(self, other: PubGrubRange) -> Relation:
        if self.is_empty:
            return Relation(True, True)
        return Relation(self.is_subset(other), self.is_disjoint(other))

    def __and__(self, other: object) -> PubGrubRange:
        return self._adopt(super().__and__(other))

    def __or__(self, other: object) -> PubGrubRange:
        return self._adopt(super().__or__(other))

    def __invert__(self) -> PubGrubRange:
        return self._adopt(super().__invert__())

    def __sub__(self, other: object) -> PubGrubRange:
        return self._adopt(super().__sub__(other))

    def __contains__(self, item: object) -> bool:
        if isinstance(item, (str, Version)):
            return self.contains(item, prereleases=True)
        return False

    def display(self) -> str:
        """`>=1.0, <2.0` for error messages; `*` for everything; `==1.0 | >=2.0` for unions."""
        if self.is_empty:
            return "(no versions)"
        if self.covers_all_versions():
            return "*"
        specifier = self.to_specifier_set()
        if specifier is not None:
            text = ",".join(sorted(str(specifier).split(","), key=_operator_order))
            return text.replace(",", ", ") if text else "*"
        match = re.search(r"'(.*)'", repr(self))
        if not match:
            return repr(self)
        body = re.sub(r"\[[A-Z_]+\]", "", match.group(1))
        return " | ".join(_interval_text(part) for part in body.split(" | "))


def _operator_order(clause: str) -> tuple[int, str]:
    return (0 if clause.startswith(">") else 1, clause)


def _interval_text(interval: str) -> str:
    low_bracket, rest = interval[0], interval[1:-1]
    high_bracket = interval[-1]
    low, _, high = rest.partition(", ")
    if low == high and low_bracket == "[" and high_bracket == "]":
        return f"=={low}"
    parts = []
    if low != "-inf":
        parts.append((">=" if low_bracket == "[" else ">") + low)
    if high != "+inf":
        parts.append(("<=" if high_bracket == "]" else "<") + high)
    return ", ".join(parts) or "*"

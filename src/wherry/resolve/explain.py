"""A failed resolution's proof, told as prose the way uv tells it.

nab-resolver hands back the root of a derivation tree: external facts (you require a
package; a version depends on another package; no versions exist in a range; a
constraint) combined by resolution steps into the conclusion that the root requirements
conflict. This walks that tree the way pubgrub-rs's `DefaultStringReporter` does, with
uv's wording ("Because a==1.0 depends on b>=2 and you require b<2, we can conclude that
a==1.0 cannot be used."), numbering a step that is used more than once so later lines
can refer back to it ("we know from (1) that ...").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec
from nab_resolver.root import ROOT
from nab_resolver.types import Incompatibility, IncompatibilityCause, Term
from packaging.version import Version

PYTHON = "Python"
INVALID = "<invalid metadata>"  # as resolve/provider.py

Node = Incompatibility[Any, Any]


class ExplainContext(msgspec.Struct, frozen=True):
    """What the prose needs beyond the tree: the versions each package really has (to
    say "only a==1.0 is available"), and the target Python (to say why it does not fit)."""

    available: Callable[[str], Iterable[Version]]
    python_version: str
    python_requested: bool = False


def range_text(package: str, constraint: Any) -> str:
    """`b>=2`, `b>=1.0,<2.0`, `a==1.0`; a union as `a<1.0 | a>2.0`; empty as `a (none)`."""
    shown: str = constraint.display()
    if shown == "*":
        return package
    if shown == "(no versions)":
        return f"{package} (no versions)"
    parts = [part.replace(", ", ",") for part in shown.split(" | ")]
    return " | ".join(package + ("" if part == "*" else part) for part in parts)


def _is_full(constraint: Any) -> bool:
    return bool(constraint.covers_all_versions() or (~constraint).is_empty)


class Explainer:
    """Renders one derivation tree (a fresh instance per report)."""

    def __init__(self, context: ExplainContext) -> None:
        self.context = context
        self.lines: list[str] = []
        self.refs: dict[int, int] = {}  # id(shared node) -> its line number
        self.shared: set[int] = set()

    # -- the walk (pubgrub-rs's DefaultStringReporter) -----------------------------------
    def report(self, root: Node) -> list[str]:
        if root.cause is not IncompatibilityCause.DERIVED:
            return [f"Because {self.external(root)}, {self.terms(root)}."]
        self._find_shared(root)
        self._build(root)
        return self.lines

    def _find_shared(self, root: Node) -> None:
        parents: dict[int, int] = {}
        stack, seen = [root], set()
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            for cause in (node.cause_left, node.cause_right):
                if cause is not None and cause.cause is IncompatibilityCause.DERIVED:
                    parents[id(cause)] = parents.get(id(cause), 0) + 1
                    stack.append(cause)
        self.shared = {key for key, count in parents.items() if count > 1}

    def _build(self, node: Node) -> None:
        self._build_helper(node)
        if id(node) in self.shared and id(node) not in self.refs:
            self._add_ref(node)

    def _add_ref(self, node: Node) -> None:
        number = len(self.refs) + 1
        self.refs[id(node)] = number
        if self.lines:
            self.lines[-1] += f" ({number})"

    def _ref(self, node: Node) -> int | None:
        return self.refs.get(id(node))

    def _build_helper(self, node: Node) -> None:
        left, right = node.cause_left, node.cause_right
        assert left is not None and right is not None
        left_derived = left.cause is IncompatibilityCause.DERIVED
        right_derived = right.cause is IncompatibilityCause.DERIVED
        if not left_derived and not right_derived:
            self.lines.append(
                f"Because {self.both_external(left, right)}, "
                f"we can conclude that {self.terms(node)}."
            )
        elif left_derived and not right_derived:
            self._one_each(left, right, node)
        elif right_derived and not left_derived:
            self._one_each(right, left, node)
        else:
            ref1, ref2 = self._ref(left), self._ref(right)
            if ref1 is not None and ref2 is not None:
                self.lines.append(
                    f"Because we know from ({ref1}) that {self.terms(left)} and we know "
                    f"from ({ref2}) that {self.terms(right)}, "
                    f"we can conclude that {self.terms(node)}."
                )
            elif ref1 is not None:
                self._build(right)
                self._and_ref(ref1, left, node)
            elif ref2 is not None:
                self._build(left)
                self._and_ref(ref2, right, node)
            else:
                self._build(left)
                if id(left) in self.shared:
                    self.lines.append("")
                    self._build(node)
                else:
                    self._add_ref(left)
                    ref = self.refs[id(left)]
                    self.lines.append("")
                    self._build(right)
                    self._and_ref(ref, left, node)

    def _and_ref(self, ref: int, derived: Node, node: Node) -> None:
        self.lines.append(
            f"And because we know from ({ref}) that {self.terms(derived)}, "
            f"we can conclude that {self.terms(node)}."
        )

    def _one_each(self, derived: Node, external: Node, node: Node) -> None:
        ref = self._ref(derived)
        if ref is not None:
            self.lines.append(
                f"Because we know from ({ref}) that {self.terms(derived)} and "
                f"{self.external(external)}, we can conclude that {self.terms(node)}."
            )
            return
        left, right = derived.cause_left, derived.cause_right
        assert left is not None and right is not None
        left_derived = left.cause is IncompatibilityCause.DERIVED
        right_derived = right.cause is IncompatibilityCause.DERIVED
        if left_derived != right_derived:
            prior_derived, prior_external = (left, right) if left_derived else (right, left)
            self._build(prior_derived)
            self.lines.append(
                f"And because {self.both_external(prior_external, external)}, "
                f"we can conclude that {self.terms(node)}."
            )
        else:
            self._build(derived)
            self.lines.append(
                f"And because {self.external(external)}, "
                f"we can conclude that {self.terms(node)}."
            )

    # -- wording ------------------------------------------------------------------------
    def both_external(self, first: Node, second: Node) -> str:
        """Two facts in one clause; two root requirements read "you require a and b"."""
        if first.cause is second.cause is IncompatibilityCause.ROOT:
            required = sorted([self._required(first), self._required(second)])
            return f"you require {required[0]} and {required[1]}"
        parent_first, parent_second = _dependency_parent(first), _dependency_parent(second)
        if parent_first is not None and parent_second is not None and (
            parent_first.package == parent_second.package
            and parent_first.constraint == parent_second.constraint
        ):
            subject = self.subject(parent_first.package, parent_first.constraint)
            verb = "depend on" if _is_full(parent_first.constraint) else "depends on"
            return (f"{subject} {verb} {self._dependency_object(first)} and "
                    f"{self._dependency_object(second)}")
        return f"{self.external(first)} and {self.external(second)}"

    def subject(self, package: str, constraint: Any) -> str:
        """A positive term as the subject of a sentence, narrowed to the versions that
        exist (uv does the same): `a<2.0 | a>2.0` holding only 1.0 reads `a==1.0`, a
        range holding every available version reads `all versions of a`."""
        if _is_full(constraint):
            return f"all versions of {package}"
        if package != PYTHON:
            available = set(self.context.available(package.partition("[")[0]))
            inside = [v for v in available if v in constraint]
            if inside and len(inside) == len(available) and len(available) > 1:
                return f"all versions of {package}"
            if len(inside) == 1:
                return f"{package}=={inside[0]}"
        return range_text(package, constraint)

    def _required(self, node: Node) -> str:
        dependency = next(t for t in node.terms if t.package is not ROOT)
        return self._object(dependency)

    def _object(self, term: Term[Any, Any]) -> str:
        return range_text(term.package, term.constraint)

    def _dependency_object(self, node: Node) -> str:
        terms = node.terms
        if len(terms) == 1:
            return range_text(terms[0].package, node.dependency_range)
        return self._object(terms[1])

    def external(self, node: Node) -> str:
        cause = node.cause
        terms = node.terms
        if cause is IncompatibilityCause.ROOT:
            return f"you require {self._required(node)}"
        if cause is IncompatibilityCause.CONSTRAINT:
            (term,) = terms
            return f"your constraints require {range_text(term.package, node.constraint_range)}"
        if cause is IncompatibilityCause.NO_VERSIONS:
            (term,) = terms
            return self.no_versions(term.package, term.constraint)
        if cause is IncompatibilityCause.DEPENDENCY:
            parent = terms[0]
            subject = self.subject(parent.package, parent.constraint)
            if len(terms) == 2 and str(terms[1].package).startswith(INVALID):
                return f"{subject} needs valid metadata"
            verb = "depend on" if _is_full(parent.constraint) else "depends on"
            if len(terms) == 2 and terms[1].is_positive():
                return f"{subject} {'are' if verb == 'depend on' else 'is'} incompatible " \
                    f"with {self._object(terms[1])}"
            return f"{subject} {verb} {self._dependency_object(node)}"
        return self.terms(node)  # pragma: no cover - every external cause is handled above

    def no_versions(self, package: str, constraint: Any) -> str:
        if package.startswith(INVALID):  # resolve/provider.py: a version's bad metadata
            return package[len(INVALID):].strip().replace(" (", " has invalid metadata (", 1)
        if package == PYTHON:
            which = "requested" if self.context.python_requested else "current"
            return (f"the {which} Python version ({self.context.python_version}) does not "
                    f"satisfy {range_text(package, constraint)}")
        if _is_full(constraint):
            return f"there are no versions of {package}"
        base = package.partition("[")[0]
        outside = ~constraint
        available = sorted(v for v in self.context.available(base) if v in outside)
        if constraint.is_single_version():
            return f"there is no version of {range_text(package, constraint)}"
        if not available:
            return f"there are no versions of {range_text(package, constraint)}"
        if len(available) == 1:
            return f"only {package}=={available[0]} is available"
        if len(available) <= 4:
            listed = ", ".join(f"{package}=={v}" for v in available[:-1])
            return f"only {listed} and {package}=={available[-1]} are available"
        return f"there is no version of {range_text(package, constraint)}"

    def terms(self, node: Node) -> str:
        """What a step concludes, in uv's words ("a==1.0 cannot be used")."""
        terms = sorted(node.terms, key=lambda t: (t.package is not ROOT, str(t.package)))
        has_root = any(t.package is ROOT for t in terms)
        others = [t for t in terms if t.package is not ROOT]
        if not terms:
            return "the requirements are unsatisfiable"
        if not others:
            return "your requirements are unsatisfiable"
        if has_root and len(others) == 1 and not others[0].is_positive():
            return f"you require {self._object(others[0])}"
        if len(others) == 1:
            term = others[0]
            if term.is_positive():
                return f"{self.subject(term.package, term.constraint)} cannot be used"
            return f"{range_text(term.package, term.constraint)} must be used"
        if len(others) == 2 and others[0].is_positive() != others[1].is_positive():
            parent, dependency = others if others[0].is_positive() else others[::-1]
            subject = self.subject(parent.package, parent.constraint)
            verb = "depend on" if _is_full(parent.constraint) else "depends on"
            return f"{subject} {verb} {self._object(dependency)}"
        shown = [
            self.subject(t.package, t.constraint) if t.is_positive()
            else f"not {self._object(t)}"
            for t in others
        ]
        joined = " and ".join(shown) if len(shown) == 2 else (
            ", ".join(shown[:-1]) + ", and " + shown[-1]
        )
        return f"{joined} are incompatible"


def _dependency_parent(node: Node) -> Term[Any, Any] | None:
    if node.cause is not IncompatibilityCause.DEPENDENCY:
        return None
    if len(node.terms) == 2 and node.terms[1].is_positive():
        return None
    return node.terms[0]


def explain(root: Node, context: ExplainContext) -> str:
    """The derivation of `root` as prose lines (blank lines between independent parts)."""
    return "\n".join(Explainer(context).report(root))


def no_versions_terms(root: Node) -> list[tuple[str, Any]]:
    """(package, range) of every "no versions" fact in the proof: where hints look."""
    found: list[tuple[str, Any]] = []
    for node in root.walk():
        if node.cause is IncompatibilityCause.NO_VERSIONS:
            (term,) = node.terms
            found.append((term.package, term.constraint))
    return found

"""`wherry pip tree`: the installed packages as a dependency tree, drawn as uv draws it.

Roots are the packages nothing installed depends on (with `--invert`: the packages that
depend on nothing installed). A package shown a second time is not expanded again: its
line ends with `(*)` when it has children. Packages only reachable through a cycle are
shown as roots too, so every package appears.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from wherry.commands.depgraph import DependencyGraph
from wherry.install.site import InstalledDist, canonicalize_name

#: The footer printed when some subtree was elided, as uv prints it.
ELIDED_NOTE = "(*) Package tree already displayed"


class TreeOptions:
    def __init__(
        self,
        *,
        depth: int = 255,
        invert: bool = False,
        packages: Iterable[str] = (),
        prune: Iterable[str] = (),
        show_version_specifiers: bool = False,
    ) -> None:
        self.depth = depth
        self.invert = invert
        self.packages = [canonicalize_name(p) for p in packages]
        self.prune = {canonicalize_name(p) for p in prune}
        self.show_version_specifiers = show_version_specifiers


class _Renderer:
    def __init__(self, graph: DependencyGraph, options: TreeOptions) -> None:
        self.graph = graph
        self.options = options
        self.nodes = [n for n in graph.dists if n not in options.prune]
        # Edges as (parent, child, specifier text), pruned packages removed entirely.
        self.children: dict[str, list[tuple[str, str]]] = {n: [] for n in self.nodes}
        self.has_parent: set[str] = set()
        for name in self.nodes:
            for requirement in graph.requires.get(name, []):
                dependency = canonicalize_name(requirement.name)
                if dependency not in self.children or dependency == name:
                    continue
                specifier = str(requirement.specifier) or "*"
                if options.invert:
                    edge = (name, f"requires: {specifier}")
                    target = self.children[dependency]
                    self.has_parent.add(name)
                else:
                    edge = (dependency, f"required: {specifier}")
                    target = self.children[name]
                    self.has_parent.add(dependency)
                if all(existing[0] != edge[0] for existing in target):
                    target.append(edge)
        for edges in self.children.values():
            edges.sort()
        self.visited: set[str] = set()
        self.elided = False

    def visit(self, name: str, annotation: str | None, path: list[str]) -> list[str]:
        if len(path) > self.options.depth:
            return []
        dist: InstalledDist = self.graph.dists[name]
        line = f"{name} v{dist.version}"
        if annotation and self.options.show_version_specifiers:
            line += f" [{annotation}]"
        children = self.children[name]
        if name in path:
            return [line]
        if name in self.visited:
            if children and len(path) < self.options.depth:
                line += " (*)"
                self.elided = True
            return [line]
        self.visited.add(name)
        lines = [line]
        path.append(name)
        rendered = [self.visit(child, note, path) for child, note in children]
        rendered = [block for block in rendered if block]
        path.pop()
        for index, block in enumerate(rendered):
            last = index == len(rendered) - 1
            lines.append(("└── " if last else "├── ") + block[0])
            lines += [("    " if last else "│   ") + rest for rest in block[1:]]
        return lines

    def roots(self) -> list[str]:
        if self.options.packages:
            return [p for p in dict.fromkeys(self.options.packages) if p in self.children]
        return [n for n in self.nodes if n not in self.has_parent]

    def _reachable(self, roots: list[str]) -> set[str]:
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(child for child, _ in self.children[name])
        return seen

    def render(self) -> list[str]:
        roots = self.roots()
        if not self.options.packages:
            # Packages only reachable through a dependency cycle become roots too.
            reachable = self._reachable(roots)
            for name in self.nodes:
                if name not in reachable:
                    roots.append(name)
                    reachable |= self._reachable([name])
        lines: list[str] = []
        for root in roots:
            lines += self.visit(root, None, [])
        if self.elided:
            lines.append(ELIDED_NOTE)
        return lines


def tree_lines(
    found: Mapping[str, list[InstalledDist]], markers: Mapping[str, str], options: TreeOptions
) -> list[str]:
    """The lines of the tree (without a trailing newline each)."""
    return _Renderer(DependencyGraph(found, markers), options).render()

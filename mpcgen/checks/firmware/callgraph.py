"""Firmware check, call graph: recursion and the worst-case stack from gcc's call graph.

gcc writes the call graph of each object with ``-fcallgraph-info=su`` (VCG text) and,
with ``-fstack-usage``, every function's own frame. A cycle is a recursion; the deepest
sum of frames along a call path from an entry point is the stack it needs (libm's
frames are not in the graph).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CallGraph:
    """gcc's call graph of some objects: own stack frame per function and call edges."""

    frames: dict[str, int]                 # function -> bytes of its own frame
    calls: dict[str, frozenset[str]]       # function -> functions it calls
    dynamic: frozenset[str]                # functions whose frame size is not static

    @property
    def external(self) -> frozenset[str]:
        """Callees without a frame here: library functions (their stack is not counted)."""
        called = set().union(*self.calls.values()) if self.calls else set()
        return frozenset(called - set(self.frames))

    def cycles(self) -> list[tuple[str, ...]]:
        """Every recursion found, as the call path that closes a cycle."""
        found: list[tuple[str, ...]] = []
        state: dict[str, int] = {}   # 1 on the current path, 2 done

        def visit(fn: str, path: tuple[str, ...]) -> None:
            state[fn] = 1
            for callee in sorted(self.calls.get(fn, ())):
                if state.get(callee) == 1:
                    found.append((*path[path.index(callee):], callee) if callee in path else (fn, callee))
                elif callee not in state:
                    visit(callee, (*path, callee))
            state[fn] = 2

        for fn in sorted(set(self.frames) | set(self.calls)):
            if fn not in state:
                visit(fn, (fn,))
        return found

    def worst_stack(self, root: str) -> int:
        """Deepest sum of frames along any call path from ``root`` (needs no cycles)."""
        memo: dict[str, int] = {}

        def depth(fn: str) -> int:
            if fn not in memo:
                memo[fn] = self.frames.get(fn, 0) + max((depth(c) for c in self.calls.get(fn, ())), default=0)
            return memo[fn]

        return depth(root)


_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*?\\n[^"]*?(?:\\n(\d+) bytes \((\w+)[^)]*\))?"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def parse_callgraph(ci_files: list[Path]) -> CallGraph:
    """Merge gcc ``-fcallgraph-info=su`` files (VCG text) into one call graph."""
    frames: dict[str, int] = {}
    calls: dict[str, set[str]] = {}
    dynamic: set[str] = set()
    for path in ci_files:
        text = path.read_text()
        for name, size, kind in _NODE.findall(text):
            if size:
                frames[name] = int(size)
                if kind != "static":
                    dynamic.add(name)
        for src, dst in _EDGE.findall(text):
            calls.setdefault(src, set()).add(dst.removeprefix("__builtin_"))
    return CallGraph(frames, {k: frozenset(v) for k, v in calls.items()}, frozenset(dynamic))

#!/usr/bin/env python3
"""Lists cycles between the source files of src/: file A uses file B when
A's object refers to a symbol that B's object defines (nm). A cycle
(A uses B uses ... uses A) means two files that cannot be understood or
replaced apart. Exit status 1 when there is one.

usage: file-cycles.py BUILD_DIR
"""
import os
import subprocess
import sys


def objects(build):
    for root, _, files in os.walk(os.path.join(build, "src")):
        for f in files:
            if f.endswith(".c.o") and not f.startswith("openapi"):
                yield os.path.join(root, f)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    defs, uses = {}, {}
    for o in objects(build):
        name = os.path.basename(o)[:-len(".o")]
        out = subprocess.run(["nm", o], capture_output=True, text=True,
                             check=True).stdout
        uses[name] = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                uses[name].add(parts[1])
            elif len(parts) == 3 and parts[1] in "TDBR":
                defs[parts[2]] = name
    graph = {f: {defs[s] for s in u if s in defs and defs[s] != f}
             for f, u in uses.items()}
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                sccs.append(sorted(scc))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    for scc in sccs:
        print("cycle: " + " <-> ".join(scc))
    if not graph:
        print("file-cycles: no objects under %s/src" % build)
        return 1
    print("file-cycles: %d files, %d cycles" % (len(graph), len(sccs)))
    return 1 if sccs else 0


if __name__ == "__main__":
    sys.exit(main())

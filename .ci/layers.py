#!/usr/bin/env python3
"""Checks that Aula's floors run one way.

The order is declared once, in README.md's code map: a table whose header is
`| module | what it is | may import |`. Each row names one module (or several, like
`web`, `db`) and the modules it may import: backticked names, `kernel` (= web and db) or
`everything` (the composition root). This script reads every `use crate::...` line and every
inline `crate::x` path under src/ (unit tests, `#[cfg(test)] mod tests`, may reach anywhere)
and fails, naming the file and the import, when a module imports one it may not, when two
modules import each other (a cycle, through any path), or when a module of src/ is missing
from the table.

Usage: layers.py [ROOT]            check the tree at ROOT (default: the repository)
       layers.py --self-test       prove the check fails on a wrong import and on a cycle
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HEADER = re.compile(r"^\|\s*module\s*\|\s*what it is\s*\|\s*may import\s*\|", re.I)
USE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\};", re.S)
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
TESTS = re.compile(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", re.S)
KERNEL = {"web", "db"}


def declared(readme):
    """{module: allowed set or None for everything}, in table order."""
    rows, inside = {}, False
    for line in open(readme, encoding="utf-8"):
        if HEADER.match(line):
            inside = True
            continue
        if not inside:
            continue
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or set(cells[0]) <= set("-: "):
            continue
        names = re.findall(r"`([a-z_]+)`", cells[0])
        may = cells[2]
        allowed = None if "everything" in may else set(re.findall(r"`([a-z_]+)`", may))
        if allowed is not None and re.search(r"\bkernel\b", may):
            allowed |= KERNEL
        for n in names:
            rows[n] = allowed
    return rows


def top_modules(src):
    return sorted({n[:-3] if n.endswith(".rs") else n for n in os.listdir(src)
                   if (n.endswith(".rs") and n not in ("lib.rs", "main.rs"))
                   or os.path.isdir(os.path.join(src, n))})


def imports(src, mods):
    """[(module, file, imported module, line text)] for every cross-module import."""
    found = []
    for root, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)
            top = rel.split(os.sep)[0]
            top = top[:-3] if top.endswith(".rs") else top
            if top in ("lib", "main"):
                continue
            text = TESTS.sub("", open(path, encoding="utf-8").read())
            # Comments may name other modules (docs); only code counts.
            text = re.sub(r"//[^\n]*", "", text)
            targets = set()
            for m in USE_GROUP.finditer(text):
                depth, cur = 0, ""
                for ch in m.group(1) + ",":
                    if ch == "{":
                        depth += 1
                    elif ch == "}":
                        depth -= 1
                    if ch == "," and depth == 0:
                        name = re.split(r"[:\s{]", cur.strip())[0]
                        if name:
                            targets.add(name)
                        cur = ""
                    else:
                        cur += ch
            for m in PATH.finditer(text):
                targets.add(m.group(1))
            for t in sorted(targets):
                if t in mods and t != top:
                    found.append((top, os.path.join("src", rel), t))
    return found


def cycles(edges, mods):
    index, low, stack, on, out, i = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = i[0]
        i[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in mods:
        if v not in index:
            strong(v)
    return out


def check(root):
    src = os.path.join(root, "src")
    table = declared(os.path.join(root, "README.md"))
    problems = []
    if not table:
        return ["README.md has no code-map table with the header "
                "'| module | what it is | may import |'"]
    mods = top_modules(src)
    for m in mods:
        if m not in table:
            problems.append(f"src/{m}: module missing from README's code map (declare its floor)")
    edges = {}
    for top, path, target in imports(src, mods):
        edges.setdefault(top, set()).add(target)
        allowed = table.get(top, set())
        if allowed is not None and target not in allowed:
            problems.append(f"{path}: `{top}` imports `crate::{target}`, which it may not "
                            f"(README code map: {top} may import "
                            f"{', '.join(sorted(allowed)) or 'nothing'})")
    for c in cycles(edges, mods):
        problems.append("import cycle between modules: " + " <-> ".join(c))
    return problems


def self_test(root):
    """Copies the tree, breaks it twice, and expects the check to catch both."""
    ok = True
    for label, module, line in [
        ("kernel importing a feature", "web", "use crate::catalog::queries;\n"),
        ("a lower module importing a higher one", "people", "use crate::enrolment::queries;\n"),
    ]:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(os.path.join(root, "src"), os.path.join(tmp, "src"))
            shutil.copy(os.path.join(root, "README.md"), tmp)
            target = os.path.join(tmp, "src", module, "mod.rs")
            with open(target, "a", encoding="utf-8") as fh:
                fh.write("\n#[allow(unused_imports)]\n" + line)
            problems = check(tmp)
            caught = any(f"src/{module}/mod.rs" in p for p in problems)
            print(f"self-test ({label}): {'caught' if caught else 'NOT caught'}")
            ok &= caught
    return ok


def main():
    args = sys.argv[1:]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if args and args[0] == "--self-test":
        sys.exit(0 if self_test(root) else 1)
    if args:
        root = args[0]
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"layering check failed: {len(problems)} problem(s)")
        sys.exit(1)
    print("layering check passed: every module imports only what README's code map allows")


if __name__ == "__main__":
    main()

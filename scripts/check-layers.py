#!/usr/bin/env python3
"""Check the layering rules of ARCHITECTURE.md that the compiler does not enforce.

1. No `mod` cycle inside a crate. Edges come from `crate::B` paths between the
   top-level modules of a crate, and from `super::X` / `crate::A::X` paths between
   sibling submodules of a top-level module A. Cycles make modules impossible to
   understand, test or move on their own.
2. No arrow runs back up between crates: the workspace crate graph ([dependencies]
   and [target.*.dependencies], never dev-dependencies) is acyclic, the CLI-only
   packages (clap, indicatif, mimalloc) stay in analyzer/cli, the dump readers
   (kernel-dump, cab) know nothing of minidump nor of each other, and signatures
   depends on no dumpsig crate but dumpsig-bytes.
3. No non-test source file over MAX_LINES lines: big files hide several concerns.

Test code (`#[cfg(test)]` items, modules named tests / *_tests / tests_*, files under
tests/) is ignored. Usage: `python3 scripts/check-layers.py [-v]` (-v lists the module
edges found). Standard library only; needs Python 3.11+ (tomllib). Exit 1 on violation.
"""
import bisect
import glob
import re
import sys
import tomllib
from pathlib import Path

MAX_LINES = 600
ROOT = Path(__file__).resolve().parent.parent
CLI_ONLY = {"clap", "indicatif", "mimalloc"}
CLI_CRATE = "analyzer/cli"
READERS = {"analyzer/kernel-dump": "dumpsig-cab", "analyzer/cab": "dumpsig-kernel-dump"}
SIGNATURES, SIGNATURES_ALLOWED = "signatures", {"dumpsig-bytes"}

# Comments, strings and char literals are blanked (newlines kept) before any parsing.
NOISE = re.compile(r'//[^\n]*|/\*[\s\S]*?\*/|(?<!\w)b?r(#*)"[\s\S]*?"\1|b?"(?:\\[\s\S]|[^"\\])*"'
                   r"|b?'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^'\\\n])'")
TEST_ITEM = re.compile(r"#\[cfg\(test\)\]|\bmod\s+(?:tests|\w+_tests|tests_\w+)\b")
MOD_DECL = re.compile(r"^[ \t]*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
PREFIX = re.compile(r"(?<![\w:])(crate|self|super)((?:\s*::\s*super\b)*)\s*::\s*")
TOKEN = re.compile(r"\s*(::|[A-Za-z_]\w*|\S)")
IDENT = re.compile(r"[A-Za-z_]\w*")


def rel(path):
    return path.relative_to(ROOT).as_posix()


def is_test_name(name):
    return name == "tests" or name.endswith("_tests") or name.startswith("tests_")


def blank(text):
    return NOISE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)


def strip_tests(code):
    """Blanks `#[cfg(test)]` items and test modules, up to their `;` or matching `}`."""
    out = list(code)
    for m in TEST_ITEM.finditer(code):
        i, depth = m.end(), 0
        while i < len(code) and not (code[i] == ";" and depth == 0):
            depth += {"{": 1, "}": -1}.get(code[i], 0)
            if code[i] == "}" and depth == 0:
                break
            i += 1
        out[m.start():i + 1] = re.sub(r"[^\n]", " ", code[m.start():i + 1])
    return "".join(out)


def use_paths(code, pos, segs, out):
    """Expands the use tree / path at `pos` into `out` as (segments, offset); returns the end."""
    segs = list(segs)
    while (m := TOKEN.match(code, pos)) and IDENT.fullmatch(m.group(1)):
        if m.group(1) != "self":
            segs.append(m.group(1))
        pos = m.end()
        n = TOKEN.match(code, pos)
        if not n or n.group(1) != "::":
            out.append((segs, m.start(1)))
            return pos
        pos = n.end()
    if m and m.group(1) == "{":  # a group: `{a::b, c as d, self, *}`
        pos = m.end()
        while (m := TOKEN.match(code, pos)) and m.group(1) not in ("}", ";"):
            if m.group(1) == ",":
                pos = m.end()
            elif m.group(1) == "as":  # skip the alias
                pos = TOKEN.match(code, m.end()).end()
            else:
                new = use_paths(code, pos, segs, out)
                pos = new if new > pos else m.end()
        return m.end() if m else pos
    out.append((segs, pos))
    return m.end() if m and m.group(1) == "*" else pos


class Crate:
    """The module tree of one crate, from src/lib.rs (or src/main.rs) down."""

    def __init__(self, path):
        self.name, src = rel(path), path / "src"
        self.files = []     # (file, module path tuple, blanked code)
        self.children = {}  # module path tuple -> names of its declared submodules
        root = src / "lib.rs" if (src / "lib.rs").exists() else src / "main.rs"
        if root.exists():
            self.walk(root, (), src)

    def walk(self, file, modpath, child_dir):
        code = strip_tests(blank(file.read_text(encoding="utf-8")))
        self.files.append((file, modpath, code))
        names = self.children.setdefault(modpath, [])
        for name in MOD_DECL.findall(code):
            if is_test_name(name):
                continue
            candidates = [child_dir / f"{name}.rs", child_dir / name / "mod.rs"]
            found = next((c for c in candidates if c.exists()), None)
            if found is None:
                print(f"warning: {rel(file)}: `mod {name};` has no file")
                continue
            names.append(name)
            sub_dir = found.parent if found.name == "mod.rs" else child_dir / name
            self.walk(found, modpath + (name,), sub_dir)

    def edges(self):
        """{(a, b): 'file:line'} for top-level and sibling-submodule references."""
        top = set(self.children.get((), []))
        found = {}
        for file, modpath, code in self.files:
            if not modpath:
                continue
            lines = [i for i, c in enumerate(code) if c == "\n"]
            for m in PREFIX.finditer(code):
                ups = m.group(2).count("super") + (m.group(1) == "super")
                if ups > len(modpath):
                    continue
                base = () if m.group(1) == "crate" else modpath[:len(modpath) - ups]
                refs = []
                use_paths(code, m.end(), base, refs)
                for segs, off in refs:
                    where = f"{rel(file)}:{bisect.bisect_left(lines, off) + 1}"
                    a, b = modpath[0], segs[0] if segs else None
                    if b in top and b != a:
                        found.setdefault((a, b), where)
                    sibs = self.children.get((a,), [])
                    if (len(modpath) > 1 and len(segs) > 1 and segs[0] == a
                            and segs[1] in sibs and segs[1] != modpath[1]):
                        found.setdefault((f"{a}::{modpath[1]}", f"{a}::{segs[1]}"), where)
        return found


def sccs(nodes, succ):
    """Tarjan's strongly connected components, each a sorted list."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(succ.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = stack[stack.index(v):]
            del stack[stack.index(v):]
            on.difference_update(comp)
            out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def witness_cycle(comp, succ):
    """Shortest cycle through comp[0] inside the component, as a node list."""
    start, members = comp[0], set(comp)
    prev, queue = {}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(succ.get(v, ())):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return path[::-1] + [start]
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return comp + comp[:1]


def report_cycles(label, edges):
    """One error per strongly connected component of `edges`, with witness edges."""
    succ, errors = {}, []
    for a, b in edges:
        succ.setdefault(a, set()).add(b)
    for comp in sccs({n for e in edges for n in e}, succ):
        if len(comp) < 2:
            continue
        msg = f"cycle in {label}: {' -> '.join(witness_cycle(comp, succ))}"
        if len(comp) > 2:
            msg += f" (strongly connected: {', '.join(comp)})"
        for (a, b), where in sorted(edges.items()):
            if a in comp and b in comp:
                msg += f"\n    {a} -> {b}: {where}"
        errors.append(msg)
    return errors, succ


def dependencies(manifest, workspace_deps):
    """Package names in [dependencies] and [target.*.dependencies] (renames resolved)."""
    tables = [manifest.get("dependencies", {})]
    tables += [t.get("dependencies", {}) for t in manifest.get("target", {}).values()]
    names = set()
    for key, spec in (item for table in tables for item in table.items()):
        if isinstance(spec, dict) and spec.get("workspace"):
            spec = workspace_deps.get(key)
        names.add(spec.get("package", key) if isinstance(spec, dict) else key)
    return names


def main():
    verbose = "-v" in sys.argv[1:]
    root_manifest = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))
    workspace = root_manifest.get("workspace", {})
    dirs = sorted({Path(p) for m in workspace.get("members", []) for p in glob.glob(str(ROOT / m))})
    dirs = [d for d in dirs if (d / "Cargo.toml").exists() and (d / "src").is_dir()]
    errors, packages, deps = [], {}, {}

    # Rule 1: module cycles.
    for d in dirs:
        crate = Crate(d)
        edges = crate.edges()
        if verbose:
            print(f"{crate.name}: {len(crate.files)} module files, {len(edges)} edges")
            for (a, b), where in sorted(edges.items()):
                print(f"    {a} -> {b}  ({where})")
        errors += report_cycles(crate.name, edges)[0]

    # Rule 2: the crate graph.
    for d in dirs:
        manifest = tomllib.loads((d / "Cargo.toml").read_text(encoding="utf-8"))
        packages[rel(d)] = manifest["package"]["name"]
        deps[rel(d)] = dependencies(manifest, workspace.get("dependencies", {}))
    for name, used in sorted(deps.items()):
        for pkg in sorted(used & CLI_ONLY if name != CLI_CRATE else ()):
            errors.append(f"{name}/Cargo.toml: `{pkg}` belongs to {CLI_CRATE} only")
        if name in READERS:
            for pkg in sorted(p for p in used if p.startswith("minidump") or p == READERS[name]):
                errors.append(f"{name}/Cargo.toml: a dump reader must not depend on `{pkg}`")
        if name == SIGNATURES:
            for pkg in sorted(p for p in used if p.startswith("dumpsig-") and p not in SIGNATURES_ALLOWED):
                errors.append(f"{name}/Cargo.toml: signatures must not depend on `{pkg}`")
    crate_edges = {(packages[n], p): f"{n}/Cargo.toml" for n, used in deps.items()
                   for p in used if p.startswith("dumpsig-") and p in packages.values()}
    cycle_errors, succ = report_cycles("the crate graph", crate_edges)
    errors += cycle_errors
    if not cycle_errors:  # layer = length of the longest dependency chain below
        layer, by_layer = {}, {}

        def depth(p):
            if p not in layer:
                layer[p] = 1 + max((depth(q) for q in succ.get(p, ())), default=-1)
            return layer[p]

        for p in sorted(packages.values()):
            by_layer.setdefault(depth(p), []).append(p)
        print("crate layers (bottom up): " + " | ".join(
            f"{n}: {', '.join(ps)}" for n, ps in sorted(by_layer.items())))

    # Rule 3: file sizes.
    checked = 0
    for d in dirs:
        for f in sorted((d / "src").rglob("*.rs")):
            if is_test_name(f.stem) or "tests" in f.relative_to(d / "src").parts[:-1]:
                continue
            checked += 1
            count = len(f.read_text(encoding="utf-8").splitlines())
            if count > MAX_LINES:
                errors.append(f"{rel(f)}: {count} lines (limit {MAX_LINES})")

    for e in errors:
        print(f"error: {e}")
    status = "FAILED" if errors else "OK"
    print(f"check-layers: {status}: {len(errors)} violation(s) "
          f"({len(dirs)} crates, {checked} non-test files checked)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

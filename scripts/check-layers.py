#!/usr/bin/env python3
"""Check the layering rules of ARCHITECTURE.md ("No cycles", file length) that rustc does not.

1. No `mod` cycle inside a crate: edges come from `crate::B` paths between the top-level
   modules of a crate, and from `super::X` / `crate::A::X` paths between sibling
   submodules of a top-level module A. Modules that use each other cannot be read,
   tested or moved on their own.
2. No arrow runs back up between crates: the graph of workspace crates ([dependencies]
   and [target.*.dependencies]; dev-dependencies are free) is acyclic, clap/indicatif/
   mimalloc stay in analyzer/cli, the dump readers (kernel-dump, cab) know nothing of
   minidump nor of each other, and signatures depends on no dumpsig crate but dumpsig-bytes.
3. No non-test source file over MAX_LINES lines: a big file hides several concerns.

Test code (`#[cfg(test)]` items, modules named tests / *_tests / tests_*, files under a
tests/ folder) is ignored. Usage: `python3 scripts/check-layers.py [-v]`, -v lists the
module edges found. Standard library only (Python 3.11+ for tomllib); exits 1 on violation.
"""
import bisect
import glob
import re
import sys
import tomllib
from pathlib import Path

MAX_LINES = 600
ROOT = Path(__file__).resolve().parent.parent
CLI_ONLY, CLI_CRATE = {"clap", "indicatif", "mimalloc"}, "analyzer/cli"
READERS = {"analyzer/kernel-dump": "dumpsig-cab", "analyzer/cab": "dumpsig-kernel-dump"}
SIGNATURES, SIGNATURES_MAY_USE = "signatures", {"dumpsig-bytes"}

# Comments, strings and char literals are blanked (newlines kept) before any parsing.
NOISE = re.compile(r'//[^\n]*|/\*[\s\S]*?\*/|(?<!\w)b?r(#*)"[\s\S]*?"\1|b?"(?:\\[\s\S]|[^"\\])*"'
                   r"|b?'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^'\\\n])'")
TEST_ITEM = re.compile(r"#\[cfg\(test\)\]|\bmod\s+(?:tests|\w+_tests|tests_\w+)\b")
# `#[path = "x.rs"] mod name;` (one file per platform, say): read on the raw text, since the
# blanking of string literals removes the path.
PATH_MOD = re.compile(r'#\[path\s*=\s*"([^"]+)"\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;')
MOD_DECL = re.compile(r"^[ \t]*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
PREFIX = re.compile(r"(?<![\w:])(crate|self|super)((?:\s*::\s*super\b)*)\s*::\s*")
TOKEN = re.compile(r"\s*(::|[A-Za-z_]\w*|\S)")
IDENT = re.compile(r"[A-Za-z_]\w*")


def rel(path):
    return path.relative_to(ROOT).as_posix()


def is_test_name(name):
    return name == "tests" or name.endswith("_tests") or name.startswith("tests_")


def spaces(text):
    return re.sub(r"[^\n]", " ", text)


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
        out[m.start():i + 1] = spaces(code[m.start():i + 1])
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
        code = strip_tests(NOISE.sub(lambda m: spaces(m.group()), file.read_text(encoding="utf-8")))
        self.files.append((file, modpath, code))
        names = self.children.setdefault(modpath, [])
        pathed = PATH_MOD.findall(file.read_text(encoding="utf-8"))
        for target, name in pathed:
            if name not in names:
                names.append(name)
            self.walk(file.parent / target, modpath + (name,), child_dir / name)
        pathed_names = {n for _, n in pathed}
        for name in (n for n in MOD_DECL.findall(code)
                     if not is_test_name(n) and n not in pathed_names):
            found = next((c for c in (child_dir / f"{name}.rs", child_dir / name / "mod.rs")
                          if c.exists()), None)
            if found is None:
                print(f"warning: {rel(file)}: `mod {name};` has no file")
                continue
            names.append(name)
            sub_dir = found.parent if found.name == "mod.rs" else child_dir / name
            self.walk(found, modpath + (name,), sub_dir)

    def edges(self):
        """{(a, b): 'file:line'} for top-level and sibling-submodule references."""
        top, found = set(self.children.get((), [])), {}
        for file, modpath, code in self.files:
            if not modpath:
                continue
            a, newlines = modpath[0], [i for i, c in enumerate(code) if c == "\n"]
            for m in PREFIX.finditer(code):
                ups = m.group(2).count("super") + (m.group(1) == "super")
                if ups > len(modpath):
                    continue
                base, refs = () if m.group(1) == "crate" else modpath[:len(modpath) - ups], []
                use_paths(code, m.end(), base, refs)
                for segs, off in refs:
                    where = f"{rel(file)}:{bisect.bisect_left(newlines, off) + 1}"
                    if segs and segs[0] in top and segs[0] != a:
                        found.setdefault((a, segs[0]), where)
                    if (len(modpath) > 1 and len(segs) > 1 and segs[0] == a
                            and segs[1] != modpath[1] and segs[1] in self.children[(a,)]):
                        found.setdefault((f"{a}::{modpath[1]}", f"{a}::{segs[1]}"), where)
        return found


def sccs(nodes, succ):
    """Tarjan's strongly connected components, each a sorted list."""
    index, low, stack, out = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(succ.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = stack[stack.index(v):]
            del stack[stack.index(v):]
            out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def witness_cycle(comp, succ):
    """A shortest cycle through comp[0] inside the component (breadth-first search)."""
    paths = {comp[0]: [comp[0]]}
    queue = [comp[0]]
    for v in queue:  # grows while iterating
        for w in sorted(succ.get(v, ())):
            if w == comp[0]:
                return paths[v] + [w]
            if w in comp and w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return comp + comp[:1]


def report_cycles(label, edges):
    """One error per strongly connected component of `edges`, with a witness per edge."""
    succ, errors = {}, []
    for a, b in edges:
        succ.setdefault(a, set()).add(b)
    for comp in (c for c in sccs({n for e in edges for n in e}, succ) if len(c) > 1):
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


def check_crates(dirs, workspace):
    errors, packages, deps = [], {}, {}
    for d in dirs:
        manifest = tomllib.loads((d / "Cargo.toml").read_text(encoding="utf-8"))
        packages[rel(d)] = manifest["package"]["name"]
        deps[rel(d)] = dependencies(manifest, workspace.get("dependencies", {}))
    for name, used in sorted(deps.items()):
        where = f"{name}/Cargo.toml"
        for pkg in sorted(used & CLI_ONLY if name != CLI_CRATE else ()):
            errors.append(f"{where}: `{pkg}` belongs in {CLI_CRATE} only")
        for pkg in sorted(p for p in used if name in READERS
                          and (p.startswith("minidump") or p == READERS[name])):
            errors.append(f"{where}: a dump reader must not depend on `{pkg}`")
        for pkg in sorted(p for p in used if name == SIGNATURES
                          and p.startswith("dumpsig-") and p not in SIGNATURES_MAY_USE):
            errors.append(f"{where}: signatures must not depend on `{pkg}`")
    edges = {(packages[n], p): f"{n}/Cargo.toml" for n, used in deps.items()
             for p in used if p in packages.values()}
    cycles, succ = report_cycles("the crate graph", edges)
    if not cycles:  # a crate's layer is the length of the longest dependency chain below it
        layer, by_layer = {}, {}

        def depth(p):
            if p not in layer:
                layer[p] = 1 + max((depth(q) for q in succ.get(p, ())), default=-1)
            return layer[p]

        for p in sorted(packages.values()):
            by_layer.setdefault(depth(p), []).append(p)
        print("crate layers, bottom up: " + " | ".join(
            f"{n}: {', '.join(ps)}" for n, ps in sorted(by_layer.items())))
    return errors + cycles


def check_sizes(dirs):
    errors, checked = [], 0
    for src in (d / "src" for d in dirs):
        for f in sorted(src.rglob("*.rs")):
            if is_test_name(f.stem) or "tests" in f.relative_to(src).parts[:-1]:
                continue
            checked += 1
            count = len(f.read_text(encoding="utf-8").splitlines())
            if count > MAX_LINES:
                errors.append(f"{rel(f)}: {count} lines (limit {MAX_LINES})")
    return errors, checked


def main():
    verbose = "-v" in sys.argv[1:]
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))["workspace"]
    dirs = sorted({Path(p) for m in workspace.get("members", []) for p in glob.glob(str(ROOT / m))})
    dirs = [d for d in dirs if (d / "Cargo.toml").exists() and (d / "src").is_dir()]
    errors = []
    for crate in map(Crate, dirs):
        edges = crate.edges()
        if verbose:
            print(f"{crate.name}: {len(crate.files)} module files, {len(edges)} edges")
            for (a, b), where in sorted(edges.items()):
                print(f"    {a} -> {b}  ({where})")
        errors += report_cycles(crate.name, edges)[0]
    errors += check_crates(dirs, workspace)
    size_errors, checked = check_sizes(dirs)
    for e in errors + size_errors:
        print(f"error: {e}")
    total = len(errors) + len(size_errors)
    print(f"check-layers: {'FAILED' if total else 'OK'}: {total} violation(s) "
          f"in {len(dirs)} crates ({checked} non-test source files)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())

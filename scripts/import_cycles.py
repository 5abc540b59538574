"""Import circles between the crate's modules (make lint): files whose modules import each
other, directly or round a loop, read from the `crate::`, `super::` and `self::` paths in the
code (use lines and paths inside it). Test code (`tests.rs`, a `#[cfg(test)]` module) does not
count, nor does a folder's `mod.rs` reaching into its own rooms: it composes them.

    python import_cycles.py [SRC] [ALLOWED]   exit 0: no circle but the allowed ones; 1: otherwise

ALLOWED (default scripts/import-cycles.allowed) lists the circles the code still has, one a
line, its files sorted and separated by spaces; a circle not there fails, and so does a line
no circle matches any more (the list only shrinks).
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{")
TEST_MODULE = re.compile(r"^\s*#\[cfg\(test\)\]\s*\n\s*(pub(\([a-z]+\))?\s+)?mod\s+\w+\s*(;|\{)", re.M)


def module_of(path: str, src: str) -> tuple:
    """`src/a/b.rs` -> ("a", "b"); `src/a/mod.rs` -> ("a",); `src/lib.rs` -> ()."""
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def production_text(text: str) -> str:
    """The file without its test module (by convention the last item of a file)."""
    match = TEST_MODULE.search(text)
    return text[:match.start()] if match else text


def group_items(text: str, start: int) -> list:
    """The top-level items of the `{...}` opening at `start`, as `a::b` strings."""
    depth, item, items, i = 0, "", [], start
    while i < len(text):
        c = text[i]
        if c == "{":
            depth += 1
            if depth > 1:
                item += c
        elif c == "}":
            depth -= 1
            if depth == 0:
                items.append(item)
                break
            item += c
        elif c == "," and depth == 1:
            items.append(item)
            item = ""
        else:
            item += c
        i += 1
    names = []
    for item in items:
        item = re.sub(r"\s+", "", item)
        head = re.match(r"[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*", item)
        if head and head.group(0) not in ("self",):
            names.append(head.group(0))
    return names


def references(text: str) -> list:
    """Every (anchor, [segments]) path the text names."""
    found = [(m.group(1), m.group(2).split("::")[1:]) for m in PATH.finditer(text)]
    for m in GROUP.finditer(text):
        prefix = m.group(2).split("::")[1:] if m.group(2) else []
        for name in group_items(text, m.end() - 1):
            found.append((m.group(1), prefix + name.split("::")))
    return found


def graph(src: str) -> dict:
    files = {}
    for folder, _, names in os.walk(src):
        if os.path.relpath(folder, src).split(os.sep)[0] == "bin":
            continue
        for name in names:
            if name.endswith(".rs") and name != "tests.rs":
                path = os.path.join(folder, name)
                files[module_of(path, src)] = os.path.relpath(path, ROOT)
    edges = {f: set() for f in files.values()}
    for module, path in files.items():
        with open(os.path.join(ROOT, path)) as f:
            text = production_text(f.read())
        for anchor, segments in references(text):
            if anchor == "crate":
                target = list(segments)
            elif anchor == "super":
                target = list(module[:-1]) + segments
            else:
                target = list(module) + segments
            # The deepest module the path names.
            while target and tuple(target) not in files:
                target.pop()
            other = files.get(tuple(target))
            if other is None or other == path:
                continue
            # A folder composes its rooms: its mod.rs reaching into them is no import.
            if os.path.basename(path) in ("mod.rs", "lib.rs") and tuple(target[:len(module)]) == module:
                continue
            edges[path].add(other)
    return edges


def circles(edges: dict) -> list:
    """The strongly connected groups of more than one file (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def main(argv) -> int:
    src = argv[1] if len(argv) > 1 else os.path.join(ROOT, "src")
    allowed_path = argv[2] if len(argv) > 2 else os.path.join(ROOT, "scripts", "import-cycles.allowed")
    allowed = []
    if os.path.exists(allowed_path):
        with open(allowed_path) as f:
            allowed = [line.split() for line in f if line.strip() and not line.startswith("#")]
    found = circles(graph(src))
    new = [c for c in found if not any(set(c) <= set(a) for a in allowed)]
    stale = [a for a in allowed if not any(set(c) <= set(a) and len(c) == len(a) for c in found)]
    for c in new:
        print("import-cycles: a circle: " + " ".join(c), file=sys.stderr)
    for a in stale:
        smaller = [c for c in found if set(c) <= set(a)]
        print("import-cycles: the allowed circle " + " ".join(a) + " is gone or smaller; list instead: "
              + ("; ".join(" ".join(c) for c in smaller) or "nothing"), file=sys.stderr)
    if new or stale:
        return 1
    print(f"import-cycles: {len(found)} circle(s), each an allowed one still being opened"
          if found else "import-cycles: none")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

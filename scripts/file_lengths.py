"""No source file over 500 lines (make lint), but the ones listed, each at most as long as listed.

    python file_lengths.py [ALLOWED]   exit 0: within; 1: a file over, a listed one grown, or a
                                       listed one now within 500 (take it off: the list only shrinks)

Source files: the Rust, Python, shell and JavaScript under src/, tests/, scripts/, examples/.
ALLOWED (default scripts/long-files.allowed): `LINES PATH` a line.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 500
FOLDERS = ("src", "tests", "scripts", "examples")
SUFFIXES = (".rs", ".py", ".sh", ".mjs")


def lengths(root: str) -> dict:
    found = {}
    for top in FOLDERS:
        for folder, dirs, names in os.walk(os.path.join(root, top)):
            dirs[:] = [d for d in dirs if d not in ("node_modules", "__pycache__")]
            for name in names:
                if name.endswith(SUFFIXES):
                    path = os.path.join(folder, name)
                    with open(path, errors="replace") as f:
                        found[os.path.relpath(path, root)] = sum(1 for _ in f)
    return found


def problems(found: dict, allowed: dict) -> list:
    out = []
    for path, lines in sorted(found.items()):
        if path in allowed:
            if lines > allowed[path]:
                out.append(f"{path}: {lines} lines, more than the {allowed[path]} listed: split it")
            elif lines <= LIMIT:
                out.append(f"{path}: {lines} lines now: take it off the list")
        elif lines > LIMIT:
            out.append(f"{path}: {lines} lines, over {LIMIT}: split it")
    out.extend(f"{path}: listed but gone: take it off the list" for path in sorted(set(allowed) - set(found)))
    return out


def main(argv) -> int:
    allowed_path = argv[1] if len(argv) > 1 else os.path.join(ROOT, "scripts", "long-files.allowed")
    allowed = {}
    with open(allowed_path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                lines, path = line.split()
                allowed[path] = int(lines)
    found = problems(lengths(ROOT), allowed)
    for problem in found:
        print(f"file-lengths: {problem}", file=sys.stderr)
    if not found:
        print(f"file-lengths: every source file within {LIMIT} lines but {len(allowed)} listed ones, none grown")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""scripts/import_cycles.py: the circles between a crate's modules, and the list that only shrinks."""
import os
import tempfile
import unittest

import import_cycles


def tree(test: unittest.TestCase, files: dict) -> str:
    root = tempfile.mkdtemp()
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
    test.addCleanup(lambda: __import__("shutil").rmtree(root))
    return os.path.join(root, "src")


class ImportCyclesTest(unittest.TestCase):
    def circles(self, files):
        src = tree(self, files)
        edges = import_cycles.graph(src)
        return [[os.path.relpath(os.path.join(import_cycles.ROOT, f), src) for f in c]
                for c in import_cycles.circles(edges)]

    def test_a_loop_through_use_lines_groups_and_paths_is_one_circle(self):
        found = self.circles({
            "src/lib.rs": "pub mod a;\npub mod b;\npub mod c;\n",
            "src/a.rs": "use crate::{b::Thing, other};\n",
            "src/b.rs": "fn f() { crate::c::g(); }\n",
            "src/c.rs": "use super::a;\n",
        })
        self.assertEqual(found, [["a.rs", "b.rs", "c.rs"]])

    def test_tests_and_a_folder_reaching_into_its_rooms_are_no_imports(self):
        found = self.circles({
            "src/lib.rs": "pub mod a;\npub mod b;\n",
            "src/a/mod.rs": "mod room;\nuse self::room::X;\nuse crate::a::room::Y;\n",
            "src/a/room.rs": "use super::Z;\nuse crate::b::W;\n",
            "src/a/tests.rs": "use crate::b::V;\n",
            "src/b.rs": "pub struct W;\n#[cfg(test)]\nmod tests {\n    use crate::a::room::X;\n}\n",
        })
        self.assertEqual(found, [])

    def test_the_allowed_list_admits_its_circles_and_only_shrinks(self):
        src = tree(self, {"src/lib.rs": "", "src/a.rs": "use crate::b::X;\n", "src/b.rs": "use crate::a::Y;\n"})
        allowed = os.path.join(os.path.dirname(src), "allowed")
        self.assertEqual(import_cycles.main(["x", src, allowed]), 1)
        with open(allowed, "w") as f:
            f.write("# today's\n" + " ".join(sorted(
                os.path.relpath(os.path.join(src, n), import_cycles.ROOT) for n in ("a.rs", "b.rs"))) + "\n")
        self.assertEqual(import_cycles.main(["x", src, allowed]), 0)
        with open(os.path.join(src, "b.rs"), "w") as f:
            f.write("pub struct Y;\n")
        self.assertEqual(import_cycles.main(["x", src, allowed]), 1, "the opened circle must leave the list")


if __name__ == "__main__":
    unittest.main()

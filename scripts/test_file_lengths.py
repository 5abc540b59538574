"""scripts/file_lengths.py: no source file over 500 lines but the listed ones, which only shrink."""
import unittest

from file_lengths import LIMIT, problems


class FileLengthsTest(unittest.TestCase):
    def test_over_the_limit_unlisted_grown_or_shrunk_below_it_each_fail(self):
        allowed = {"src/big.rs": 800, "src/gone.rs": 600, "src/split.rs": 700}
        found = {"src/ok.rs": LIMIT, "src/new.rs": LIMIT + 1, "src/big.rs": 801, "src/split.rs": 400}
        self.assertEqual(problems(found, allowed), [
            "src/big.rs: 801 lines, more than the 800 listed: split it",
            "src/new.rs: 501 lines, over 500: split it",
            "src/split.rs: 400 lines now: take it off the list",
            "src/gone.rs: listed but gone: take it off the list",
        ])

    def test_within_the_list_is_fine(self):
        self.assertEqual(problems({"src/big.rs": 790, "src/ok.rs": 12}, {"src/big.rs": 800}), [])


if __name__ == "__main__":
    unittest.main()

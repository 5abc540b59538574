"""Tests of scripts/demo_users.py: the demo users of seed/demo.json by name."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_users  # noqa: E402


class DemoUsers(unittest.TestCase):
    def test_the_readme_users_by_given_name_and_user_name(self):
        for name, ids in {
            "ada": ("100000000000000010", "100000000000000001"),
            "admin": ("100000000000000010", "100000000000000001"),
            "Alice": ("100000000000000011", "100000000000000001"),
            "hal": ("100000000000000012", "100000000000000001"),
            "ci-bot": ("100000000000000013", "100000000000000001"),
            "bob": ("200000000000000011", "200000000000000001"),
            "root": ("300000000000000010", "300000000000000001"),
            "dora": ("400000000000000011", "400000000000000001"),
        }.items():
            with self.subTest(name=name):
                self.assertEqual(demo_users.resolve(name), ids)

    def test_an_unknown_name_lists_the_names(self):
        with self.assertRaises(LookupError) as refused:
            demo_users.resolve("zed")
        message = refused.exception.args[0]
        self.assertIn("no demo user 'zed'", message)
        for name in ["ada", "alice", "hal", "bob", "otto", "iris"]:
            self.assertIn(name, message)

    def test_a_name_two_users_share_names_neither(self):
        seed = {"orgs": [{"id": "1", "users": [
            {"id": "11", "userName": "sam@a.example", "givenName": "Sam"},
            {"id": "12", "userName": "sam@b.example", "givenName": "Samantha"},
        ]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(seed, f)
        self.addCleanup(os.unlink, f.name)
        self.assertEqual(sorted(demo_users.names(f.name)), ["samantha"])


if __name__ == "__main__":
    unittest.main()

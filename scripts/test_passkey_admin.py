"""Tests of scripts/passkey-admin, the stable wrapper of target/debug/passkey-admin, with a
stand-in binary and a stand-in cargo (no Rust build)."""
import os
import stat
import subprocess
import tempfile
import time
import unittest

WRAPPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "passkey-admin")
ROOT = os.path.dirname(os.path.dirname(WRAPPER))

STAND_IN_ADMIN = '#!/bin/sh\necho "admin ran with: $*"\n'
# A cargo that records its arguments and "builds" the stand-in binary.
STAND_IN_CARGO = """#!/bin/sh
echo "$*" >> "{log}"
mkdir -p "{target}/debug"
printf '%s' '{admin}' > "{target}/debug/passkey-admin"
chmod +x "{target}/debug/passkey-admin"
"""


class PasskeyAdminWrapper(unittest.TestCase):
    def setUp(self):
        work = tempfile.TemporaryDirectory(prefix="passkey-admin-test-")
        self.addCleanup(work.cleanup)
        self.target = os.path.join(work.name, "target")
        self.log = os.path.join(work.name, "cargo.log")
        bin_dir = os.path.join(work.name, "bin")
        os.mkdir(bin_dir)
        cargo = os.path.join(bin_dir, "cargo")
        with open(cargo, "w") as f:
            f.write(STAND_IN_CARGO.format(log=self.log, target=self.target, admin=STAND_IN_ADMIN))
        os.chmod(cargo, stat.S_IRWXU)
        self.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CARGO_TARGET_DIR": self.target}

    def run_wrapper(self, *args):
        return subprocess.run([WRAPPER, *args], env=self.env, capture_output=True, text=True, timeout=30)

    def cargo_calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return f.read().splitlines()

    def test_a_missing_binary_is_built_once_saying_so_then_run(self):
        out = self.run_wrapper("links", "100000000000000011")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("passkey-admin: building", out.stderr)
        self.assertIn("a first build takes minutes", out.stderr)
        self.assertEqual(out.stdout, "admin ran with: links 100000000000000011\n")
        self.assertEqual(len(self.cargo_calls()), 1)
        self.assertIn("--bin passkey-admin", self.cargo_calls()[0])
        # Built and newer than the sources: run at once, silently, without cargo.
        out = self.run_wrapper("--help")
        self.assertEqual((out.returncode, out.stderr, out.stdout), (0, "", "admin ran with: --help\n"))
        self.assertEqual(len(self.cargo_calls()), 1)

    def test_a_binary_older_than_the_sources_is_rebuilt_saying_so(self):
        self.run_wrapper("--help")
        admin = os.path.join(self.target, "debug", "passkey-admin")
        old = time.time() - 10 * 365 * 24 * 3600
        os.utime(admin, (old, old))
        out = self.run_wrapper("--help")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("the sources changed", out.stderr)
        self.assertEqual(len(self.cargo_calls()), 2)
        self.assertEqual(self.run_wrapper("--help").stderr, "", "marked as checked: no rebuild message again")


if __name__ == "__main__":
    unittest.main()

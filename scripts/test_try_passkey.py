"""Tests of `make try-passkey`'s refusals (scripts/try-passkey.sh); the run itself is checked by
scripts/browser-check.sh on the stack `make test` starts."""
import os
import subprocess
import tempfile
import unittest

TRY_PASSKEY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "try-passkey.sh")


def try_passkey(*args: str, state: str, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MAILBOX_URL", "PASSKEY_LOCALE")}
    return subprocess.run(["bash", TRY_PASSKEY, *args], env={**env, **extra, "PASSKEY_STACK_DIR": state},
                          capture_output=True, text=True, timeout=30)


class TryPasskey(unittest.TestCase):
    def setUp(self):
        state = tempfile.TemporaryDirectory(prefix="try-passkey-test-")
        self.addCleanup(state.cleanup)
        self.state = state.name

    def test_without_a_running_stack_it_names_make_dev_and_starts_nothing(self):
        out = try_passkey(state=self.state)
        self.assertEqual(out.returncode, 1)
        self.assertIn("is not running: start it with 'make dev'", out.stderr)
        self.assertEqual(out.stdout, "")
        self.assertEqual(os.listdir(self.state), [])

    def test_a_wrong_call_prints_the_usage(self):
        for args in (["a@example.com", "b@example.com"], ["--help"]):
            with self.subTest(args=args):
                out = try_passkey(*args, state=self.state)
                self.assertEqual(out.returncode, 2)
                self.assertIn("usage:", out.stderr)

    def test_a_locale_that_is_no_language_tag_is_refused(self):
        for locale in ("de_DE", "de-DE;q=1", "-", "x", "de DE"):
            with self.subTest(locale=locale):
                out = try_passkey(state=self.state, PASSKEY_LOCALE=locale)
                self.assertEqual(out.returncode, 2)
                self.assertIn("is no language tag", out.stderr)
                self.assertEqual(os.listdir(self.state), [])

    def test_a_language_tag_passes_on_to_the_stack_check(self):
        for locale in ("de-DE", "fr", "es-419", "zh-Hant-TW"):
            with self.subTest(locale=locale):
                out = try_passkey(state=self.state, PASSKEY_LOCALE=locale)
                self.assertEqual(out.returncode, 1)
                self.assertIn("is not running", out.stderr)


if __name__ == "__main__":
    unittest.main()

"""Tests of `make mail` (scripts/show-mail.py and scripts/mailbox_store.py) against a stub of
aws-ses-v2-local's `GET /store`; no stack is needed."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
SHOW_MAIL = os.path.join(SCRIPTS, "show-mail.py")
LINK = "http://localhost:18080/ui/login/login/passwordless/init?userID=1&orgID=2&codeID=3&code=abc"


def mail(to: str, subject: str, link: str = LINK) -> dict:
    return {"from": "Passkeys <no-reply@demo.example>", "destination": {"to": [to]}, "subject": subject,
            "body": {"text": f"Hello,\n\nopen {link}\n", "html": "<p>…</p>"}, "messageId": "m"}


class Mailbox:
    """A stub mailbox serving `emails` at /store on a port the system picks."""

    def __init__(self, test: unittest.TestCase, emails: list):
        class Store(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"emails": emails}).encode()
                self.send_response(200 if self.path == "/store" else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Store)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        test.addCleanup(server.server_close)
        test.addCleanup(server.shutdown)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"


def show_mail(*args: str, env: dict) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("MAILBOX_URL", "PASSKEY_STACK_DIR")}
    return subprocess.run([sys.executable, "-B", SHOW_MAIL, *args], env={**environ, **env},
                          capture_output=True, text=True, timeout=20)


class MakeMail(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.TemporaryDirectory(prefix="show-mail-test-")
        self.addCleanup(self.state.cleanup)

    def record_ses(self, pid: int, url: str):
        """What scripts/stack.sh leaves for a running SES emulator: its PID and port files."""
        for name, value in (("ses.pid", pid), ("ses.port", url.rsplit(":", 1)[1])):
            with open(os.path.join(self.state.name, name), "w") as f:
                f.write(f"{value}\n")

    def test_the_newest_mail_of_the_running_stack(self):
        box = Mailbox(self, [mail("alice@demo.example", "older"), mail("helpdesk@demo.example", "Add a passkey")])
        self.record_ses(os.getpid(), box.url)
        out = show_mail(env={"PASSKEY_STACK_DIR": self.state.name})
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("  to:      helpdesk@demo.example", out.stdout)
        self.assertIn("  subject: Add a passkey", out.stdout)
        self.assertIn(f"  link:    {LINK}", out.stdout)

    def test_a_recipient_and_mailbox_url_still_pick(self):
        box = Mailbox(self, [mail("alice@demo.example", "for alice"), mail("bob@other.example", "for bob")])
        out = show_mail(box.url, "alice@demo.example", env={})
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("subject: for alice", out.stdout)
        out = show_mail(env={"MAILBOX_URL": box.url, "PASSKEY_STACK_DIR": self.state.name})
        self.assertIn("subject: for bob", out.stdout)

    def test_no_running_stack_names_make_dev(self):
        out = show_mail(env={"PASSKEY_STACK_DIR": self.state.name})
        self.assertEqual(out.returncode, 1)
        self.assertIn("make dev", out.stderr)
        # A PID file left by a stack that is gone is no running stack either.
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        self.record_ses(dead.pid, "http://127.0.0.1:1")
        out = show_mail(env={"PASSKEY_STACK_DIR": self.state.name})
        self.assertEqual(out.returncode, 1)
        self.assertIn("make dev", out.stderr)

    def test_a_mailbox_that_does_not_answer_names_make_dev(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{s.getsockname()[1]}"
        out = show_mail(env={"MAILBOX_URL": closed})
        self.assertEqual(out.returncode, 1)
        self.assertIn(f"no mailbox answers at {closed}", out.stderr)
        self.assertIn("make dev", out.stderr)

    def test_an_empty_mailbox_and_a_mail_without_link_are_said_so(self):
        out = show_mail(env={"MAILBOX_URL": Mailbox(self, []).url})
        self.assertEqual(out.returncode, 1)
        self.assertIn("no mail in", out.stderr)
        broken = Mailbox(self, [mail("alice@demo.example", "s", link="http://localhost/x?code={code}")])
        out = show_mail(env={"MAILBOX_URL": broken.url})
        self.assertEqual(out.returncode, 1)
        self.assertIn("has no complete link", out.stderr)


if __name__ == "__main__":
    unittest.main()

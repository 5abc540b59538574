"""The scripts that make AWS calls refuse to run without the local stack's endpoints (lib.sh,
require_local_stack): from a plain shell they would reach the account of whatever credentials
the machine holds. Each is run with the endpoints unset (and with one naming AWS), with every
command that could reach a network replaced by a stub that records its call, and under strace
where the machine has it: it must exit non-zero with the message, having called nothing.
Needs neither the stack nor root:
  python3 -B -m unittest discover -s scripts -p 'test_local_only.py'
"""
import os
import shutil
import subprocess
import tempfile
import unittest

SCRIPTS = os.path.dirname(os.path.abspath(__file__))

# Every script that makes AWS calls (the function, passkey-admin, cargo test, sam), with the
# arguments that make it do so. infra.sh deploy targets AWS on purpose and is not here.
AWS_CALLERS = [
    ["api-check.sh"],
    ["browser-check.sh"],
    ["sdk-check.sh"],
    ["run.sh"],
    ["dev.sh"],
    ["lambda.sh", "up"],
    ["sam-local.sh", "__inner-check"],
]

# Whatever could reach a network or AWS, or install a tool that would.
STUBBED = ["aws", "sam", "cargo", "cargo-lambda", "rustup", "passkey-admin", "node", "npm", "npx", "curl",
           "wget", "pip", "pip3", "python", "python3", "docker", "dockerd", "git", "apt-get", "schemathesis"]

ENDPOINTS = ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SESV2", "MAILBOX_URL", "STACK_HOST"]


class RefusesWithoutTheLocalStackTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp()
        self.calls = os.path.join(self.work, "calls.log")
        stubs = os.path.join(self.work, "bin")
        os.mkdir(stubs)
        for name in STUBBED:
            path = os.path.join(stubs, name)
            with open(path, "w") as f:
                f.write(f'#!/bin/sh\necho "{name} $*" >> "{self.calls}"\nexit 1\n')
            os.chmod(path, 0o755)
        self.env = {k: v for k, v in os.environ.items() if k not in ENDPOINTS}
        self.env.update(
            PATH=f"{stubs}:{os.environ['PATH']}",
            # An empty tool cache: a tool looked up would have to be installed (through a stub).
            PASSKEY_TOOLS_DIR=os.path.join(self.work, "tools"),
            PASSKEY_STACK_DIR=os.path.join(self.work, "stack"),
            SAM_LOCAL_RUN_DIR=os.path.join(self.work, "run"),
            SAM_LOCAL_LOCK_FILE=os.path.join(self.work, "lock"),
        )
        self.strace = shutil.which("strace")

    def tearDown(self):
        shutil.rmtree(self.work)

    def run_script(self, argv, **env):
        command = [os.path.join(SCRIPTS, argv[0]), *argv[1:]]
        trace = os.path.join(self.work, "connect.trace")
        if self.strace:
            command = [self.strace, "-f", "-qq", "-e", "trace=connect", "-o", trace, *command]
        done = subprocess.run(command, env={**self.env, **env}, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        connects = ""
        if self.strace and os.path.exists(trace):
            with open(trace) as f:
                connects = "".join(line for line in f if "AF_INET" in line)
            os.unlink(trace)
        return done, connects

    def assert_refused(self, argv, done, connects, problem):
        what = " ".join(argv)
        self.assertNotEqual(done.returncode, 0, f"{what} ran:\n{done.stderr}")
        self.assertIn("refusing to run", done.stderr, what)
        self.assertIn(problem, done.stderr, what)
        for hint in ("make test", 'eval "$(scripts/stack.sh env)"'):
            self.assertIn(hint, done.stderr, what)
        if os.path.exists(self.calls):
            with open(self.calls) as f:
                self.fail(f"{what} called:\n{f.read()}")
        self.assertEqual(connects, "", f"{what} opened network connections")

    def test_each_script_refuses_without_the_endpoints(self):
        for argv in AWS_CALLERS:
            with self.subTest(script=" ".join(argv)):
                done, connects = self.run_script(argv)
                self.assert_refused(argv, done, connects, "AWS_ENDPOINT_URL_DYNAMODB is not set")

    def test_each_script_refuses_endpoints_that_are_not_the_local_stack(self):
        for argv in AWS_CALLERS:
            with self.subTest(script=" ".join(argv)):
                done, connects = self.run_script(
                    argv, AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:18000",
                    AWS_ENDPOINT_URL_SESV2="https://email.eu-central-1.amazonaws.com")
                self.assert_refused(argv, done, connects, "AWS_ENDPOINT_URL_SESV2 is https://email.")


class RequireLocalStackTest(unittest.TestCase):
    """lib.sh's require_local_stack on its own: which endpoints are the local stack's."""

    def check(self, dynamodb, ses, stack_host=None, probe="echo passed", **extra):
        env = {k: v for k, v in os.environ.items() if k not in ENDPOINTS}
        for name, value in (("AWS_ENDPOINT_URL_DYNAMODB", dynamodb), ("AWS_ENDPOINT_URL_SESV2", ses),
                            ("STACK_HOST", stack_host)):
            if value is not None:
                env[name] = value
        env.update(extra)
        return subprocess.run(
            ["bash", "-c", f'source "$0/lib.sh" && require_local_stack probe && {probe}', SCRIPTS],
            env=env, capture_output=True, text=True, timeout=30)

    def test_told_to_skip_the_endpoints_is_refused(self):
        for value in ["true", "TRUE", "1"]:
            with self.subTest(value=value):
                done = self.check("http://127.0.0.1:18000", "http://127.0.0.1:18005",
                                  AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=value)
                self.assertEqual(done.returncode, 1, done.stdout)
                self.assertIn("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is " + value, done.stderr)

    def test_a_stack_host_must_be_a_private_address(self):
        for host in ["dynamodb.us-east-1.amazonaws.com", "52.94.0.10", "172.32.0.1", "256.1.1.1", "10.0.0"]:
            with self.subTest(host=host):
                done = self.check(f"http://{host}:18100", f"http://{host}:18105", host)
                self.assertEqual(done.returncode, 1, done.stdout)
                self.assertIn("not a private or loopback IPv4 address", done.stderr)

    def test_a_fragment_or_query_cannot_dress_a_remote_host_as_local(self):
        # attack branch: the host is cut at the last '@' before any '/', so '#@127.0.0.1' or
        # '?@localhost' after a real AWS host passed; URL parsers (the SDKs') read the host
        # as the AWS one and the rest as fragment/query.
        for url in ["http://dynamodb.us-east-1.amazonaws.com#@127.0.0.1",
                    "https://dynamodb.us-east-1.amazonaws.com?@localhost"]:
            with self.subTest(url=url):
                done = self.check(url, "http://127.0.0.1:18005")
                self.assertEqual(done.returncode, 1, done.stdout)
                self.assertIn("not the local stack", done.stderr)

    def test_no_profile_and_only_dummy_credentials_once_passed(self):
        done = self.check(
            "http://127.0.0.1:18000", "http://127.0.0.1:18005",
            probe='echo "$AWS_IGNORE_CONFIGURED_ENDPOINT_URLS $AWS_CONFIG_FILE $AWS_SHARED_CREDENTIALS_FILE'
                  ' $AWS_ACCESS_KEY_ID ${AWS_PROFILE-unset} ${AWS_SESSION_TOKEN-unset}"',
            AWS_PROFILE="prod", AWS_ACCESS_KEY_ID="AKIAREAL", AWS_SESSION_TOKEN="real",
            AWS_CONFIG_FILE="/root/.aws/config")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout, "false /dev/null /dev/null test unset unset\n")

    def test_local_endpoints_pass(self):
        for dynamodb, ses, host in [
            ("http://127.0.0.1:18000", "http://127.0.0.1:18005", None),
            ("http://localhost:18000/", "http://localhost:18005", None),
            ("http://[::1]:18000", "http://[::1]:18005", None),
            ("http://172.17.0.1:18100", "http://172.17.0.1:18105", "172.17.0.1"),
        ]:
            with self.subTest(dynamodb=dynamodb):
                done = self.check(dynamodb, ses, host)
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertEqual(done.stdout, "passed\n")

    def test_anything_else_is_refused_by_name(self):
        for dynamodb, ses, host, named in [
            (None, None, None, "AWS_ENDPOINT_URL_DYNAMODB is not set"),
            ("http://127.0.0.1:18000", None, None, "AWS_ENDPOINT_URL_SESV2 is not set"),
            ("", "http://127.0.0.1:18005", None, "AWS_ENDPOINT_URL_DYNAMODB is not set"),
            ("https://dynamodb.us-east-1.amazonaws.com", "http://127.0.0.1:18005", None,
             "AWS_ENDPOINT_URL_DYNAMODB is https://dynamodb.us-east-1.amazonaws.com, not the local stack"),
            ("http://127.0.0.1.example.com:18000", "http://127.0.0.1:18005", None, "not the local stack"),
            ("http://user@evil.example:18000", "http://127.0.0.1:18005", None, "not the local stack"),
            ("http://172.17.0.1:18100", "http://172.17.0.1:18105", None, "not the local stack"),
        ]:
            with self.subTest(dynamodb=dynamodb, ses=ses):
                done = self.check(dynamodb, ses, host)
                self.assertEqual(done.returncode, 1, done.stdout)
                self.assertEqual(done.stdout, "")
                self.assertTrue(done.stderr.startswith("probe: refusing to run: "), done.stderr)
                self.assertIn(named, done.stderr)


if __name__ == "__main__":
    unittest.main()

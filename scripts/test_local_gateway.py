"""Tests of the local JWT gateway (scripts/local-gateway.py) and of scripts/gateway.sh.

The gateway runs as a subprocess on a port the system picks, in front of a stub standing in for
the function's invoke endpoint; no Rust build is needed. Run with the tools venv's Python:
  "$(scripts/tools.sh python)/python" -B -m unittest discover -s scripts -p 'test_*.py'
"""
import http.client
import importlib.util
import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
GATEWAY = os.path.join(SCRIPTS, "local-gateway.py")
ROUTE = "/management/v1/users/100000000000000011/passwordless/_send_link"
FUNCTION_OK = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"ok":true}'}
TIMEOUT = 5


def load_gateway(state: str):
    """local-gateway.py as a module whose key lives in `state`."""
    spec = importlib.util.spec_from_file_location("local_gateway", GATEWAY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.STATE = state
    module.KEY_FILE = os.path.join(state, "jwt-key.pem")
    return module


def temporary_directory(test: unittest.TestCase) -> str:
    directory = tempfile.TemporaryDirectory(prefix="gateway-test-")
    test.addCleanup(directory.cleanup)
    return directory.name


class StubFunction(BaseHTTPRequestHandler):
    """The function's invoke endpoint: records each event, answers `reply`."""
    events = []
    reply = FUNCTION_OK

    def do_POST(self):
        type(self).events.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        body = json.dumps(type(self).reply).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class GatewayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state_dir = tempfile.TemporaryDirectory(prefix="gateway-test-")
        cls.state = cls.state_dir.name
        cls.stub = ThreadingHTTPServer(("127.0.0.1", 0), StubFunction)
        threading.Thread(target=cls.stub.serve_forever, daemon=True).start()
        cls.log_path = os.path.join(cls.state, "gateway.log")
        cls.log = open(cls.log_path, "wb")
        cls.process = subprocess.Popen(
            [sys.executable, GATEWAY, "serve", "--port", "0",
             "--lambda-url", f"http://127.0.0.1:{cls.stub.server_address[1]}"],
            env={**os.environ, "PASSKEY_STACK_DIR": cls.state},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=cls.log)
        deadline = time.monotonic() + 30
        while not (found := re.search(r"listening on http://127\.0\.0\.1:(\d+)", cls.read_log())):
            if cls.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start: {cls.read_log()}")
            time.sleep(0.05)
        cls.port = int(found.group(1))
        cls.gw = load_gateway(cls.state)

    @classmethod
    def tearDownClass(cls):
        cls.process.terminate()
        cls.process.wait(TIMEOUT)
        cls.log.close()
        cls.stub.shutdown()
        cls.stub.server_close()
        cls.state_dir.cleanup()

    @classmethod
    def read_log(cls) -> str:
        with open(cls.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def setUp(self):
        StubFunction.events = []
        StubFunction.reply = FUNCTION_OK
        self.log_start = len(self.read_log())

    def new_log(self, expected: str = "") -> str:
        """The log written since setUp, once it holds `expected` (a line may trail the answer)."""
        deadline = time.monotonic() + TIMEOUT
        while expected not in (text := self.read_log()[self.log_start:]) and time.monotonic() < deadline:
            time.sleep(0.02)
        return text

    def token(self, **claims) -> str:
        now = int(time.time())
        return self.gw.make_token({"iss": self.gw.ISSUER, "aud": self.gw.AUDIENCE, "sub": "100000000000000010",
                                   self.gw.ORG_CLAIM: "100000000000000001", "iat": now, "exp": now + 600,
                                   **claims})

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)

    def raw(self, head: bytes, body: bytes = b"") -> http.client.HTTPResponse:
        """Sends a request written by hand (headers a client library would not send)."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        self.addCleanup(sock.close)
        sock.sendall(head + b"\r\n\r\n" + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response

    def post(self, token: str, body: bytes = b"{}") -> http.client.HTTPResponse:
        conn = self.connection()
        self.addCleanup(conn.close)
        conn.request("POST", ROUTE, body, {"authorization": f"Bearer {token}", "content-type": "application/json"})
        return conn.getresponse()

    def assert_unauthorized(self, response: http.client.HTTPResponse):
        self.assertEqual(response.status, 401)
        self.assertEqual(response.read(), b'{"message":"Unauthorized"}')
        self.assertEqual(response.getheader("www-authenticate"), "Bearer")

    def test_a_valid_token_reaches_the_function(self):
        response = self.post(self.token(), b'{"x":1}')
        self.assertEqual(response.status, 200)
        self.assertEqual(json.loads(response.read()), {"ok": True})
        (event,) = StubFunction.events
        self.assertEqual(event["pathParameters"], {"userId": "100000000000000011"})
        self.assertEqual(event["body"], '{"x":1}')
        self.assertEqual(event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"], "100000000000000010")

    def test_the_registration_page_needs_no_token_and_carries_no_identity(self):
        # A token sent anyway is not read: API Gateway runs no authorizer on these routes.
        for headers in [{}, {"authorization": "Bearer not-a-token"}]:
            with self.subTest(headers=headers):
                StubFunction.events = []
                conn = self.connection()
                self.addCleanup(conn.close)
                conn.request("GET", "/ui/login/login/passwordless/init?userID=1&code=a%2Bb&code=c", headers=headers)
                response = conn.getresponse()
                self.assertEqual(response.status, 200)
                response.read()
                (event,) = StubFunction.events
                self.assertNotIn("authorizer", event["requestContext"])
                self.assertEqual(event["rawQueryString"], "userID=1&code=a%2Bb&code=c")
                self.assertEqual(event["queryStringParameters"], {"userID": "1", "code": "a+b,c"})
        # Only the page's prefix: elsewhere the token is still required.
        conn = self.connection()
        self.addCleanup(conn.close)
        conn.request("GET", "/uix/login")
        self.assert_unauthorized(conn.getresponse())

    def test_an_integer_exp_too_large_for_a_float_is_a_time(self):
        self.assertEqual(self.post(self.token(exp=10**400, nbf=-10**400)).status, 200)

    def test_the_token_is_checked_before_the_body_is_read(self):
        for authorization in [None, "Bearer not-a-token", f"Bearer {self.token(exp=1)}"]:
            with self.subTest(authorization=authorization):
                conn = self.connection()
                self.addCleanup(conn.close)
                conn.putrequest("POST", ROUTE)
                conn.putheader("content-type", "application/json")
                conn.putheader("content-length", str(self.gw.MAX_BODY))
                if authorization:
                    conn.putheader("authorization", authorization)
                conn.endheaders()  # no body follows: the answer must not wait for one
                response = conn.getresponse()
                self.assert_unauthorized(response)
                self.assertEqual(response.getheader("connection"), "close")
        self.assertEqual(StubFunction.events, [])

    def test_a_refused_client_is_not_invited_to_send_its_body(self):
        head = (f"POST {ROUTE} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                "content-length: 2\r\nexpect: 100-continue").encode()
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        self.addCleanup(sock.close)
        sock.sendall(head + b"\r\n\r\n")
        self.assertTrue(sock.recv(4096).startswith(b"HTTP/1.1 401 "))

    def test_an_accepted_client_is_invited_to_send_its_body(self):
        head = (f"POST {ROUTE} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
                f"expect: 100-continue\r\nauthorization: Bearer {self.token()}").encode()
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        self.addCleanup(sock.close)
        sock.sendall(head + b"\r\n\r\n")
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += sock.recv(1)
        self.assertTrue(interim.startswith(b"HTTP/1.1 100 "), interim)
        sock.sendall(b"{}")
        response = http.client.HTTPResponse(sock)
        response.begin()
        self.assertEqual(response.status, 200)
        self.assertEqual(StubFunction.events[0]["body"], "{}")

    def test_a_bad_content_length_is_refused(self):
        token = self.token()
        cases = [("-1", 400), ("abc", 400), ("+2", 400), ("1_0", 400), ("0x2", 400), ("2e0", 400), ("", 400),
                 ("\u0662", 400), ("2, 2", 400), ("9" * 5000, 413), (str(self.gw.MAX_BODY + 1), 413)]
        for value, status in cases:
            with self.subTest(content_length=value[:20]):
                head = (f"POST {ROUTE} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                        f"authorization: Bearer {token}\r\ncontent-length: {value}").encode()
                response = self.raw(head, b"{}")
                self.assertEqual(response.status, status)
                self.assertEqual(response.getheader("connection"), "close")
        with self.subTest("two lengths"):
            response = self.raw((f"POST {ROUTE} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n"
                                 "content-length: 2\r\ncontent-length: 0").encode(), b"{}")
            self.assertEqual(response.status, 400)
        self.assertEqual(StubFunction.events, [])

    def chunked_head(self, extra: str = "") -> bytes:
        return (f"POST {ROUTE} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                f"authorization: Bearer {self.token()}\r\ntransfer-encoding: chunked{extra}").encode()

    def test_headers_after_a_malformed_line_are_not_skipped(self):
        # Python's parser stops at "X-Pad : 1"; the Content-Length after it went unseen, and
        # the body was read as a second request.
        token = self.token()
        smuggled = f"GET /smuggled HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\r\n".encode()
        head = (f"POST {ROUTE} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\nX-Pad : 1\r\n"
                f"content-length: {len(smuggled)}").encode()
        response = self.raw(head, smuggled)
        self.assertEqual(response.status, 400)
        self.assertEqual(response.getheader("connection"), "close")
        self.assertEqual(StubFunction.events, [])

    def test_a_chunked_body_is_passed_whole(self):
        # connect-node (what @zitadel/client runs on in Node) sends its bodies chunked.
        response = self.raw(self.chunked_head(), b"5;ext=1\r\n{\"a\":\r\n3\r\n12}\r\n0\r\nx-trailer: 1\r\n\r\n")
        self.assertEqual(response.status, 200)
        self.assertEqual(StubFunction.events[0]["body"], '{"a":12}')
        self.assertNotIn("transfer-encoding", StubFunction.events[0]["headers"])

    def test_bad_chunked_framing_is_refused_and_the_connection_closed(self):
        cases = [
            ("size not hex", self.chunked_head(), b"zz\r\n{}\r\n0\r\n\r\n", 400),
            ("chunk longer than its size", self.chunked_head(), b"1\r\n{}\r\n0\r\n\r\n", 400),
            ("also a content-length", self.chunked_head("\r\ncontent-length: 2"), b"2\r\n{}\r\n0\r\n\r\n", 400),
            ("another coding", self.chunked_head().replace(b"chunked", b"gzip, chunked"), b"", 400),
            ("over the payload limit", self.chunked_head(), b"%x\r\n" % (self.gw.MAX_BODY + 1), 413),
            ("space around the size", self.chunked_head(), b" 2 \r\n{}\r\n0\r\n\r\n", 400),
            ("bare LF ending the body", self.chunked_head(), b"2\r\n{}\r\n0\r\n\n", 400),
            ("chunked on HTTP/1.0", self.chunked_head().replace(b"HTTP/1.1", b"HTTP/1.0"), b"2\r\n{}\r\n0\r\n\r\n", 400),
        ]
        for name, head, body, status in cases:
            with self.subTest(name):
                response = self.raw(head, body)
                self.assertEqual(response.status, status)
                self.assertEqual(response.getheader("connection"), "close")
        self.assertEqual(StubFunction.events, [])

    def test_each_refused_token_is_logged_with_its_reason(self):
        gw = self.gw
        rs256 = json.dumps({"alg": "RS256", "typ": "JWT"}).encode()
        good = self.token()
        stranger = load_gateway(temporary_directory(self))
        cases = [
            ("not-a-jwt", "not a JWT"),
            ("!!.e30.AA", "header is not base64url JSON"),
            (gw.signed_token(b"[" * 20000 + b"]" * 20000, b"{}"), "header is not base64url JSON"),
            (gw.signed_token(b"[]", b"{}"), "header is not a JSON object"),
            (gw.signed_token(b'"RS256"', b"{}"), "header is not a JSON object"),
            (gw.signed_token(b'{"alg":"none"}', b"{}"), "algorithm is not RS256"),
            (good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"), "bad signature"),
            (stranger.make_token({"iss": gw.ISSUER}), "bad signature"),
            (gw.signed_token(rs256, b"[]"), "payload is not a JSON object"),
            (gw.signed_token(rs256, b"null"), "payload is not a JSON object"),
            (self.token(iss="https://elsewhere"), "wrong issuer"),
            (self.token(aud=["other"]), "wrong audience"),
            (self.token(exp=None), "exp missing or not a finite number"),
            (self.token(exp=float("nan")), "exp missing or not a finite number"),
            (self.token(exp=float("inf")), "exp missing or not a finite number"),
            (self.token(exp="9999999999"), "exp missing or not a finite number"),
            (self.token(exp=True), "exp missing or not a finite number"),
            (gw.signed_token(rs256, json.dumps({"iss": gw.ISSUER, "aud": gw.AUDIENCE}).encode()[:-1]
                             + b',"exp":1e400}'), "exp missing or not a finite number"),
            (self.token(exp=int(time.time()) - 1), "expired"),
            (self.token(nbf="0"), "nbf not a finite number"),
            (self.token(nbf=False), "nbf not a finite number"),
            (self.token(nbf=float("-inf")), "nbf not a finite number"),
            (self.token(nbf=int(time.time()) + 600), "not yet valid (nbf)"),
        ]
        for token, reason in cases:
            with self.subTest(reason=reason, token=token[:40]):
                self.log_start = len(self.read_log())
                self.assert_unauthorized(self.post(token))
                log = self.new_log(f"token refused: {reason}\n")
                self.assertIn(f"gateway: token refused: {reason}\n", log)
                self.assertNotIn(token, log)
                self.assertNotIn("100000000000000010", log)
        self.assertEqual(StubFunction.events, [])
        # The serving threads survived every one of them.
        self.assertEqual(self.post(good).status, 200)

    def test_a_missing_token_is_logged(self):
        conn = self.connection()
        self.addCleanup(conn.close)
        conn.request("GET", "/anything")
        self.assert_unauthorized(conn.getresponse())
        self.assertIn("gateway: token refused: no bearer token\n", self.new_log("no bearer token\n"))

    def test_a_malformed_function_response_is_500(self):
        replies = [[], {"statusCode": "abc"}, {"statusCode": 99999}, {"statusCode": 200, "headers": ["x"]},
                   {"statusCode": 200, "isBase64Encoded": True, "body": "%%"}, {"statusCode": 200, "body": 5}]
        for reply in replies:
            with self.subTest(reply=reply):
                StubFunction.reply = reply
                response = self.post(self.token())
                self.assertEqual(response.status, 500)
                self.assertEqual(json.loads(response.read()), {"message": "Internal Server Error"})

    def test_control_characters_in_the_request_line_are_escaped_in_the_log(self):
        response = self.raw(b"GET /a\x1b[2Jb\x7fc HTTP/1.1\r\nhost: x")
        self.assertEqual(response.status, 401)
        log = self.new_log("/a\\x1b[2Jb")
        self.assertIn("/a\\x1b[2Jb\\x7fc", log)
        self.assertNotIn("\x1b", log)

    def test_the_page_links_code_is_not_written_to_the_log(self):
        # The registration link's code is a bearer secret; the default request line logging
        # (BaseHTTPRequestHandler.log_request) writes the whole URL, query included.
        secret = "ifTzKKIWrNxEeZEKmnl8EEX9jnK_KyDuTicdfaQPJS0"
        conn = self.connection()
        self.addCleanup(conn.close)
        conn.request("GET", f"/ui/login/login/passwordless/init?userID=1&codeID=2&code={secret}")
        conn.getresponse().read()
        log = self.new_log("/ui/login/login/passwordless/init")
        self.assertIn("/ui/login/login/passwordless/init", log)
        self.assertNotIn(secret, log)

    def test_a_dot_segment_after_the_page_prefix_does_not_skip_the_token(self):
        # API Gateway routes exactly: only the page's own paths go without a token.
        conn = self.connection()
        self.addCleanup(conn.close)
        conn.request("POST", "/ui/../v2/users/1/passkeys/_search", b"{}")
        self.assert_unauthorized(conn.getresponse())

    def test_the_served_key_is_private(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.gw.KEY_FILE).st_mode), 0o600)


class TemplateTest(unittest.TestCase):
    def test_the_anonymous_paths_are_the_templates_routes_without_an_authorizer(self):
        from samtranslator.yaml_helper import yaml_parse
        with open(os.path.join(SCRIPTS, "..", "infra", "template.yaml")) as f:
            paths = yaml_parse(f.read())["Resources"]["HttpApi"]["Properties"]["DefinitionBody"]["paths"]
        anonymous = {path for path, item in paths.items() for method, definition in item.items()
                     if method != "parameters" and definition.get("security") == [{"NONE": []}]}
        self.assertEqual(load_gateway(temporary_directory(self)).ANONYMOUS_PATHS, anonymous)


class KeyFileTest(unittest.TestCase):
    def test_the_key_is_created_0600_whatever_the_umask(self):
        state = temporary_directory(self)
        gw = load_gateway(state)
        previous = os.umask(0)
        try:
            gw.load_key()
        finally:
            os.umask(previous)
        self.assertEqual(stat.S_IMODE(os.stat(gw.KEY_FILE).st_mode), 0o600)
        self.assertEqual(os.listdir(state), ["jwt-key.pem"])

    def test_a_readable_key_from_before_is_made_private(self):
        gw = load_gateway(temporary_directory(self))
        gw.load_key()
        os.chmod(gw.KEY_FILE, 0o644)
        gw.load_key()
        self.assertEqual(stat.S_IMODE(os.stat(gw.KEY_FILE).st_mode), 0o600)


class GatewayShTest(unittest.TestCase):
    def test_token_without_its_arguments_prints_the_usage(self):
        state = temporary_directory(self)
        for args in [["token"], ["token", "a", "b", "c"], []]:
            with self.subTest(args=args):
                done = subprocess.run(["bash", os.path.join(SCRIPTS, "gateway.sh"), *args],
                                      env={**os.environ, "PASSKEY_STACK_DIR": state},
                                      capture_output=True, text=True, timeout=60)
                self.assertEqual(done.returncode, 2)
                self.assertEqual(done.stdout, "")
                self.assertRegex(done.stderr, r"^usage: \S*gateway\.sh up \| down \| token SUB ORG")
                self.assertNotIn("line ", done.stderr)

    def test_token_for_a_demo_user_by_name(self):
        state = temporary_directory(self)
        gateway_sh = os.path.join(SCRIPTS, "gateway.sh")
        env = {**os.environ, "PASSKEY_STACK_DIR": state}
        done = subprocess.run(["bash", gateway_sh, "token", "Ada"], env=env, capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        claims = load_gateway(state).verify_token(done.stdout.strip())
        self.assertEqual(claims["sub"], "100000000000000010")
        self.assertEqual(claims["urn:zitadel:iam:user:resourceowner:id"], "100000000000000001")
        # An unknown name (a user id alone is none) is refused at once, listing the names.
        for name in ["zed", "100000000000000010"]:
            with self.subTest(name=name):
                done = subprocess.run(["bash", gateway_sh, "token", name], env=env, capture_output=True,
                                      text=True, timeout=60)
                self.assertEqual(done.returncode, 2)
                self.assertEqual(done.stdout, "")
                self.assertIn(f"no demo user '{name}'", done.stderr)
                self.assertIn("ada, admin, alice, bob,", done.stderr)


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""A local stand-in for API Gateway's HTTP API with a JWT authorizer, in front of the function
under `cargo lambda watch` (what `sam local start-api` does, without Docker).

  local-gateway.py serve  [--port 18080] [--lambda-url http://127.0.0.1:19000]
  local-gateway.py token  --sub USER --org ORG [--ttl 3600]   prints a bearer token
  local-gateway.py public-key   prints the key's public half (base64 of the DER PKCS #1 form),
                                for the local Lambda authorizer of `make sam-local`

Every request outside ANONYMOUS_PATHS (the registration page and its calls, which the SAM
template routes without an authorizer, matched exactly as API Gateway routes) must carry `Authorization: Bearer <JWT>` signed (RS256) by the local test key
(.stack/jwt-key.pem, mode 0600, made on first use), with issuer ISSUER and audience AUDIENCE, a
numeric `exp` in the future and, if present, a numeric `nbf` in the past; otherwise it answers
401 {"message":"Unauthorized"} as API Gateway does, without reading the body or calling the
function, and logs why ("token refused: expired"; never the token). A body must be framed by
one Content-Length or by chunked transfer coding alone, at most 10 MiB (else 400 or 413). A
refused request's connection closes after the answer and a brief, bounded drain of what the
client is still sending (so a streaming client reads the 401 instead of failing to write). Accepted requests become HTTP API
payload v2.0 events with the token's claims in requestContext.authorizer.jwt.claims, sent to
the function; its proxy response is returned. Like an HTTP API with a `$default` route, every
method and path reaches the function.
"""
import argparse
import base64
import json
import math
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.environ.get("PASSKEY_STACK_DIR", os.path.join(ROOT, ".stack"))
KEY_FILE = os.path.join(STATE, "jwt-key.pem")
ISSUER = "http://127.0.0.1/local-gateway"
AUDIENCE = "passkey-api"
# The paths of the template's routes that run no authorizer (`security: [{NONE: []}]`, which
# test_local_gateway.py holds this to): their events carry no identity.
PAGE = "/ui/login/login/passwordless/init"
ANONYMOUS_PATHS = {PAGE, f"{PAGE}/page.js", f"{PAGE}/page.css", f"{PAGE}/_begin", f"{PAGE}/_finish"}
ROUTE_PREFIX = "/management/v1/users/"
ROUTE_SUFFIX = "/passwordless/_send_link"
ROUTE_KEY = "POST /management/v1/users/{userId}/passwordless/_send_link"
ORG_CLAIM = "urn:zitadel:iam:user:resourceowner:id"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
CHUNKED = object()  # body_length()'s answer for a chunked body
DRAIN_BYTES = 64 * 1024  # what a refused request may still send before the connection closes
DRAIN_SECONDS = 0.5
CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7f, 0xa0)]}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key():
    if not os.path.exists(KEY_FILE):
        os.makedirs(STATE, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        # mkstemp creates the file 0600 whatever the umask: the key is never readable by others.
        fd, tmp = tempfile.mkstemp(dir=STATE, prefix=".jwt-key.")
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.replace(tmp, KEY_FILE)
    elif os.stat(KEY_FILE).st_mode & 0o077:
        os.chmod(KEY_FILE, 0o600)  # made world-readable by an earlier version of this script
    with open(KEY_FILE, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def signed_token(header: bytes, payload: bytes) -> str:
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    signature = load_key().sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def make_token(claims: dict) -> str:
    return signed_token(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "local"}).encode(),
                        json.dumps(claims).encode())


class TokenRefused(Exception):
    """Why a token is refused: a fixed text, safe to log (never the token or a claim value)."""


def is_time(value) -> bool:
    # A NumericDate: bool is an int to Python but not a number to JSON; NaN and Infinity
    # (which Python's json reads) would never expire. An int is finite however large
    # (math.isfinite would overflow converting it).
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or isinstance(value, float) and math.isfinite(value)


def json_object(segment: str, name: str) -> dict:
    try:
        value = json.loads(b64url_decode(segment))
    except (ValueError, RecursionError):
        # ValueError covers bad base64, bad UTF-8 and bad JSON; RecursionError deep nesting.
        raise TokenRefused(f"{name} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise TokenRefused(f"{name} is not a JSON object")
    return value


def verify_token(token: str) -> dict:
    """The claims of a valid token (API Gateway's JWT authorizer checks), else TokenRefused."""
    segments = token.split(".")
    if len(segments) != 3:
        raise TokenRefused("not a JWT")
    header_b64, payload_b64, signature_b64 = segments
    if json_object(header_b64, "header").get("alg") != "RS256":
        raise TokenRefused("algorithm is not RS256")
    try:
        load_key().public_key().verify(b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode(),
                                       padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, InvalidSignature):
        raise TokenRefused("bad signature") from None
    claims = json_object(payload_b64, "payload")
    if claims.get("iss") != ISSUER:
        raise TokenRefused("wrong issuer")
    audience = claims.get("aud")
    if AUDIENCE not in (audience if isinstance(audience, list) else [audience]):
        raise TokenRefused("wrong audience")
    now = time.time()
    if not is_time(claims.get("exp")):
        raise TokenRefused("exp missing or not a finite number")
    if claims["exp"] <= now:
        raise TokenRefused("expired")
    if "nbf" in claims:
        if not is_time(claims["nbf"]):
            raise TokenRefused("nbf not a finite number")
        if claims["nbf"] > now:
            raise TokenRefused("not yet valid (nbf)")
    return claims


def claim_text(value) -> str:
    # API Gateway hands claims to the function as strings; arrays as "[a b]".
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(claim_text(v) for v in value) + "]"
    return json.dumps(value)


class Gateway(BaseHTTPRequestHandler):
    lambda_url = ""
    protocol_version = "HTTP/1.1"

    def log_request(self, code="-", size="-"):
        # The request line without its query: the page's query holds the link's code.
        self.log_message('"%s %s %s" %s %s', self.command, self.path.partition("?")[0],
                         self.request_version, code, size)

    def log_message(self, fmt, *args):
        # The request line is the client's: escape control characters so it cannot forge log
        # lines or drive the terminal that shows the log.
        sys.stderr.write("gateway: " + (fmt % args).translate(CONTROL_ESCAPES) + "\n")

    def answer(self, status: int, body: bytes, headers=None):
        self.send_response(status)
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        headers.setdefault("content-type", "application/json")
        for name, value in headers.items():
            if name not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.send_header("apigw-requestid", self.request_id)
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def refuse(self, status: int, message: str, headers=None):
        # Answered before the body is read: what is left of it on the connection would be
        # taken for the next request, so the connection ends here.
        self.close_connection = True
        self.answer(status, json.dumps({"message": message}, separators=(",", ":")).encode(), headers)
        self.wfile.flush()
        self.drain()

    def drain(self):
        """Reads (and drops) what the client is still sending, a little and briefly, before the
        connection closes: a client still writing its body (connect-node streams it) would
        otherwise fail with EPIPE instead of reading the answer. Bounded, so a refused client
        cannot make the gateway read much."""
        self.connection.settimeout(DRAIN_SECONDS)
        deadline = time.monotonic() + DRAIN_SECONDS
        read = 0
        try:
            while read < DRAIN_BYTES and time.monotonic() < deadline:
                data = self.rfile.read1(DRAIN_BYTES - read)
                if not data:
                    break
                read += len(data)
        except OSError:
            pass

    def handle_expect_100(self):
        # "100 Continue" is sent by handle_any once the length and the token are accepted, so
        # a refused client is not invited to send its body.
        return True

    def body_length(self):
        """The declared body length, CHUNKED for a chunked body, else None after refusing."""
        if self.headers.defects or self.headers.get_payload():
            # Python's parser stops at a malformed header line and keeps what follows as
            # "payload": a Content-Length or Transfer-Encoding there would go unseen.
            self.refuse(400, "Bad Request")
            return None
        codings = self.headers.get_all("transfer-encoding", [])
        if codings and self.request_version < "HTTP/1.1":
            self.refuse(400, "Bad Request")
            return None
        if codings:
            # Chunked alone (connect-node, for one, sends bodies so); with a Content-Length
            # too, or another coding, the framing is ambiguous: request smuggling's recipe.
            if [c.strip().lower() for c in codings] != ["chunked"] or "content-length" in self.headers:
                self.refuse(400, "Bad Request")
                return None
            return CHUNKED
        lengths = self.headers.get_all("content-length", [])
        digits = lengths[0].strip() if len(lengths) == 1 else "" if lengths else "0"
        if not (digits.isascii() and digits.isdigit()):
            self.refuse(400, "Bad Request")
            return None
        significant = digits.lstrip("0") or "0"
        # Compared by length first: int() of a few thousand digits raises.
        if len(significant) > len(str(MAX_BODY)) or int(significant) > MAX_BODY:
            self.refuse(413, "Request Entity Too Large")
            return None
        return int(significant)

    def read_chunked(self):
        """A chunked body, whole, else None after refusing it (size, syntax, limit)."""
        body = bytearray()
        while True:
            line = self.rfile.readline(1026)
            size_text = line[:-2].split(b";", 1)[0]
            if not line.endswith(b"\r\n") or not size_text or len(size_text) > 16 \
                    or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
                self.refuse(400, "Bad Request")
                return None
            size = int(size_text, 16)
            if len(body) + size > MAX_BODY:
                self.refuse(413, "Request Entity Too Large")
                return None
            if size == 0:
                break
            chunk = self.rfile.read(size + 2)
            if len(chunk) != size + 2 or not chunk.endswith(b"\r\n"):
                self.refuse(400, "Bad Request")
                return None
            body += chunk[:-2]
        # Trailer fields, up to the empty line that ends the message; their content is dropped.
        for _ in range(100):
            line = self.rfile.readline(8194)
            if line == b"\r\n":
                return bytes(body)
            if not line.endswith(b"\r\n"):
                break
        self.refuse(400, "Bad Request")
        return None

    def authorize(self):
        """The token's claims, else None after logging why and answering 401."""
        auth = self.headers.get("authorization", "")
        try:
            if auth[:7].lower() != "bearer ":
                raise TokenRefused("no bearer token")
            return verify_token(auth[7:].strip())
        except TokenRefused as refused:
            self.log_message("token refused: %s", refused)
            self.refuse(401, "Unauthorized", {"www-authenticate": "Bearer"})
            return None

    def handle_any(self):
        self.request_id = str(uuid.uuid4())
        length = self.body_length()
        if length is None:
            return
        raw_path, _, raw_query = self.path.partition("?")
        anonymous = raw_path in ANONYMOUS_PATHS
        claims = None if anonymous else self.authorize()
        if claims is None and not anonymous:
            return
        if (self.headers.get("expect", "").lower() == "100-continue"
                and self.request_version >= "HTTP/1.1"):
            self.send_response_only(100)
            self.end_headers()
        if length is CHUNKED:
            body = self.read_chunked()
            if body is None:
                return
        else:
            body = self.rfile.read(length) if length else b""

        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            if name == "transfer-encoding":
                # The body is passed whole; API Gateway does not forward the framing either.
                continue
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": self.headers.get("host", "127.0.0.1"),
                "domainPrefix": "local",
                "http": {"method": self.command, "path": urllib.parse.unquote(raw_path),
                         "protocol": self.request_version, "sourceIp": self.client_address[0],
                         "userAgent": self.headers.get("user-agent", "")},
                "requestId": self.request_id,
                "routeKey": "$default",
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                "timeEpoch": int(time.time() * 1000),
            },
            "isBase64Encoded": False,
        }
        if not anonymous:
            event["requestContext"]["authorizer"] = {
                "jwt": {"claims": {k: claim_text(v) for k, v in claims.items()}, "scopes": None}}
        if raw_query:
            # As API Gateway: decoded, a repeated parameter's values joined by commas.
            params = {}
            for name, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
                params[name] = f"{params[name]},{value}" if name in params else value
            event["queryStringParameters"] = params
        if raw_path.startswith(ROUTE_PREFIX) and raw_path.endswith(ROUTE_SUFFIX) and self.command == "POST":
            user = raw_path[len(ROUTE_PREFIX):-len(ROUTE_SUFFIX)]
            if user and "/" not in user:
                event["routeKey"] = event["requestContext"]["routeKey"] = ROUTE_KEY
                event["pathParameters"] = {"userId": urllib.parse.unquote(user)}
        if body:
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True

        request = urllib.request.Request(
            f"{self.lambda_url}/2015-03-31/functions/send-passkey-link/invocations",
            data=json.dumps(event).encode(), headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                reply = json.load(response)
        except (urllib.error.URLError, ValueError, TimeoutError) as e:
            self.log_message("function failed: %s", e)
            return self.answer(500, b'{"message":"Internal Server Error"}')
        if not isinstance(reply, dict) or "statusCode" not in reply:
            self.log_message("function error: %s", json.dumps(reply)[:500])
            return self.answer(500, b'{"message":"Internal Server Error"}')
        try:
            status = int(reply["statusCode"])
            headers = {str(k): str(v) for k, v in (reply.get("headers") or {}).items()}
            out = reply.get("body") or ""
            out = base64.b64decode(out, validate=True) if reply.get("isBase64Encoded") else out.encode()
            if not 100 <= status <= 599:
                raise ValueError("status out of range")
        except (ValueError, TypeError, AttributeError) as e:
            # API Gateway answers a malformed proxy response with 500 too.
            self.log_message("function response malformed: %s", e)
            return self.answer(500, b'{"message":"Internal Server Error"}')
        self.answer(status, out, headers)

    def __getattr__(self, name):
        # Every method, standard or not, goes to the function, which answers 405 itself.
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve")
    serve.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "18080")))
    serve.add_argument("--lambda-url", default=f"http://127.0.0.1:{os.environ.get('LAMBDA_PORT', '19000')}")
    token = commands.add_parser("token")
    token.add_argument("--sub", required=True)
    token.add_argument("--org", required=True)
    token.add_argument("--ttl", type=int, default=3600)
    commands.add_parser("public-key")
    args = parser.parse_args()

    if args.command == "public-key":
        public = load_key().public_key().public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.PKCS1)
        print(base64.b64encode(public).decode())
        return

    if args.command == "token":
        now = int(time.time())
        print(make_token({"iss": ISSUER, "aud": AUDIENCE, "sub": args.sub, ORG_CLAIM: args.org,
                          "iat": now, "exp": now + args.ttl}))
        return
    load_key()
    Gateway.lambda_url = args.lambda_url
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Gateway)
    port = server.server_address[1]  # the one the system chose for --port 0
    sys.stderr.write(f"gateway: listening on http://127.0.0.1:{port}, function at {args.lambda_url}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A local stand-in for API Gateway's HTTP API with a JWT authorizer, in front of the function
under `cargo lambda watch` (what `sam local start-api` does, without Docker).

  local-gateway.py serve  [--port 18080] [--lambda-url http://127.0.0.1:19000]
  local-gateway.py token  --sub USER --org ORG [--ttl 3600]   prints a bearer token

Every request must carry `Authorization: Bearer <JWT>` signed (RS256) by the local test key
(.stack/jwt-key.pem, made on first use), with issuer ISSUER and audience AUDIENCE, not expired;
otherwise it answers 401 {"message":"Unauthorized"} as API Gateway does, without calling the
function. Accepted requests become HTTP API payload v2.0 events with the token's claims in
requestContext.authorizer.jwt.claims, sent to the function; its proxy response is returned.
Like an HTTP API with a `$default` route, every method and path reaches the function.
"""
import argparse
import base64
import json
import os
import sys
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
ROUTE_PREFIX = "/management/v1/users/"
ROUTE_SUFFIX = "/passwordless/_send_link"
ROUTE_KEY = "POST /management/v1/users/{userId}/passwordless/_send_link"
ORG_CLAIM = "urn:zitadel:iam:user:resourceowner:id"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit


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
        tmp = KEY_FILE + f".{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(pem)
        os.replace(tmp, KEY_FILE)
    with open(KEY_FILE, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def make_token(claims: dict) -> str:
    signing_input = ".".join([
        b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "local"}).encode()),
        b64url(json.dumps(claims).encode()),
    ])
    signature = load_key().sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def verify_token(token: str):
    """The claims of a valid token, else None (API Gateway's JWT authorizer checks)."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        if header.get("alg") != "RS256":
            return None
        load_key().public_key().verify(b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode(),
                                       padding.PKCS1v15(), hashes.SHA256())
        claims = json.loads(b64url_decode(payload_b64))
    except (ValueError, InvalidSignature, UnicodeDecodeError):
        return None
    if not isinstance(claims, dict) or claims.get("iss") != ISSUER:
        return None
    audience = claims.get("aud")
    if AUDIENCE not in (audience if isinstance(audience, list) else [audience]):
        return None
    now = time.time()
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
        return None
    if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now:
        return None
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

    def log_message(self, fmt, *args):
        sys.stderr.write("gateway: " + (fmt % args) + "\n")

    def answer(self, status: int, body: bytes, headers=None):
        self.send_response(status)
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        headers.setdefault("content-type", "application/json")
        for name, value in headers.items():
            if name not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.send_header("apigw-requestid", self.request_id)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        self.request_id = str(uuid.uuid4())
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self.answer(413, b'{"message":"Request Entity Too Large"}')
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("authorization", "")
        claims = verify_token(auth[7:].strip()) if auth[:7].lower() == "bearer " else None
        if claims is None:
            return self.answer(401, b'{"message":"Unauthorized"}', {"www-authenticate": "Bearer"})

        raw_path, _, raw_query = self.path.partition("?")
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
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
                "authorizer": {"jwt": {"claims": {k: claim_text(v) for k, v in claims.items()},
                                       "scopes": None}},
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
        if "statusCode" not in reply:
            self.log_message("function error: %s", json.dumps(reply)[:500])
            return self.answer(500, b'{"message":"Internal Server Error"}')
        out = reply.get("body") or ""
        out = base64.b64decode(out) if reply.get("isBase64Encoded") else out.encode()
        self.answer(int(reply["statusCode"]), out, reply.get("headers") or {})

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
    args = parser.parse_args()

    if args.command == "token":
        now = int(time.time())
        print(make_token({"iss": ISSUER, "aud": AUDIENCE, "sub": args.sub, ORG_CLAIM: args.org,
                          "iat": now, "exp": now + args.ttl}))
        return
    load_key()
    Gateway.lambda_url = args.lambda_url
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Gateway)
    sys.stderr.write(f"gateway: listening on http://127.0.0.1:{args.port}, function at {args.lambda_url}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()

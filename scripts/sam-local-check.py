#!/usr/bin/env python3
"""make sam-local's checks, run by scripts/sam-local.sh once the engine, the stack on the Docker
bridge, the bootstraps and the local template are ready:

1. `sam local invoke` with every file in events/, each against a freshly seeded table of its own
   (the template's TABLE_NAME overridden through --env-vars, as tests/events.rs gives each its
   own): the status the Events table (docs/events.md) gives, and one mail more in the SES emulator
   exactly for the events that send one;
   then every file in events/ses/ through `sam local invoke DeliveryFeedbackFunction` (SES's
   events in EventBridge's envelope): the outcome that table gives, or, for the
   malformed one, a failed invocation;
2. `sam local start-api` with the local Lambda authorizer: a local gateway token gets 200 and
   the mail; no token 401, a forged one 403, as API Gateway answers; the anonymous page needs none;
   the text API's PUT, GET and DELETE routes answer through it.

  sam-local-check.py TEMPLATE   (environment: MAILBOX_URL, PASSKEY_ADMIN, PASSKEY_KEY_DIR,
                                 SAM_API_PORT, SAM_API_LOG, TABLE_PREFIX)
"""
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS = os.path.join(ROOT, "events")
# The events whose call mails a link (the others answer one, read, refuse or remove).
MAILING = {
    "send-link.json", "send-link-org-override.json", "rest-v1-cognito.json",
    "rest-v1-lambda-authorizer.json", "http-v2-lambda-authorizer.json", "auth-send-my-link.json",
    "v2-send-link-template.json",
}
# What delivery-feedback answers to each file of events/ses/ (docs/events.md): the state it
# recorded, `ignored`, or `error` (the invocation fails: Lambda's retries, then the DLQ).
SES_OUTCOMES = {
    "send.json": "sent", "delivery.json": "delivered", "delivery-delay.json": "delayed",
    "bounce-permanent.json": "bounced", "complaint.json": "complained",
    "open-not-recorded.json": "ignored", "malformed-no-code-tag.json": "error",
}
DEMO_ADMIN, DEMO_ORG, ALICE = "100000000000000010", "100000000000000001", "100000000000000011"


def fail(message: str):
    sys.exit(f"sam-local: FAILED: {message}")


def documented_statuses() -> dict:
    """file -> status, from the Events table (docs/events.md)."""
    with open(os.path.join(ROOT, "docs", "events.md")) as f:
        rows = re.findall(r"^\| `([a-z0-9-]+\.json)` \|.*\| (\d{3})(?: \([^)]*\))? \|$", f.read(), re.M)
    return {name: int(status) for name, status in rows}


def mail_count() -> int:
    with urllib.request.urlopen(f"{os.environ['MAILBOX_URL']}/store", timeout=5) as response:
        return len(json.load(response)["emails"])


def newest_mail_link() -> str:
    with urllib.request.urlopen(f"{os.environ['MAILBOX_URL']}/store", timeout=5) as response:
        mail = json.load(response)["emails"][-1]
    link = re.search(r"https?://\S+", mail["body"].get("text", ""))
    return link.group(0) if link else ""


def seeded_table(name: str):
    env = {**os.environ, "TABLE_NAME": name}
    for args in (["create-table"], ["seed", os.path.join(ROOT, "seed", "demo.json")]):
        subprocess.run([os.environ["PASSKEY_ADMIN"], *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)


def env_vars_file(table: str) -> str:
    # In the run's state folder: what an interrupted run leaves goes with it.
    fd, path = tempfile.mkstemp(prefix="env-vars-", suffix=".json", dir=os.environ["PASSKEY_STACK_DIR"])
    with os.fdopen(fd, "w") as f:
        json.dump({"Function": {"TABLE_NAME": table}, "DeliveryFeedbackFunction": {"TABLE_NAME": table}}, f)
    return path


def invoke_every_event(template: str) -> list:
    documented = documented_statuses()
    files = sorted(f for f in os.listdir(EVENTS) if f.endswith(".json"))
    if set(files) != set(documented):
        fail(f"events/ and the Events table (docs/events.md) differ: only in events/: "
             f"{sorted(set(files) - set(documented))}, only in docs/events.md: {sorted(set(documented) - set(files))}")
    seconds = []
    for i, name in enumerate(files):
        table = f"{os.environ['TABLE_PREFIX']}-{i}"
        seeded_table(table)
        env_file = env_vars_file(table)
        before = mail_count()
        began = time.monotonic()
        try:
            done = subprocess.run(
                ["sam", "local", "invoke", "Function", "--template-file", template, "--skip-pull-image",
                 "--env-vars", env_file, "--event", os.path.join(EVENTS, name)],
                capture_output=True, text=True, timeout=300)
        finally:
            os.unlink(env_file)
        seconds.append(time.monotonic() - began)
        answer = last_json_line(done.stdout)
        if done.returncode != 0 or not isinstance(answer, dict):
            fail(f"sam local invoke events/{name}: exit {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}")
        if answer.get("statusCode") != documented[name]:
            fail(f"events/{name}: status {answer.get('statusCode')}, docs/events.md says {documented[name]}:\n"
                 f"{answer}\n{done.stderr[-3000:]}")
        mails = mail_count() - before
        expected_mails = 1 if name in MAILING else 0
        if mails != expected_mails:
            fail(f"events/{name}: {mails} mails arrived, expected {expected_mails}")
        if mails and "code=" not in newest_mail_link():
            fail(f"events/{name}: the mail holds no complete link")
        print(f"  {name:42} {answer['statusCode']}  {'mail  ' if mails else '      '}{seconds[-1]:5.1f} s",
              flush=True)
    return seconds


def last_json_line(text: str):
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def invoke_ses_events(template: str) -> list:
    directory = os.path.join(EVENTS, "ses")
    files = sorted(f for f in os.listdir(directory) if f.endswith(".json"))
    if set(files) != set(SES_OUTCOMES):
        fail(f"events/ses/ and SES_OUTCOMES differ: {sorted(set(files) ^ set(SES_OUTCOMES))}")
    table = f"{os.environ['TABLE_PREFIX']}-ses"
    seeded_table(table)
    env_file = env_vars_file(table)
    seconds = []
    try:
        for name in files:
            began = time.monotonic()
            done = subprocess.run(
                ["sam", "local", "invoke", "DeliveryFeedbackFunction", "--template-file", template,
                 "--skip-pull-image", "--env-vars", env_file, "--event", os.path.join(directory, name)],
                capture_output=True, text=True, timeout=300)
            seconds.append(time.monotonic() - began)
            answer = last_json_line(done.stdout)
            if not isinstance(answer, dict):
                fail(f"sam local invoke events/ses/{name}: exit {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}")
            expected = SES_OUTCOMES[name]
            got = ("error" if "errorMessage" in answer else
                   "ignored" if "ignored" in answer else answer.get("recorded"))
            if got != expected:
                fail(f"events/ses/{name}: {answer}, expected {expected}\n{done.stderr[-3000:]}")
            print(f"  ses/{name:38} {got:10} {seconds[-1]:5.1f} s", flush=True)
    finally:
        os.unlink(env_file)
    return seconds


def request(port: int, method: str, path: str, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for_port(port: int, process: subprocess.Popen, seconds: int):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"sam local start-api exited ({process.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    fail(f"sam local start-api did not listen on 127.0.0.1:{port} within {seconds} s")


def start_api(template: str, log) -> dict:
    port = int(os.environ["SAM_API_PORT"])
    table = f"{os.environ['TABLE_PREFIX']}-api"
    seeded_table(table)
    env_file = env_vars_file(table)
    try:
        process = subprocess.Popen(
            ["sam", "local", "start-api", "--template-file", template, "--skip-pull-image",
             "--env-vars", env_file, "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    except BaseException:
        os.unlink(env_file)
        raise
    try:
        wait_for_port(port, process, 120)
        gateway = os.path.join(ROOT, "scripts", "local-gateway.py")
        token = subprocess.run([sys.executable, gateway, "token", "--sub", DEMO_ADMIN, "--org", DEMO_ORG],
                               env={**os.environ, "PASSKEY_STACK_DIR": os.environ["PASSKEY_KEY_DIR"]},
                               capture_output=True, text=True, check=True).stdout.strip()
        path = f"/management/v1/users/{ALICE}/passwordless/_send_link"
        timings = {}
        for label in ("first request", "second request"):
            before = mail_count()
            began = time.monotonic()
            status, body = request(port, "POST", path, token, {})
            timings[label] = time.monotonic() - began
            if status != 200 or json.loads(body)["details"]["resourceOwner"] != DEMO_ORG:
                fail(f"start-api POST {path} with a token: {status} {body}")
            if mail_count() - before != 1:
                fail("start-api: the mail did not arrive")
            print(f"  start-api POST {path} with a token: 200, mail  {timings[label]:5.1f} s ({label})",
                  flush=True)
        status, body = request(port, "POST", path, None, {})
        if status != 401:
            fail(f"start-api without a token: {status} {body} (expected 401)")
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        status, body = request(port, "POST", path, forged, {})
        if status != 403:
            fail(f"start-api with a forged token: {status} {body} (expected 403)")
        print("  start-api without a token: 401; with a forged token: 403", flush=True)
        status, body = request(port, "GET", f"/ui/login/login/passwordless/init?userID={ALICE}&orgID={DEMO_ORG}"
                               "&codeID=00000000-0000-4000-8000-000000000000&code=not-a-real-code")
        if status != 404 or "<html" not in body:
            fail(f"start-api anonymous page for an unknown link: {status} {body[:200]}")
        print("  start-api anonymous page, unknown link: 404 (HTML)", flush=True)
        text_path = "/management/v1/text/message/passwordless_registration/de"
        subject = "Passkey für {{.OrgName}}"
        for method, body, want in (("PUT", {"subject": subject}, "details"), ("GET", None, "customText"),
                                   ("DELETE", None, "details")):
            status, answer = request(port, method, text_path, token, body)
            if status != 200 or want not in json.loads(answer):
                fail(f"start-api {method} {text_path}: {status} {answer}")
            if method == "GET" and json.loads(answer)["customText"].get("subject") != subject:
                fail(f"start-api GET {text_path} does not answer the text just set: {answer}")
        print("  start-api PUT, GET, DELETE of the org's German message text: 200 each", flush=True)
        return timings
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.unlink(env_file)


def main() -> int:
    template = sys.argv[1]
    began = time.monotonic()
    print("== sam local invoke, every file in events/", flush=True)
    seconds = invoke_every_event(template)
    print(f"== sam local invoke: {len(seconds)} events in {sum(seconds):.0f} s "
          f"(per event: median {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s)", flush=True)
    print("== sam local invoke DeliveryFeedbackFunction, every file in events/ses/", flush=True)
    ses_seconds = invoke_ses_events(template)
    print(f"== sam local invoke: {len(ses_seconds)} SES events in {sum(ses_seconds):.0f} s", flush=True)
    print("== sam local start-api with a local gateway token", flush=True)
    with open(os.environ["SAM_API_LOG"], "w") as log:
        start_api(template, log)
    print(f"== sam-local checks passed in {time.monotonic() - began:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

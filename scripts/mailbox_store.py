"""The SES emulator's mailbox (aws-ses-v2-local's `GET /store`), for scripts/show-mail.py,
scripts/ses-event.py and `make mail`."""
import json
import os
import re
import sys
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_RUNNING = "the local stack's mailbox is not running: start it with `make dev` (in another terminal)"


def running_mailbox(environ=os.environ) -> str:
    """The mailbox of the running stack: MAILBOX_URL, else the port scripts/stack.sh recorded for
    the SES emulator it started (its PID file naming a live process); exits naming `make dev`."""
    if environ.get("MAILBOX_URL"):
        return environ["MAILBOX_URL"]
    state = environ.get("PASSKEY_STACK_DIR") or os.path.join(ROOT, ".stack")
    try:
        with open(os.path.join(state, "ses.pid")) as f:
            os.kill(int(f.read().strip()), 0)
        with open(os.path.join(state, "ses.port")) as f:
            port = int(f.read().strip())
    except (OSError, ValueError):
        sys.exit(NOT_RUNNING)
    return f"http://127.0.0.1:{port}"


def mails(mailbox: str) -> list:
    """Every mail the emulator holds, oldest first; exits naming `make dev` when none answers."""
    try:
        with urllib.request.urlopen(f"{mailbox}/store", timeout=5) as response:
            return json.load(response)["emails"]
    except (urllib.error.URLError, OSError) as e:
        sys.exit(f"no mailbox answers at {mailbox} ({getattr(e, 'reason', e)}): is `make dev` running?")


def newest_mail(mailbox: str, recipient: str = None) -> dict:
    """The newest mail (for `recipient` when given); exits naming the mailbox when there is none."""
    mine = [m for m in mails(mailbox) if recipient is None or recipient in m["destination"]["to"]]
    if not mine:
        sys.exit(f"no mail {'for ' + recipient + ' ' if recipient else ''}in {mailbox} yet: send a link first")
    return mine[-1]


def mail_link(mail: dict) -> str:
    """The registration link in a mail's text; exits when it is missing or incomplete."""
    link = re.search(r"https?://\S+", mail["body"].get("text", ""))
    if not link or re.search(r"[{}]", link.group(0)) or "code=" not in link.group(0):
        to = ", ".join(mail["destination"]["to"])
        sys.exit(f"the mail to {to} has no complete link: {link.group(0) if link else '(none)'}")
    return link.group(0)


def summary(mail: dict) -> str:
    """The lines show-mail.py prints: sender, recipient, subject, link."""
    return "\n".join([
        f"  from:    {mail['from']}",
        f"  to:      {', '.join(mail['destination']['to'])}",
        f"  subject: {mail['subject']}",
        f"  link:    {mail_link(mail)}",
    ])

"""The SES emulator's mailbox (aws-ses-v2-local's `GET /store`), for scripts/show-mail.py and
scripts/ses-event.py."""
import json
import sys
import urllib.request


def newest_mail(mailbox: str, recipient: str) -> dict:
    """The newest mail for `recipient`; exits naming the mailbox when there is none."""
    with urllib.request.urlopen(f"{mailbox}/store", timeout=5) as response:
        emails = json.load(response)["emails"]
    mine = [m for m in emails if recipient in m["destination"]["to"]]
    if not mine:
        sys.exit(f"no mail for {recipient} in {mailbox}")
    return mine[-1]

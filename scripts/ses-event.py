#!/usr/bin/env python3
"""Prints an SES event (one of events/ses/, in EventBridge's envelope) made about the newest
mail the SES emulator holds for a recipient: its message id, its link's code id as the `code`
tag and the times of now, as SES would publish them for that mail.
Usage: ses-event.py MAILBOX_URL RECIPIENT EVENT.json"""
import datetime
import json
import re
import sys
import urllib.request

mailbox, recipient, template = sys.argv[1], sys.argv[2], sys.argv[3]
with urllib.request.urlopen(f"{mailbox}/store", timeout=5) as response:
    emails = json.load(response)["emails"]
mine = [m for m in emails if recipient in m["destination"]["to"]]
if not mine:
    sys.exit(f"no mail for {recipient} in {mailbox}")
mail = mine[-1]
code_id = re.search(r"codeID=([0-9a-f-]+)", mail["body"].get("text", ""))
if not code_id:
    sys.exit(f"the mail to {recipient} holds no codeID")
with open(template) as f:
    event = json.load(f)
ses_mail = event["detail"]["mail"]
ses_mail["messageId"] = mail["messageId"]
ses_mail["commonHeaders"]["messageId"] = mail["messageId"]
ses_mail["tags"]["code"] = [code_id.group(1)]
# Times of now: the mail was sent a moment ago.
now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
ses_mail["timestamp"] = now
for value in event["detail"].values():
    if isinstance(value, dict) and "timestamp" in value:
        value["timestamp"] = now
print(json.dumps(event, indent=2))

#!/usr/bin/env python3
"""Prints an SES event (one of events/ses/, in EventBridge's envelope) made about the newest
mail the SES emulator holds for a recipient: its message id, its link's user, org and code ids
as the tags, its recipient and the times of now, as SES would publish them for that mail.
Usage: ses-event.py MAILBOX_URL RECIPIENT EVENT.json"""
import datetime
import json
import re
import sys

from mailbox_store import newest_mail

mailbox, recipient, template = sys.argv[1], sys.argv[2], sys.argv[3]
mail = newest_mail(mailbox, recipient)
ids = {name: re.search(rf"{name}=([0-9A-Za-z._@-]+)", mail["body"].get("text", "")) for name in ("userID", "orgID", "codeID")}
if not all(ids.values()):
    sys.exit(f"the mail to {recipient} holds no complete link")
with open(template) as f:
    event = json.load(f)
ses_mail = event["detail"]["mail"]
ses_mail["messageId"] = mail["messageId"]
ses_mail["commonHeaders"]["messageId"] = mail["messageId"]

def tag_value(raw: str) -> str:
    """The send path's tag values (src/domain.rs tag_value): other bytes than A-Z a-z 0-9 - as _XX."""
    return "".join(chr(b) if chr(b).isascii() and (chr(b).isalnum() or b == ord("-")) else f"_{b:02X}"
                   for b in raw.encode())


for tag, name in (("user", "userID"), ("org", "orgID"), ("code", "codeID")):
    ses_mail["tags"][tag] = [tag_value(ids[name].group(1))]
for header in ses_mail["headers"]:
    if header["name"] == "To":
        header["value"] = ", ".join(mail["destination"]["to"])
ses_mail["destination"] = mail["destination"]["to"]
ses_mail["commonHeaders"]["to"] = mail["destination"]["to"]
for value in event["detail"].values():
    if isinstance(value, dict):
        for recipients in ("recipients", "bouncedRecipients", "complainedRecipients", "delayedRecipients"):
            if recipients in value:
                value[recipients] = (mail["destination"]["to"] if recipients == "recipients"
                                     else [{**value[recipients][0], "emailAddress": to} for to in mail["destination"]["to"]])
# Times of now: the mail was sent a moment ago.
now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
ses_mail["timestamp"] = now
for value in event["detail"].values():
    if isinstance(value, dict) and "timestamp" in value:
        value["timestamp"] = now
print(json.dumps(event, indent=2))

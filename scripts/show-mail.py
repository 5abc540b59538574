#!/usr/bin/env python3
"""Prints the newest mail the SES emulator holds for a recipient: sender, recipient, subject,
link. Usage: show-mail.py MAILBOX_URL RECIPIENT"""
import re
import sys

from mailbox_store import newest_mail

mailbox, recipient = sys.argv[1], sys.argv[2]
mail = newest_mail(mailbox, recipient)
link = re.search(r"https?://\S+", mail["body"].get("text", ""))
if not link or re.search(r"[{}]", link.group(0)) or "code=" not in link.group(0):
    sys.exit(f"the mail to {recipient} has no complete link: {link.group(0) if link else '(none)'}")
print(f"  from:    {mail['from']}")
print(f"  to:      {', '.join(mail['destination']['to'])}")
print(f"  subject: {mail['subject']}")
print(f"  link:    {link.group(0)}")

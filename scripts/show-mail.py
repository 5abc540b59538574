#!/usr/bin/env python3
"""Prints the newest mail the SES emulator holds (for RECIPIENT when given): sender, recipient,
subject, link. Without MAILBOX_URL it reads the running stack's mailbox (`make mail`).
Usage: show-mail.py [MAILBOX_URL [RECIPIENT]]"""
import sys

from mailbox_store import newest_mail, running_mailbox, summary

if len(sys.argv) > 3 or sys.argv[1:2] in (["-h"], ["--help"]):
    sys.exit(__doc__.strip())
mailbox = sys.argv[1] if len(sys.argv) > 1 else running_mailbox()
print(summary(newest_mail(mailbox, sys.argv[2] if len(sys.argv) > 2 else None)))

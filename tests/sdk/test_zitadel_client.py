"""ZITADEL's official Python SDK, zitadel-client 4.1.9, used unchanged against the local
stack: the JWT gateway in front of the function under cargo-lambda, the demo table, the SES
emulator. Run by scripts/sdk-check.sh (part of `make test`), which starts what it needs and
passes GATEWAY_URL, MAILBOX_URL and a TOKEN_COMMAND that prints a token (`--sub U --org O`).

The SDK speaks Connect (POST /zitadel.user.v2.UserService/<Method>, user id in the body);
its errors are ApiError with the HTTP status and the decoded Connect error body.
"""
import json
import os
import subprocess
import unittest
import urllib.request

from zitadel_client import Zitadel
from zitadel_client.exceptions import ApiError
from zitadel_client.models import (
    UserServiceCreatePasskeyRegistrationLinkRequest,
    UserServiceSendPasskeyRegistrationLink,
)

OTHER_ORG = "200000000000000001"
OTHER_OWNER = "200000000000000010"  # ORG_OWNER of OTHER_ORG: holds user.passkey.write
BOB = "200000000000000011"  # a user of OTHER_ORG; the other checks leave his window alone
DEMO_ORG = "100000000000000001"
HELPDESK = "100000000000000012"  # ORG_USER_PERMISSION_EDITOR: no user.passkey.write


def token(user: str, org: str) -> str:
    command = os.environ["TOKEN_COMMAND"].split() + ["--sub", user, "--org", org]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def client(user: str, org: str) -> Zitadel:
    return Zitadel.with_access_token(os.environ["GATEWAY_URL"], token(user, org))


def mails_to(recipient: str) -> list:
    with urllib.request.urlopen(os.environ["MAILBOX_URL"] + "/store", timeout=10) as response:
        store = json.load(response)
    return [m for m in store["emails"] if recipient in m["destination"]["to"]]


class CreatePasskeyRegistrationLink(unittest.TestCase):
    def test_return_code(self):
        response = client(OTHER_OWNER, OTHER_ORG).users.create_passkey_registration_link(
            UserServiceCreatePasskeyRegistrationLinkRequest(user_id=BOB, return_code={})
        )
        self.assertIsNotNone(response, "the SDK parsed the answer")
        self.assertEqual(response.details.resource_owner, OTHER_ORG)
        self.assertRegex(str(response.details.sequence), r"^[0-9]+$")
        self.assertIsNotNone(response.details.change_date)
        self.assertTrue(response.code.id)
        self.assertEqual(len(response.code.code), 43, "256-bit base64url code")

    def test_send_link_with_a_url_template_delivers_the_mail(self):
        before = len(mails_to("bob@other.example"))
        template = "https://sdk.example/passkey?user={{.UserID}}&org={{.OrgID}}&id={{.CodeID}}&code={{.Code}}"
        response = client(OTHER_OWNER, OTHER_ORG).users.create_passkey_registration_link(
            UserServiceCreatePasskeyRegistrationLinkRequest(
                user_id=BOB, send_link=UserServiceSendPasskeyRegistrationLink(url_template=template)
            )
        )
        self.assertIsNotNone(response)
        self.assertIsNone(response.code, "a mailed link answers no code")
        mails = mails_to("bob@other.example")
        self.assertEqual(len(mails), before + 1)
        self.assertIn(f"https://sdk.example/passkey?user={BOB}&amp;org={OTHER_ORG}&amp;id=", mails[-1]["body"]["html"])

    def test_no_token_is_401(self):
        sdk = Zitadel.with_access_token(os.environ["GATEWAY_URL"], "not-a-token")
        with self.assertRaises(ApiError) as raised:
            sdk.users.create_passkey_registration_link(
                UserServiceCreatePasskeyRegistrationLinkRequest(user_id=BOB, return_code={})
            )
        self.assertEqual(raised.exception.code, 401)

    def test_no_permission_is_404_not_found(self):
        # v2 names no org: a caller without the permission (nor user.read) in the user's org
        # learns nothing of where, or whether, the user exists.
        with self.assertRaises(ApiError) as raised:
            client(HELPDESK, DEMO_ORG).users.create_passkey_registration_link(
                UserServiceCreatePasskeyRegistrationLinkRequest(user_id=BOB, return_code={})
            )
        self.assertEqual(raised.exception.code, 404)
        self.assertEqual(raised.exception.response_body["code"], "not_found")
        self.assertIn("USER-3n8fS", raised.exception.response_body["message"])

    def test_unknown_user_is_404_not_found(self):
        with self.assertRaises(ApiError) as raised:
            client(OTHER_OWNER, OTHER_ORG).users.create_passkey_registration_link(
                UserServiceCreatePasskeyRegistrationLinkRequest(user_id="200000000000000099", return_code={})
            )
        self.assertEqual(raised.exception.code, 404)
        self.assertEqual(raised.exception.response_body["code"], "not_found")
        self.assertIn("USER-3n8fS", raised.exception.response_body["message"])

    def test_a_bad_url_template_is_400_invalid_argument(self):
        with self.assertRaises(ApiError) as raised:
            client(OTHER_OWNER, OTHER_ORG).users.create_passkey_registration_link(
                UserServiceCreatePasskeyRegistrationLinkRequest(
                    user_id=BOB, send_link=UserServiceSendPasskeyRegistrationLink(url_template="http://x/{{.Code}}")
                )
            )
        self.assertEqual(raised.exception.code, 400)
        self.assertEqual(raised.exception.response_body["code"], "invalid_argument")


if __name__ == "__main__":
    unittest.main()

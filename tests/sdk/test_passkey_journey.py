"""The passkey journey without a browser (issue 17), through ZITADEL's official Python SDK,
zitadel-client 4.1.9, against the local stack: the admin creates a registration link with
returnCode, RegisterPasskey redeems the code, a software authenticator (soft-webauthn 0.1.4)
answers the creation options, VerifyPasskeyRegistration stores the passkey, ListPasskeys shows
it, RemovePasskey deletes it. Then what must not work: a replayed finish, two finishes at once,
a wrong code, a caller without permission (with and without a code). Run by scripts/sdk-check.sh (part of `make test`)
with GATEWAY_URL and TOKEN_COMMAND, like test_zitadel_client.py.

soft-webauthn speaks python-fido2's shapes (bytes), the service the browser's JSON (binary
fields base64url): `SoftAuthenticator` converts both ways. soft-webauthn sets only the
user-present flag, and the service asks for user verification, as a passkey does: the flags
byte of its authenticator data is given the UV bit too (with fmt "none" nothing signs it).

The user registering is Noah Nomail (100000000000000017): no other check creates links for
him (schemathesis and `make run` use Alice), and a returned link needs no address. Each test
compares his passkeys with those he had before it, and removes what it added.
"""
import base64
import os
import secrets
import subprocess
import threading
import time
import unittest
from urllib.parse import urlparse

from fido2 import cbor
from soft_webauthn import SoftWebauthnDevice
from zitadel_client import Zitadel
from zitadel_client.exceptions import ApiError
from zitadel_client.models import (
    UserServiceCreatePasskeyRegistrationLinkRequest,
    UserServiceListPasskeysRequest,
    UserServicePasskeyRegistrationCode,
    UserServiceRegisterPasskeyRequest,
    UserServiceRemovePasskeyRequest,
    UserServiceVerifyPasskeyRegistrationRequest,
)

DEMO_ORG = "100000000000000001"
ADMIN = "100000000000000010"  # ORG_OWNER of DEMO_ORG: user.passkey.write, user.read, user.write
ALICE = "100000000000000011"  # no membership: no permission on other users
HELPDESK = "100000000000000012"  # ORG_USER_PERMISSION_EDITOR: user.read, no user.credential.write
NOAH = "100000000000000017"  # the user who registers passkeys here
RP_ID = "localhost"
UV = 0x04  # authenticator data flag: user verified


def token(user: str, org: str) -> str:
    command = os.environ["TOKEN_COMMAND"].split() + ["--sub", user, "--org", org]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def client(user: str, org: str = DEMO_ORG) -> Zitadel:
    return Zitadel.with_access_token(os.environ["GATEWAY_URL"], token(user, org))


def origin() -> str:
    """The page's origin, which the service allows by default: http://localhost:<gateway port>."""
    if os.environ.get("WEBAUTHN_ORIGIN"):
        return os.environ["WEBAUTHN_ORIGIN"]
    return f"http://localhost:{urlparse(os.environ['GATEWAY_URL']).port}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """soft-webauthn behind the browser's JSON: creation options in, PublicKeyCredential out."""

    def __init__(self):
        self.device = SoftWebauthnDevice()

    def create(self, creation_options: dict, origin: str) -> dict:
        public_key = creation_options["publicKey"]
        options = {
            "publicKey": {
                **public_key,
                "challenge": unb64url(public_key["challenge"]),
                "user": {**public_key["user"], "id": unb64url(public_key["user"]["id"])},
            }
        }
        answer = self.device.create(options, origin)
        attestation = cbor.decode(answer["response"]["attestationObject"])
        auth_data = bytearray(attestation["authData"])
        auth_data[32] |= UV  # after the 32-byte RP id hash
        attestation["authData"] = bytes(auth_data)
        return {
            "id": b64url(answer["rawId"]),
            "rawId": b64url(answer["rawId"]),
            "type": "public-key",
            "response": {
                "attestationObject": b64url(cbor.encode(attestation)),
                "clientDataJSON": b64url(answer["response"]["clientDataJSON"]),
                "transports": ["internal"],
            },
            "extensions": {},
        }


def create_code(admin: Zitadel, user: str = NOAH) -> UserServicePasskeyRegistrationCode:
    response = admin.users.create_passkey_registration_link(
        UserServiceCreatePasskeyRegistrationLinkRequest(user_id=user, return_code={})
    )
    return UserServicePasskeyRegistrationCode(id=response.code.id, code=response.code.code)


def register(sdk: Zitadel, code, user: str = NOAH):
    return sdk.users.register_passkey(UserServiceRegisterPasskeyRequest(user_id=user, code=code, domain=RP_ID))


def verify_request(passkey_id: str, credential: dict, name: str, user: str = NOAH):
    return UserServiceVerifyPasskeyRegistrationRequest(
        user_id=user, passkey_id=passkey_id, public_key_credential=credential, passkey_name=name
    )


def passkeys(sdk: Zitadel, user: str = NOAH) -> dict:
    """id -> (state, name) of the user's passkeys."""
    response = sdk.users.list_passkeys(UserServiceListPasskeysRequest(user_id=user))
    return {p.id: (p.state.value if p.state else None, p.name) for p in response.result or []}


def remove(sdk: Zitadel, passkey_id: str, user: str = NOAH):
    return sdk.users.remove_passkey(UserServiceRemovePasskeyRequest(user_id=user, passkey_id=passkey_id))


def describe(error: ApiError) -> str:
    return f"HTTP {error.code} {error.response_body}"


class PasskeyJourney(unittest.TestCase):
    def setUp(self):
        self.admin = client(ADMIN)
        self.before = passkeys(self.admin)
        self.added = []

    def tearDown(self):
        for passkey_id in self.added:
            try:
                remove(self.admin, passkey_id)
            except ApiError:
                pass

    def name(self) -> str:
        return f"SDK {self._testMethodName} {secrets.token_hex(3)}"

    def begin(self, sdk=None):
        """A new link and its ceremony: (code, passkey id, creation options)."""
        code = create_code(self.admin)
        started = register(sdk or self.admin, code)
        self.assertTrue(started.passkey_id)
        return code, started.passkey_id, started.public_key_credential_creation_options

    def assertRefused(self, error: ApiError, allowed: dict, what: str):
        """allowed: HTTP status -> the Connect codes accepted with it."""
        body = error.response_body if isinstance(error.response_body, dict) else {}
        self.assertIn(error.code, allowed, f"{what}: {describe(error)}")
        self.assertIn(body.get("code"), allowed[error.code], f"{what}: {describe(error)}")

    def test_journey(self):
        started_at = time.monotonic()
        code = create_code(self.admin)
        self.assertEqual(len(code.code), 43)
        started = register(self.admin, code)
        self.assertIsNotNone(started.details)
        self.assertEqual(started.details.resource_owner, DEMO_ORG)
        options = started.public_key_credential_creation_options["publicKey"]
        self.assertEqual(options["rp"]["id"], RP_ID)
        self.assertEqual(options["authenticatorSelection"]["residentKey"], "required")
        self.assertIs(options["authenticatorSelection"]["requireResidentKey"], True)
        self.assertEqual(options["authenticatorSelection"]["userVerification"], "required")
        self.assertIn({"type": "public-key", "alg": -7}, options["pubKeyCredParams"])
        self.assertGreaterEqual(len(unb64url(options["challenge"])), 16)

        credential = SoftAuthenticator().create(started.public_key_credential_creation_options, origin())
        name = self.name()
        verified = self.admin.users.verify_passkey_registration(verify_request(started.passkey_id, credential, name))
        self.added.append(started.passkey_id)
        self.assertIsNotNone(verified.details)
        self.assertRegex(str(verified.details.sequence), r"^[0-9]+$")

        listed = passkeys(self.admin)
        self.assertEqual(listed[started.passkey_id], ("AUTH_FACTOR_STATE_READY", name))
        self.assertEqual(set(listed) - set(self.before), {started.passkey_id})

        removed = remove(self.admin, started.passkey_id)
        self.assertIsNotNone(removed.details)
        self.assertEqual(passkeys(self.admin), self.before)
        self.added.remove(started.passkey_id)
        print(f"\npasskey journey (link, register, authenticator, verify, list, remove): "
              f"{time.monotonic() - started_at:.3f} s", flush=True)

    def test_a_new_ceremony_excludes_the_existing_credential(self):
        _, passkey_id, options = self.begin()
        credential = SoftAuthenticator().create(options, origin())
        self.admin.users.verify_passkey_registration(verify_request(passkey_id, credential, self.name()))
        self.added.append(passkey_id)
        _, _, again = self.begin()
        excluded = [c["id"] for c in again["publicKey"].get("excludeCredentials") or []]
        self.assertIn(credential["rawId"], excluded)

    def test_a_replayed_finish_and_a_used_code_are_refused(self):
        code, passkey_id, options = self.begin()
        request = verify_request(passkey_id, SoftAuthenticator().create(options, origin()), self.name())
        self.admin.users.verify_passkey_registration(request)
        self.added.append(passkey_id)
        with self.assertRaises(ApiError) as replayed:
            self.admin.users.verify_passkey_registration(request)
        # Contract: the ceremony state is gone (404) or the code is used (400 failed_precondition).
        self.assertRefused(replayed.exception, {404: {"not_found"}, 400: {"failed_precondition"}}, "replayed finish")
        with self.assertRaises(ApiError) as used:
            register(self.admin, code)
        self.assertRefused(used.exception, {400: {"failed_precondition"}}, "RegisterPasskey with a used code")
        self.assertEqual(set(passkeys(self.admin)) - set(self.before), {passkey_id})

    def test_two_concurrent_finishes_one_wins(self):
        _, passkey_id, options = self.begin()
        request = verify_request(passkey_id, SoftAuthenticator().create(options, origin()), self.name())
        clients = [client(ADMIN), client(ADMIN)]  # a connection pool each
        barrier = threading.Barrier(len(clients))
        outcomes = [None] * len(clients)

        def finish(i):
            barrier.wait()
            try:
                outcomes[i] = clients[i].users.verify_passkey_registration(request)
            except ApiError as error:
                outcomes[i] = error

        threads = [threading.Thread(target=finish, args=(i,)) for i in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.added.append(passkey_id)
        errors = [o for o in outcomes if isinstance(o, ApiError)]
        wins = [o for o in outcomes if o is not None and not isinstance(o, ApiError)]
        self.assertEqual(len(wins), 1, f"outcomes: {[describe(e) for e in errors]} and {len(wins)} successes")
        self.assertEqual(len(errors), 1)
        # The loser finds the ceremony gone (404, also when it read the ceremony before the
        # winner's write and then met its credential) or the code used (400 failed_precondition).
        self.assertRefused(
            errors[0],
            {404: {"not_found"}, 400: {"failed_precondition"}},
            "the losing finish",
        )
        listed = passkeys(self.admin)
        self.assertEqual(set(listed) - set(self.before), {passkey_id}, "exactly one passkey stored")

    def test_a_wrong_code_is_refused_and_leaves_the_code_usable(self):
        code = create_code(self.admin)
        wrong = UserServicePasskeyRegistrationCode(id=code.id, code=b64url(secrets.token_bytes(32)))
        with self.assertRaises(ApiError) as refused:
            register(self.admin, wrong)
        self.assertRefused(refused.exception, {400: {"invalid_argument"}}, "RegisterPasskey with a wrong code")
        started = register(self.admin, code)
        credential = SoftAuthenticator().create(started.public_key_credential_creation_options, origin())
        self.admin.users.verify_passkey_registration(verify_request(started.passkey_id, credential, self.name()))
        self.added.append(started.passkey_id)
        self.assertIn(started.passkey_id, passkeys(self.admin))

    def test_an_unknown_code_id_is_404(self):
        code = UserServicePasskeyRegistrationCode(id="00000000-0000-4000-8000-000000000000", code="A" * 43)
        with self.assertRaises(ApiError) as refused:
            register(self.admin, code)
        self.assertRefused(refused.exception, {404: {"not_found"}}, "RegisterPasskey with an unknown code id")

    def test_a_code_is_no_permission(self):
        helpdesk = client(HELPDESK)
        # Putting a key on someone else's account needs user.credential.write, with or without
        # a code (the helpdesk reads users, so v2 tells it why it is refused).
        with self.assertRaises(ApiError) as denied:
            helpdesk.users.register_passkey(UserServiceRegisterPasskeyRequest(user_id=NOAH, domain=RP_ID))
        self.assertRefused(denied.exception, {403: {"permission_denied"}}, "RegisterPasskey without a code")
        code = create_code(self.admin)
        with self.assertRaises(ApiError) as denied:
            register(helpdesk, code)
        self.assertRefused(denied.exception, {403: {"permission_denied"}}, "RegisterPasskey with a code")
        # The user themself redeems the code, and finishes.
        noah = client(NOAH)
        started = register(noah, code)
        credential = SoftAuthenticator().create(started.public_key_credential_creation_options, origin())
        noah.users.verify_passkey_registration(verify_request(started.passkey_id, credential, self.name()))
        self.added.append(started.passkey_id)
        self.assertIn(started.passkey_id, passkeys(self.admin))
        # Listing another user's passkeys needs user.read, which Alice does not hold: v2 answers
        # her as if the user did not exist.
        with self.assertRaises(ApiError) as hidden:
            passkeys(client(ALICE))
        self.assertRefused(hidden.exception, {404: {"not_found"}}, "ListPasskeys of another user")

if __name__ == "__main__":
    unittest.main()

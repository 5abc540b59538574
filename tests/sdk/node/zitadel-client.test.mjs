// ZITADEL's official Node SDK, @zitadel/client 1.3.1, against the local gateway and function.
// Run by scripts/sdk-check.sh with GATEWAY_URL, MAILBOX_URL and TOKEN_COMMAND set.
//
// In Node the SDK's own transports speak gRPC over HTTP/2 (`@zitadel/client/node`) or gRPC-web
// (`/web`); a Connect JSON transport over HTTP/1.1 from @connectrpc/connect-node, with the
// SDK's bearer interceptor, is how it reaches an HTTP API. connect-node sends bodies chunked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createUserServiceClient } from "@zitadel/client/v2";
import { NewAuthorizationBearerInterceptor } from "@zitadel/client";
import { createConnectTransport } from "@connectrpc/connect-node";

const OTHER_ORG = "200000000000000001";
const OTHER_OWNER = "200000000000000010"; // ORG_OWNER of OTHER_ORG
const BOB = "200000000000000011";
const DEMO_ORG = "100000000000000001";
const HELPDESK = "100000000000000012"; // no user.passkey.write
// Connect's numeric codes (the SDK's ConnectError.code).
const Code = { InvalidArgument: 3, NotFound: 5, PermissionDenied: 7, Unauthenticated: 16 };

function token(user, org) {
  const [command, ...args] = process.env.TOKEN_COMMAND.split(" ");
  return execFileSync(command, [...args, "--sub", user, "--org", org], { encoding: "utf8" }).trim();
}

function users(bearer) {
  return createUserServiceClient(
    createConnectTransport({
      baseUrl: process.env.GATEWAY_URL,
      httpVersion: "1.1",
      useBinaryFormat: false,
      interceptors: [NewAuthorizationBearerInterceptor(bearer)],
    }),
  );
}

async function mailsTo(recipient) {
  const store = await (await fetch(`${process.env.MAILBOX_URL}/store`)).json();
  return store.emails.filter((m) => m.destination.to.includes(recipient));
}

// ConnectError as the SDK raises it (its own copy of @connectrpc/connect: compare fields).
async function rejectsWith(call, code, id) {
  await assert.rejects(call, (e) => {
    assert.equal(e.code, code, e.message);
    if (id) assert.match(e.rawMessage, new RegExp(id));
    return true;
  });
}

test("returnCode answers the code with v2 details", async () => {
  const response = await users(token(OTHER_OWNER, OTHER_ORG)).createPasskeyRegistrationLink({
    userId: BOB,
    medium: { case: "returnCode", value: {} },
  });
  assert.equal(response.details.resourceOwner, OTHER_ORG);
  assert.ok(response.details.sequence > 0n);
  assert.ok(response.details.changeDate.seconds > 0n);
  assert.ok(response.code.id);
  assert.equal(response.code.code.length, 43);
});

test("sendLink with a urlTemplate delivers the mail", async () => {
  const before = (await mailsTo("bob@other.example")).length;
  const response = await users(token(OTHER_OWNER, OTHER_ORG)).createPasskeyRegistrationLink({
    userId: BOB,
    medium: { case: "sendLink", value: { urlTemplate: "https://node.example/p?u={{.UserID}}&c={{.Code}}" } },
  });
  assert.equal(response.code, undefined);
  const mails = await mailsTo("bob@other.example");
  assert.equal(mails.length, before + 1);
  assert.match(mails.at(-1).body.html, new RegExp(`https://node.example/p\\?u=${BOB}&amp;c=`));
});

test("no valid token is Unauthenticated", async () => {
  await rejectsWith(
    users("not-a-token").createPasskeyRegistrationLink({ userId: BOB, medium: { case: "returnCode", value: {} } }),
    Code.Unauthenticated,
  );
});

test("no permission is PermissionDenied", async () => {
  await rejectsWith(
    users(token(HELPDESK, DEMO_ORG)).createPasskeyRegistrationLink({ userId: BOB, medium: { case: "returnCode", value: {} } }),
    Code.PermissionDenied,
    "AUTH-5mWD2",
  );
});

test("an unknown user is NotFound", async () => {
  await rejectsWith(
    users(token(OTHER_OWNER, OTHER_ORG)).createPasskeyRegistrationLink({
      userId: "200000000000000099",
      medium: { case: "returnCode", value: {} },
    }),
    Code.NotFound,
    "USER-3n8fS",
  );
});

test("a bad urlTemplate is InvalidArgument", async () => {
  await rejectsWith(
    users(token(OTHER_OWNER, OTHER_ORG)).createPasskeyRegistrationLink({
      userId: BOB,
      medium: { case: "sendLink", value: { urlTemplate: "http://x/{{.Code}}" } },
    }),
    Code.InvalidArgument,
    "LINK-Ut6Vz",
  );
});

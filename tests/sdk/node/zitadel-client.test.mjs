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
import { createAdminServiceClient, createManagementServiceClient } from "@zitadel/client/v1";
import { NewAuthorizationBearerInterceptor } from "@zitadel/client";
import { createConnectTransport } from "@connectrpc/connect-node";

const OTHER_ORG = "200000000000000001";
const OTHER_OWNER = "200000000000000010"; // ORG_OWNER of OTHER_ORG
const BOB = "200000000000000011";
const DEMO_ORG = "100000000000000001";
const HELPDESK = "100000000000000012"; // no user.passkey.write, no policy.write
const INSTANCE_OWNER = "300000000000000010";
const INSTANCE_ORG = "300000000000000001";
// Connect's numeric codes (the SDK's ConnectError.code).
const Code = { InvalidArgument: 3, NotFound: 5, PermissionDenied: 7, Unauthenticated: 16 };

function token(user, org) {
  const [command, ...args] = process.env.TOKEN_COMMAND.split(" ");
  return execFileSync(command, [...args, "--sub", user, "--org", org], { encoding: "utf8" }).trim();
}

function transport(bearer) {
  return createConnectTransport({
    baseUrl: process.env.GATEWAY_URL,
    httpVersion: "1.1",
    useBinaryFormat: false,
    interceptors: [NewAuthorizationBearerInterceptor(bearer)],
  });
}

function users(bearer) {
  return createUserServiceClient(transport(bearer));
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

// v2 names no org: a caller without the permission (nor user.read) in the user's org learns
// nothing of where, or whether, the user exists.
test("no permission is NotFound", async () => {
  await rejectsWith(
    users(token(HELPDESK, DEMO_ORG)).createPasskeyRegistrationLink({ userId: BOB, medium: { case: "returnCode", value: {} } }),
    Code.NotFound,
    "USER-3n8fS",
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

test("the management text calls set, read and reset the org's text, and the mail uses it", async () => {
  const management = createManagementServiceClient(transport(token(OTHER_OWNER, OTHER_ORG)));
  const before = (await management.getCustomPasswordlessRegistrationMessageText({ language: "de" })).customText;
  assert.equal(before.isDefault, false, "the demo seed set Other Org's German text");
  const set = await management.setCustomPasswordlessRegistrationMessageCustomText({
    language: "de",
    subject: "SDK: Passkey für {{.OrgName}}",
    footerText: before.footerText,
  });
  assert.equal(set.details.resourceOwner, OTHER_ORG);
  assert.ok(set.details.sequence > before.details.sequence);
  const read = (await management.getCustomPasswordlessRegistrationMessageText({ language: "de" })).customText;
  assert.equal(read.subject, "SDK: Passkey für {{.OrgName}}");
  assert.equal(read.details.sequence, set.details.sequence);

  await users(token(OTHER_OWNER, OTHER_ORG)).createPasskeyRegistrationLink({
    userId: BOB,
    medium: { case: "sendLink", value: {} },
  });
  const store = await (await fetch(`${process.env.MAILBOX_URL}/store`)).json();
  const bobs = store.emails.filter((m) => m.destination.to.some((to) => to.startsWith("bob")));
  assert.equal(bobs.at(-1).subject, "SDK: Passkey für Other Org");

  // Back to the seed's text, so later checks see the demo as it was.
  await management.setCustomPasswordlessRegistrationMessageCustomText({
    language: "de",
    subject: before.subject,
    footerText: before.footerText,
  });
  const fresh = await management.setCustomPasswordlessRegistrationMessageCustomText({ language: "fr", title: "SDK" });
  const reset = await management.resetCustomPasswordlessRegistrationMessageTextToDefault({ language: "fr" });
  assert.equal(reset.details.sequence, fresh.details.sequence + 1n);
  await rejectsWith(
    management.resetCustomPasswordlessRegistrationMessageTextToDefault({ language: "fr" }),
    Code.NotFound,
    "Org-3b8Jf",
  );
  const fallback = (await management.getDefaultPasswordlessRegistrationMessageText({ language: "fr" })).customText;
  assert.equal(fallback.isDefault, true);
  assert.ok(fallback.buttonText.length > 0);
});

test("the admin text calls need an instance role; unknown variables are InvalidArgument", async () => {
  const admin = createAdminServiceClient(transport(token(INSTANCE_OWNER, INSTANCE_ORG)));
  const set = await admin.setDefaultPasswordlessRegistrationMessageText({ language: "it", subject: "Passkey" });
  assert.equal(set.details.resourceOwner, "", "the instance has no organisation");
  const read = (await admin.getCustomPasswordlessRegistrationMessageText({ language: "it" })).customText;
  assert.equal(read.subject, "Passkey");
  await admin.resetCustomPasswordlessRegistrationMessageTextToDefault({ language: "it" });
  const builtIn = (await admin.getDefaultPasswordlessRegistrationMessageText({ language: "it" })).customText;
  assert.equal(builtIn.isDefault, true);

  await rejectsWith(
    createAdminServiceClient(transport(token(OTHER_OWNER, OTHER_ORG))).getCustomPasswordlessRegistrationMessageText({
      language: "it",
    }),
    Code.PermissionDenied,
    "AUTH-5mWD2",
  );
  await rejectsWith(
    createManagementServiceClient(transport(token(HELPDESK, DEMO_ORG))).setCustomPasswordlessRegistrationMessageCustomText(
      { language: "de", subject: "x" },
    ),
    Code.PermissionDenied,
    "AUTH-5mWD2",
  );
  await rejectsWith(
    createManagementServiceClient(transport(token(OTHER_OWNER, OTHER_ORG))).setCustomPasswordlessRegistrationMessageCustomText(
      { language: "de", greeting: "Hi {{.Password}}" },
    ),
    Code.InvalidArgument,
    "TEXT-Vf4Qm",
  );
});

// The passkey journey in a real browser: Debian's headless chromium driven by
// playwright-core (pinned by tests/browser/package-lock.json) over the DevTools virtual
// authenticator, against the local gateway, the function and the SES emulator.
// Run by scripts/browser-check.sh with GATEWAY_URL (http://localhost:PORT: the host must be the
// WebAuthn RP id), MAILBOX_URL, TOKEN_COMMAND, CHROMIUM, PYTHON (with boto3), TABLE_NAME and
// SCREENSHOT_DIR set; BROWSER_USER picks the seeded user (default Hal Helpdesk).
//
// The story: the demo org's owner has the link mailed, the test takes it from the mailbox, the
// browser opens it, names the passkey and creates it, the table holds the credential and the used code, the
// API lists the passkey; the link opened again says "used", an expired link "expired", an unknown
// code id "unknown"; removing the passkey empties the list. Each step's wall time is printed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { browserWithAuthenticator, newestLink, pageReport as report, shot as shotIn, waitForState as waitFor } from "./lib.mjs";

const GATEWAY = process.env.GATEWAY_URL;
const MAILBOX = process.env.MAILBOX_URL;
const SHOTS = process.env.SCREENSHOT_DIR;
const ADMIN = "100000000000000010"; // Ada Admin, ORG_OWNER of the demo org
const DEMO_ORG = "100000000000000001";
// Hal Helpdesk: a demo-org user that the other checks only call as, never send links to (Alice
// is run.sh's and schemathesis' user, Bob the SDK checks'), so his rate-limit window is free.
const USER = process.env.BROWSER_USER || "100000000000000012";
const USER_MAIL = process.env.BROWSER_USER_MAIL || "helpdesk@demo.example";
const USER_NAME = process.env.BROWSER_USER_NAME || "Hal Helpdesk";
const ORG_NAME = "Demo Corp";
const PASSKEY_NAME = "Hal's work laptop";

for (const name of ["GATEWAY_URL", "MAILBOX_URL", "TOKEN_COMMAND", "CHROMIUM", "PYTHON", "TABLE_NAME", "SCREENSHOT_DIR"]) {
  assert.ok(process.env[name], `${name} is not set (run tests/browser through scripts/browser-check.sh)`);
}
assert.equal(new URL(GATEWAY).hostname, "localhost", "GATEWAY_URL must name localhost: the WebAuthn RP id");

function token(user, org) {
  const [command, ...args] = process.env.TOKEN_COMMAND.split(" ");
  return execFileSync(command, [...args, "--sub", user, "--org", org], { encoding: "utf8" }).trim();
}
const ADMIN_TOKEN = token(ADMIN, DEMO_ORG);

// An authenticated call through the gateway; answers {status, body} (body parsed when JSON).
async function api(method, path, body) {
  const response = await fetch(GATEWAY + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the failure message
  }
  return { status: response.status, body: parsed };
}
async function apiOk(method, path, body) {
  const answer = await api(method, path, body);
  assert.equal(answer.status, 200, `${method} ${path} ${JSON.stringify(body ?? null)} -> ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}
const listPasskeys = async () => (await apiOk("POST", `/v2/users/${USER}/passkeys/_search`, {})).result ?? [];

async function mailsTo(recipient) {
  const response = await fetch(`${MAILBOX}/store`);
  assert.equal(response.status, 200, `GET ${MAILBOX}/store`);
  return (await response.json()).emails.filter((m) => m.destination.to.includes(recipient));
}

// The demo table's items, read and changed with boto3 (the SAM venv's Python) at the stack's
// DynamoDB endpoint (AWS_ENDPOINT_URL_DYNAMODB in the environment). Binary attributes come back
// base64url, so they compare with what the browser reports.
const DYNAMO_PY = `
import base64, json, os, sys, boto3
from boto3.dynamodb.types import Binary
op, table, pk, sk = sys.argv[1:5]
region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
t = boto3.resource("dynamodb", region_name=region).Table(table)
if op == "get":
    item = t.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
    def plain(v):
        if isinstance(v, Binary): return base64.urlsafe_b64encode(v.value).decode().rstrip("=")
        if isinstance(v, (set, list)): return [plain(x) for x in v]
        if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
        return str(v) if not isinstance(v, (str, bool)) and v is not None else v
    print(json.dumps(plain(item) if item else None))
elif op == "expire":
    t.update_item(Key={"pk": pk, "sk": sk}, UpdateExpression="SET expiresAt = :e",
                  ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues={":e": int(sys.argv[5])})
    print("null")
`;
function dynamo(op, pk, sk, ...rest) {
  const args = [op, process.env.TABLE_NAME, pk, sk, ...rest.map(String)];
  try {
    return JSON.parse(execFileSync(process.env.PYTHON, ["-c", DYNAMO_PY, ...args], { encoding: "utf8", stdio: "pipe" }));
  } catch (e) {
    throw new Error(`boto3 ${args.join(" ")}: ${(e.stderr || e.message).trim().split("\n").at(-1)}`);
  }
}

const b64url = (s) => s.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

// What the browser did, kept for failure messages: console lines, page errors, the page's calls.
const seen = [];
const pageReport = (page) => report(page, seen);
const waitForState = (page, state) => waitFor(page, state, seen);
const shot = (page, name) => shotIn(page, SHOTS, name);

test("the passkey journey in a real browser", { timeout: 300_000 }, async (t) => {
  const began = performance.now();
  const times = [];
  let failed = false;
  // A step: timed; once one fails the rest are skipped (they build on it).
  async function step(name, fn) {
    await t.test(name, { skip: failed && "an earlier step failed" }, async () => {
      const start = performance.now();
      try {
        await fn();
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        const ms = Math.round(performance.now() - start);
        times.push([name, ms]);
        console.log(`  step "${name}": ${ms} ms`);
      }
    });
  }

  mkdirSync(SHOTS, { recursive: true });
  let browser;
  let page;
  let cdp;
  let authenticatorId;
  let link;
  let linkQuery;
  let passkey;
  try {
    await step("no passkey left from an earlier run", async () => {
      for (const old of await listPasskeys()) {
        console.log(`  removing passkey ${old.id} left by an earlier run`);
        await apiOk("DELETE", `/v2/users/${USER}/passkeys/${old.id}`);
      }
      assert.deepEqual(await listPasskeys(), []);
    });

    await step("the admin has the link mailed; the test takes it from the mailbox", async () => {
      const before = (await mailsTo(USER_MAIL)).length;
      await apiOk("POST", `/management/v1/users/${USER}/passwordless/_send_link`, {});
      const newest = await newestLink(MAILBOX, USER_MAIL);
      assert.equal(newest?.count, before + 1, `one new mail to ${USER_MAIL}`);
      link = newest.url;
      assert.equal(link.origin, new URL(GATEWAY).origin, `the link points at the local gateway: ${link.href}`);
      linkQuery = Object.fromEntries(link.searchParams);
      for (const key of ["userID", "orgID", "codeID", "code"]) assert.ok(linkQuery[key], `${key} in the link`);
      assert.equal(linkQuery.userID, USER);
      assert.equal(linkQuery.orgID, DEMO_ORG);
      console.log(`  link ${link.origin}${link.pathname}?userID=${USER}&orgID=${DEMO_ORG}&codeID=${linkQuery.codeID}&code=...`);
    });

    await step("headless chromium with a virtual authenticator", async () => {
      ({ browser, page, cdp, authenticatorId } = await browserWithAuthenticator(process.env.CHROMIUM, seen));
      console.log(`  ${browser.version()}, authenticator ${authenticatorId}`);
    });

    await step("the link opens the ready page; loading does not use the code", async () => {
      const response = await page.goto(link.href);
      assert.equal(response.status(), 200, await pageReport(page));
      const headers = response.headers();
      assert.match(headers["content-security-policy"] ?? "", /script-src/, "a Content-Security-Policy");
      assert.equal(headers["referrer-policy"], "no-referrer");
      assert.match(headers["cache-control"] ?? "", /no-store/);
      await waitForState(page, "ready");
      assert.ok(await page.locator("#display-name").isVisible(), "#display-name is shown");
      assert.ok(await page.locator("#org-name").isVisible(), "#org-name is shown");
      assert.ok((await page.locator("#display-name").textContent()).includes(USER_NAME), `#display-name shows ${USER_NAME}`);
      assert.ok((await page.locator("#org-name").textContent()).includes(ORG_NAME), `#org-name shows ${ORG_NAME}`);
      assert.ok(await page.locator("button#create").isEnabled(), "button#create");
      // Headless chromium on Linux names its platform so; the field starts with it.
      assert.equal(await page.locator("#passkey-name").inputValue(), "Linux", "the name field's default");
      await shot(page, "page-ready.png");
      const item = dynamo("get", `USER#${USER}`, `PASSKEYLINK#${linkQuery.codeID}`);
      assert.ok(item, "the link's item is in the table");
      assert.equal(item.usedAt, undefined, `loading the page used the code: ${JSON.stringify(item)}`);
    });

    await step("a name the server refuses is explained before the browser makes a credential", async () => {
      await page.locator("#passkey-name").fill("Phone\u200B");
      await page.locator("button#create").click();
      await page.locator("#error").waitFor({ state: "visible" });
      assert.match(await page.locator("#error").textContent(), /1-200 characters/, await pageReport(page));
      assert.equal(await page.evaluate(() => document.body.dataset.state), "ready");
      assert.ok(await page.locator("button#create").isEnabled(), "button#create is usable again");
      const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
      assert.deepEqual(credentials, [], "no credential left on the device");
    });

    await step("Create passkey: the browser registers a passkey with the name typed", async () => {
      await page.locator("#passkey-name").fill(PASSKEY_NAME);
      await page.locator("button#create").click();
      await waitForState(page, "done");
      await shot(page, "page-done.png");
      const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
      assert.equal(credentials.length, 1, JSON.stringify(credentials));
      assert.equal(credentials[0].isResidentCredential, true, "a discoverable (resident) credential");
      assert.equal(credentials[0].rpId, "localhost");
      passkey = { credentialId: b64url(credentials[0].credentialId), userHandle: credentials[0].userHandle };
    });

    await step("the API lists the passkey; the table holds the credential; the code is used", async () => {
      const list = await listPasskeys();
      assert.equal(list.length, 1, JSON.stringify(list));
      assert.equal(list[0].state, "AUTH_FACTOR_STATE_READY");
      assert.equal(list[0].name, PASSKEY_NAME, "the name typed on the page");
      passkey.id = list[0].id;
      console.log(`  passkey ${passkey.id} "${list[0].name}"`);
      const v1 = await apiOk("POST", `/management/v1/users/${USER}/passwordless/_search`, {});
      assert.deepEqual((v1.result ?? []).map((p) => p.id), [passkey.id], "v1 lists it too");
      const credential = dynamo("get", `USER#${USER}`, `PASSKEY#${passkey.id}`);
      assert.ok(credential, `item PASSKEY#${passkey.id}`);
      assert.ok(credential.publicKey, "the credential's public key is stored");
      assert.equal(b64url(String(credential.credentialId)), passkey.credentialId, "the browser's credential id is stored");
      const used = dynamo("get", `USER#${USER}`, `PASSKEYLINK#${linkQuery.codeID}`);
      assert.ok(used?.usedAt, `the code is used: ${JSON.stringify(used)}`);
    });

    await step("the link opened again says used", async () => {
      await page.goto(link.href);
      await waitForState(page, "used");
      await shot(page, "page-used.png");
    });

    await step("an expired link says expired", async () => {
      const { code } = await apiOk("POST", `/v2/users/${USER}/passkeys/registration_link`, { returnCode: {} });
      assert.ok(code?.id && code?.code, JSON.stringify(code));
      dynamo("expire", `USER#${USER}`, `PASSKEYLINK#${code.id}`, Math.floor(Date.now() / 1000) - 120);
      const url = new URL(link.pathname, GATEWAY);
      url.search = new URLSearchParams({ userID: USER, orgID: DEMO_ORG, codeID: code.id, code: code.code }).toString();
      await page.goto(url.href);
      await waitForState(page, "expired");
      await shot(page, "page-expired.png");
    });

    await step("an unknown code id says unknown", async () => {
      const url = new URL(link.href);
      // Same shape as a real id: a UUID if ids are UUIDs, else the real id with its last character changed.
      const real = linkQuery.codeID;
      const unknown = /^[0-9a-f-]{36}$/i.test(real) ? randomUUID() : real.slice(0, -1) + (real.at(-1) === "1" ? "2" : "1");
      url.searchParams.set("codeID", unknown);
      await page.goto(url.href);
      await waitForState(page, "unknown");
      await shot(page, "page-unknown.png");
    });

    await step("a link tried with wrong codes locks", async () => {
      const { code } = await apiOk("POST", `/v2/users/${USER}/passkeys/registration_link`, { returnCode: {} });
      const url = new URL(link.pathname, GATEWAY);
      const open = (secret) => {
        url.search = new URLSearchParams({ userID: USER, orgID: DEMO_ORG, codeID: code.id, code: secret }).toString();
        return page.goto(url.href);
      };
      for (let i = 0; i < 5; i++) {
        await open(`wrong-${i}`);
        await waitForState(page, "unknown");
      }
      await open(code.code);
      await waitForState(page, "locked");
      await shot(page, "page-locked.png");
    });

    await step("the page speaks the browser's language", async () => {
      const { code } = await apiOk("POST", `/v2/users/${USER}/passkeys/registration_link`, { returnCode: {} });
      const german = await browser.newPage({ locale: "de-DE", extraHTTPHeaders: { "accept-language": "de-DE,de;q=0.9" } });
      try {
        const url = new URL(link.pathname, GATEWAY);
        url.search = new URLSearchParams({ userID: USER, orgID: DEMO_ORG, codeID: code.id, code: code.code }).toString();
        await german.goto(url.href);
        await waitForState(german, "ready");
        assert.equal(await german.textContent("#create"), "Passkey erstellen");
        await shot(german, "page-ready-de.png");
      } finally {
        await german.close();
      }
    });

    await step("remove deletes the passkey; the list is empty", async () => {
      await apiOk("DELETE", `/v2/users/${USER}/passkeys/${passkey.id}`);
      assert.deepEqual(await listPasskeys(), []);
      assert.equal(dynamo("get", `USER#${USER}`, `PASSKEY#${passkey.id}`), null, "the credential's item is gone");
    });
  } finally {
    await browser?.close();
    console.log("  wall times:");
    for (const [name, ms] of times) console.log(`    ${String(ms).padStart(6)} ms  ${name}`);
    console.log(`    ${String(Math.round(performance.now() - began)).padStart(6)} ms  total`);
  }
});

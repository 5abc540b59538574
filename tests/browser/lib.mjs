// What the browser journey (journey.test.mjs) and `make try-passkey` (try-passkey.mjs) share:
// Debian's headless chromium with a DevTools virtual authenticator, the newest mailed link, the
// page's states and screenshots.
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const STEP_TIMEOUT = 30_000;

// The registration link of the newest mail in the SES emulator's mailbox (to `recipient` when
// given), from its HTML; undefined when there is no such mail.
export async function newestLink(mailbox, recipient) {
  const response = await fetch(`${mailbox}/store`);
  assert.equal(response.status, 200, `GET ${mailbox}/store`);
  const mails = (await response.json()).emails.filter((m) => !recipient || m.destination.to.includes(recipient));
  const mail = mails.at(-1);
  if (!mail) return undefined;
  const html = mail.body.html ?? "";
  const href = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1].replace(/&amp;/g, "&")).find((h) => h.includes("codeID="));
  assert.ok(href, `a link with codeID= in the mail's HTML:\n${html.slice(0, 2000)}`);
  return { url: new URL(href), to: mail.destination.to, count: mails.length };
}

// Headless chromium, one page, a virtual platform authenticator that says yes. `seen` collects
// the browser's console lines, page errors and the page's calls, for failure messages; `locale`
// is the browser's language (its Accept-Language and navigator.language).
export async function browserWithAuthenticator(executablePath, seen, locale = "en-US") {
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"], headless: true });
  const context = await browser.newContext({ viewport: { width: 800, height: 640 }, locale });
  const page = await context.newPage();
  page.on("console", (m) => seen.push(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => seen.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => seen.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", async (r) => {
    const line = `${r.request().method()} ${r.url().replace(/code=[^&]+/, "code=...")} -> ${r.status()}`;
    if (r.status() >= 400) {
      let body = "";
      try {
        body = (await r.text()).slice(0, 1000);
      } catch {
        // the body may be gone after a navigation
      }
      seen.push(`${line} ${body}`);
    } else {
      seen.push(line);
    }
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { browser, page, cdp, authenticatorId };
}

export async function pageReport(page, seen) {
  let state = "?";
  let error = "";
  let html = "";
  try {
    state = await page.evaluate(() => document.body?.dataset.state ?? "(no body)");
    error = await page.evaluate(() => document.querySelector("#error")?.textContent ?? "");
    html = (await page.content()).slice(0, 4000);
  } catch (e) {
    html = `(page unreadable: ${e.message})`;
  }
  return `url ${page.url()}\ndata-state=${state}\n#error: ${error}\n-- browser log:\n${seen.join("\n")}\n-- html:\n${html}`;
}

export async function waitForState(page, state, seen) {
  try {
    await page.waitForSelector(`body[data-state="${state}"]`, { timeout: STEP_TIMEOUT, state: "attached" });
  } catch (e) {
    assert.fail(`waiting for data-state=${state}: ${e.message.split("\n")[0]}\n${await pageReport(page, seen)}`);
  }
}

export async function shot(page, dir, name) {
  const path = join(dir, name);
  await page.screenshot({ path, fullPage: true });
  console.log(`  screenshot ${path}`);
  return path;
}

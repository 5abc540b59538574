// `make try-passkey`: the newest mailed link of the running stack in headless chromium with a
// virtual authenticator, through to a registered passkey, with a screenshot of the page ready
// and done. Run by scripts/try-passkey.sh with MAILBOX_URL, CHROMIUM and SCREENSHOT_DIR set;
// RECIPIENT picks whose newest mail, PASSKEY_NAME the name typed on the page, PASSKEY_LOCALE the
// browser's language (default en-US).
import { browserWithAuthenticator, newestLink, pageReport, shot, waitForState } from "./lib.mjs";

const { MAILBOX_URL, CHROMIUM, SCREENSHOT_DIR, RECIPIENT, PASSKEY_NAME, PASSKEY_LOCALE } = process.env;
const locale = PASSKEY_LOCALE || "en-US";
const seen = [];

const newest = await newestLink(MAILBOX_URL, RECIPIENT || undefined);
if (!newest) {
  console.error(`try-passkey: no mail${RECIPIENT ? ` to ${RECIPIENT}` : ""} in ${MAILBOX_URL} yet: send a link first (README's quick start)`);
  process.exit(1);
}
const { url, to } = newest;
console.log(`try-passkey: the newest link, mailed to ${to.join(", ")}: ${url.origin}${url.pathname}?codeID=${url.searchParams.get("codeID")}&...`);
const { browser, page, cdp, authenticatorId } = await browserWithAuthenticator(CHROMIUM, seen, locale);
try {
  await page.goto(url.href);
  const state = await page.evaluate(() => document.body?.dataset.state);
  // The user's preferred language comes before the browser's: say which the page chose.
  console.log(`try-passkey: the page in ${await page.evaluate(() => document.documentElement.lang)} (browser locale ${locale})`);
  if (state !== "ready") {
    await shot(page, SCREENSHOT_DIR, `page-${state}.png`);
    console.error(`try-passkey: the page says "${state}", not "ready": send a new link, then try again`);
    process.exitCode = 1;
  } else {
    if (PASSKEY_NAME) await page.locator("#passkey-name").fill(PASSKEY_NAME);
    const name = await page.locator("#passkey-name").inputValue();
    await shot(page, SCREENSHOT_DIR, "page-ready.png");
    await page.locator("button#create").click();
    await waitForState(page, "done", seen);
    await shot(page, SCREENSHOT_DIR, "page-done.png");
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    console.log(`try-passkey: passkey "${name}" registered (the virtual authenticator holds ${credentials.length} credential for ${credentials[0]?.rpId})`);
  }
} catch (e) {
  console.error(`try-passkey: ${e.message}\n${await pageReport(page, seen)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

// The registration page's only script: starts the ceremony with the link's code, lets the
// browser create the passkey, and finishes it. Served from the same origin (CSP 'self').
"use strict";
(() => {
  const texts = document.getElementById("texts").dataset;
  const button = document.getElementById("create");
  const error = document.getElementById("error");
  const nameField = document.getElementById("passkey-name");
  const query = new URLSearchParams(window.location.search);
  const proof = { userId: query.get("userID"), codeId: query.get("codeID"), code: query.get("code") };

  const fromB64 = (s) => {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  };
  const toB64 = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  // The device the passkey lives on is what tells passkeys apart in a list: the platform's
  // name (User-Agent Client Hints where the browser has them, else the user agent string).
  const platform = () => {
    const hinted = navigator.userAgentData && navigator.userAgentData.platform;
    const ua = navigator.userAgent;
    const known = [
      [/iPhone/, "iPhone"],
      [/iPad/, "iPad"],
      [/Android/, "Android"],
      [/Windows/, "Windows"],
      [/Mac/, "Mac"],
      [/CrOS|Chrome OS/, "ChromeOS"],
      [/Linux/, "Linux"],
    ];
    // An iPad asks for desktop pages as a Mac; its touch screen gives it away.
    if (/Mac/.test(ua) && navigator.maxTouchPoints > 1) return "iPad";
    for (const [pattern, name] of known) if (pattern.test(hinted || "") || pattern.test(ua)) return name;
    return "";
  };
  const defaultName = platform() || `${texts.passkeyName} ${new Date().toLocaleDateString()}`;
  nameField.value = defaultName;

  const post = async (path, body) => {
    const response = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const id = answer.details && answer.details[0] ? answer.details[0].id : "";
      throw Object.assign(new Error(answer.message || String(response.status)), { id });
    }
    return answer;
  };

  const show = (state, title) => {
    document.getElementById("ready").hidden = true;
    document.getElementById(state).hidden = false;
    document.body.dataset.state = state;
    document.title = title;
  };

  const explain = (e) => {
    switch (e.name === "Error" ? e.id : e.name) {
      case "NotAllowedError":
      case "AbortError":
        return texts.cancelled;
      case "SecurityError":
        return texts.origin;
      case "InvalidStateError":
      case "PASSKEY-Dp9Ex":
        return texts.exists;
      case "CODE-Ex5Pr":
        return texts.expired;
      case "CODE-Lk6Tr":
        return texts.locked;
      case "PAGE-Rl3Sl":
        return texts.limited;
      // Of the fields the page sends, the name is the one a person types.
      case "REQ-Fd3Kw":
        return texts.nameInvalid;
      default:
        return texts.failed;
    }
  };

  button.addEventListener("click", async () => {
    const name = nameField.value.trim() || defaultName;
    button.disabled = true;
    nameField.disabled = true;
    button.textContent = texts.working;
    error.hidden = true;
    try {
      // The server checks the name before the browser makes a credential: one it refused
      // only at the finish would stay on the device, stored nowhere else.
      const begun = await post("init/_begin", { ...proof, passkeyName: name });
      const options = begun.publicKeyCredentialCreationOptions.publicKey;
      options.challenge = fromB64(options.challenge);
      options.user.id = fromB64(options.user.id);
      for (const excluded of options.excludeCredentials || []) excluded.id = fromB64(excluded.id);
      const credential = await navigator.credentials.create({ publicKey: options });
      const response = credential.response;
      const publicKeyCredential = {
        id: credential.id,
        rawId: toB64(credential.rawId),
        type: credential.type,
        response: {
          attestationObject: toB64(response.attestationObject),
          clientDataJSON: toB64(response.clientDataJSON),
          transports: response.getTransports ? response.getTransports() : [],
        },
        extensions: credential.getClientExtensionResults(),
      };
      await post("init/_finish", { ...proof, passkeyId: begun.passkeyId, publicKeyCredential, passkeyName: name });
      show("done", texts.doneTitle);
    } catch (e) {
      if (e.id === "CODE-Us4Dz") {
        show("used", texts.usedTitle);
        return;
      }
      error.textContent = explain(e);
      error.hidden = false;
      button.disabled = false;
      nameField.disabled = false;
      button.textContent = texts.create;
    }
  });
})();

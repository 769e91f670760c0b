"use strict";
// Talking to the gateway: JSON calls, its error bodies, and the API-key prompt that trades a
// key for an HttpOnly session cookie. Shared by app.js through the page's global scope.

const $ = (selector) => document.querySelector(selector);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const { dataset, attrs, ...rest } = props;
  Object.assign(node, rest);
  Object.assign(node.dataset, dataset || {});
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/* ---------- talking to the gateway ---------- */

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Every gateway error is {"error": {"code", "message"}}; anything else (a proxy's HTML page,
// a dropped connection) still becomes a readable ApiError.
function errorFrom(status, body, statusText) {
  const detail = body && typeof body === "object" ? body.error : null;
  return new ApiError(status, (detail && detail.code) || `http_${status}`,
                      (detail && detail.message) || statusText || "the request failed");
}

async function api(path, { method = "GET", json, form, signal, headers: extra = {} } = {}) {
  for (;;) {
    // A caller's Content-Type wins (a metadata patch is application/merge-patch+json).
    const headers = { ...(json !== undefined ? { "Content-Type": "application/json" } : {}), ...extra };
    const body = json !== undefined ? JSON.stringify(json) : form;
    let response;
    try {
      response = await fetch(path, { method, headers, body, signal });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "network_error", "the gateway did not answer; is it running?");
    }
    const payload = await response.json().catch(() => null);
    if (response.ok) return payload;
    const error = errorFrom(response.status, payload, response.statusText);
    // Reads only need a key when the gateway is configured so; ask, open a session, retry.
    if (response.status === 401 && await askForKey(error)) continue;
    throw error;
  }
}

/* ---------- API key dialog ---------- */

// The key is traded for an HttpOnly session cookie (POST /v1/session) that every request
// of the page then carries, <img> thumbnails included; the page itself never keeps the key.
let keyPrompt = null;  // one dialog shared by every request that got a 401 meanwhile

async function openSession(key) {
  let response;
  try {
    response = await fetch("/v1/session", { method: "POST", headers: { "X-API-Key": key } });
  } catch {
    return new ApiError(0, "network_error", "the gateway did not answer; is it running?");
  }
  if (response.ok) return null;
  return errorFrom(response.status, await response.json().catch(() => null), response.statusText);
}

function showKeyDialog(why) {
  const dialog = $("#key-dialog");
  const input = $("#key-input");
  $("#key-why").textContent = why;
  input.value = "";
  const answer = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const key = input.value.trim();
      input.value = "";
      resolve(dialog.returnValue === "ok" && key !== "" ? key : null);
    }, { once: true });
  });
  dialog.returnValue = "";
  dialog.showModal();
  input.focus();
  return answer;
}

function askForKey(error) {
  if (keyPrompt) return keyPrompt;
  keyPrompt = (async () => {
    let why = error.code === "missing_api_key"
      ? "This gateway needs an API key. The page trades it for a session cookie and does not keep the key."
      : `The gateway refused the request (${error.message}). Enter the API key.`;
    for (;;) {
      const key = await showKeyDialog(why);
      if (key === null) return false;
      const refused = await openSession(key);
      if (!refused) return true;
      why = `The gateway refused the key (${refused.message}). Enter another one.`;
    }
  })().finally(() => { keyPrompt = null; });
  return keyPrompt;
}
$("#key-cancel").addEventListener("click", () => $("#key-dialog").close("cancel"));


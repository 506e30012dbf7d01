// FactoryOS pages: the one sign-in they share. An API key is kept in this browser tab
// (sessionStorage), every request carries it, and a rejected key returns to the sign-in form.
// A page calls FactoryOSSession.start({ view, onSignIn, onSignOut }) and uses what it returns,
// and FactoryOSSession.poller(…) to keep itself up to date.
"use strict";

window.FactoryOSSession = (() => {
  const KEY_STORE = "factoryos.apiKey";
  const $ = (id) => document.getElementById(id);

  class AuthError extends Error {}

  function describe(detail) {
    if (typeof detail === "string") return detail;
    if (detail && typeof detail.detail === "string") return detail.detail; // EPCIS problem
    if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
    return "";
  }

  function start({ view, onSignIn, onSignOut }) {
    let key = null;

    // The response of GET (or POST with a JSON body) to path?params; API errors thrown.
    async function request(path, { params, body } = {}) {
      const url = params ? `${path}?${new URLSearchParams(params)}` : path;
      const init = { headers: { Authorization: `Bearer ${key}` } };
      if (body !== undefined) {
        init.method = "POST";
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const response = await fetch(url, init);
      if (response.status === 401) throw new AuthError("The API key was rejected.");
      if (!response.ok) {
        const answer = await response.json().catch(() => ({}));
        throw new Error(describe(answer.detail) || `HTTP ${response.status}`);
      }
      return response;
    }

    const json = async (path, options) => (await request(path, options)).json();

    // Saves the file GET path?params answers, under the server's file name, else `fallback`.
    async function download(path, { params, fallback } = {}) {
      const response = await request(path, { params });
      const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "");
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = name ? name[1] : fallback;
      link.click();
      URL.revokeObjectURL(link.href);
    }

    async function signIn(candidate) {
      key = candidate;
      const me = await json("/api/me");
      sessionStorage.setItem(KEY_STORE, candidate);
      $("who-tenant").textContent = me.tenant;
      $("who-role").textContent = me.role;
      $("who-key").textContent = me.key_name;
      $("who").hidden = false;
      $("login-view").hidden = true;
      $(view).hidden = false;
      await onSignIn(me);
    }

    function signOut(message) {
      if (onSignOut) onSignOut();
      sessionStorage.removeItem(KEY_STORE);
      key = null;
      $("who").hidden = true;
      $(view).hidden = true;
      $("login-view").hidden = false;
      $("login-error").textContent = message || "";
      $("api-key").value = "";
      $("api-key").focus();
    }

    // A rejected key signs out; any other error is shown in the element `where`.
    function fail(err, where) {
      if (err instanceof AuthError) signOut(err.message);
      else $(where).textContent = err.message;
    }

    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      $("login-error").textContent = "";
      signIn($("api-key").value.trim()).catch((err) => signOut(err.message));
    });
    $("logout").addEventListener("click", () => signOut(""));
    const saved = sessionStorage.getItem(KEY_STORE);
    if (saved) signIn(saved).catch((err) => signOut(err.message));
    else signOut("");
    return { request, json, download, fail, signOut, AuthError, key: () => key };
  }

  // Refreshes a signed-in page again and again: `refresh()` answers whether all went well;
  // failures back off (doubling at most `doublings` times, never past `maxMs`) and show in
  // #poll-status; an error thrown by `refresh` (a rejected key) signs out. `current()` gives
  // the page's session; `onPoll` counts polls for the browser tests.
  function poller(current, refresh, { everyMs, maxMs, doublings, onPoll }) {
    let timer = null;
    let failures = 0;

    function show(text, cls) {
      $("poll-status").textContent = text;
      $("poll-status").className = `live-status ${cls}`;
    }

    async function poll() {
      clearTimeout(timer);
      const session = current();
      if (!session || !session.key()) return;
      try {
        const ok = await refresh();
        failures = ok ? 0 : failures + 1;
        show(ok ? "live" : "retrying", ok ? "live" : "down");
      } catch (err) {
        return session.signOut(err.message);
      }
      onPoll();
      timer = setTimeout(poll, Math.min(maxMs, everyMs * 2 ** Math.min(failures, doublings)));
    }

    return { poll, stop: () => clearTimeout(timer) };
  }

  return { start, poller };
})();

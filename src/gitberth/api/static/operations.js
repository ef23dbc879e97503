// gitberth dashboard, operations panel: an app's deploy history with a rollback per row, and
// its container logs (loaded, or followed over the server-sent event stream). It shares the
// bearer token (sessionStorage) and the element helpers (window.gitberthDom) with dashboard.js,
// and writes every value as text.
"use strict";

(function () {
  const TOKEN_KEY = "gitberth.token";
  const POLL_MS = 3000;
  const byId = (id) => document.getElementById(id);
  const state = { app: "", follow: null };

  const { el, setMessage } = window.gitberthDom; // dashboard.js, loaded first

  function headers(extra) {
    const bearer = sessionStorage.getItem(TOKEN_KEY);
    return Object.assign({ accept: "application/json" }, bearer ? { authorization: "Bearer " + bearer } : {}, extra || {});
  }

  async function call(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: headers(body === undefined ? {} : { "content-type": "application/json" }),
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (_) {
      return { status: 0, data: { error: "network", message: "gitberth did not answer" } };
    }
    let data = {};
    try {
      data = (await response.json()) || {};
    } catch (_) {
      data = { error: "http_error", message: "HTTP " + response.status };
    }
    return { status: response.status, data };
  }

  function describeError(result) {
    const data = result.data || {};
    let text = (result.status || "") + " " + (data.error || "error");
    if (data.message) text += ": " + data.message;
    return text.trim();
  }

  function when(seconds) {
    return seconds ? new Date(seconds * 1000).toLocaleString() : "";
  }

  async function refreshAppChoices() {
    const result = await call("GET", "/apps");
    if (result.status !== 200) return;
    const select = byId("ops-app");
    const names = (result.data.apps || []).map((a) => String(a.name));
    const current = select.value;
    const options = [el("option", { value: "", text: "choose an app" })];
    for (const name of names) options.push(el("option", { value: name, text: name }));
    select.replaceChildren(...options);
    if (names.includes(current)) select.value = current;
  }

  function actionList(actions) {
    if (!actions || !actions.length) return el("span", { className: "muted", text: "no container changed" });
    return el("ul", { className: "plain" }, ...actions.map((a) =>
      el("li", { text: a.kind + " " + a.container + ": " + a.reason + (a.outcome === "ok" ? "" : " (failed: " + (a.error || "") + ")") })));
  }

  async function rollback(app, entry) {
    const short = String(entry.revision).slice(0, 12);
    if (!window.confirm("Roll " + app + " back to " + short + "? This commits its manifest as it was then. Secrets are not rolled back.")) return;
    const message = byId("history-message");
    setMessage(message, "Committing the rollback…", "info");
    const result = await call("POST", "/apps/" + encodeURIComponent(app) + "/rollback", { to: entry.revision });
    if (result.status !== 202) {
      setMessage(message, describeError(result), "error");
      return;
    }
    const data = result.data;
    const plan = (data.plan || []).map((p) => p.action + " " + p.container + ": " + p.reason).join("; ");
    const text = data.changed
      ? "Committed " + String(data.revision).slice(0, 12) + ": " + app + " as it was at " + short + ". " + (plan ? "Plan: " + plan + ". " : "")
      : app + " already is as it was at " + short + ". ";
    setMessage(message, text + "Note: " + ((data.secrets || {}).note || "secrets are not rolled back"), "ok");
    loadHistory(app);
  }

  async function loadHistory(app) {
    const body = byId("history-body");
    const message = byId("history-message");
    if (!app) {
      body.replaceChildren();
      return;
    }
    const result = await call("GET", "/apps/" + encodeURIComponent(app) + "/history?limit=50");
    if (app !== state.app) return;
    if (result.status !== 200) {
      body.replaceChildren();
      setMessage(message, describeError(result), "error");
      return;
    }
    const entries = result.data.entries || [];
    const rows = entries.map((entry, index) => {
      const by = entry.tokenId ? "token " + entry.tokenId : (entry.author || "");
      const subject = el("div", {}, el("div", { text: entry.subject || "" }));
      if (entry.rollbackOf) subject.append(el("div", { className: "muted", text: "restores " + String(entry.rollbackOf).slice(0, 12) }));
      if (entry.error) subject.append(el("div", { className: "error-text", text: entry.error.code + ": " + entry.error.message }));
      const button = el("button", {
        type: "button", className: "secondary small", text: "Roll back to this",
        "data-testid": "rollback-" + entry.revision, "aria-label": "Roll back " + app + " to " + String(entry.revision).slice(0, 12),
      });
      button.addEventListener("click", () => rollback(app, entry));
      return el("tr", { "data-revision": entry.revision },
        el("td", { text: when(entry.at) }),
        el("td", {}, el("code", { text: String(entry.revision).slice(0, 12) })),
        el("td", {}, el("span", { className: "badge badge-outcome-" + entry.outcome, text: entry.outcome })),
        el("td", { text: by }),
        el("td", {}, subject),
        el("td", {}, actionList(entry.actions)),
        el("td", { text: Number(entry.durationSeconds || 0).toFixed(1) + " s" }),
        el("td", {}, index === 0 && !entry.error ? el("span", { className: "muted", text: "current" }) : button));
    });
    body.replaceChildren(...rows);
    if (!entries.length) setMessage(message, "No deploy of " + app + " recorded yet.", "info");
    else if (message.className.indexOf("message-ok") < 0) setMessage(message, "");
  }

  function appendLogLine(line) {
    const output = byId("log-output");
    output.append(document.createTextNode(line.container + " | " + line.line + "\n"));
    while (output.childNodes.length > 2000) output.removeChild(output.firstChild);
    output.scrollTop = output.scrollHeight;
  }

  function stopFollowing() {
    if (state.follow) state.follow.abort();
    state.follow = null;
  }

  async function loadLogs() {
    stopFollowing();
    const app = state.app;
    const output = byId("log-output");
    const message = byId("log-message");
    output.replaceChildren();
    if (!app) return;
    const follow = byId("log-follow").checked;
    const params = new URLSearchParams({ tail: "200" });
    if (!follow) {
      const result = await call("GET", "/apps/" + encodeURIComponent(app) + "/logs?" + params);
      if (result.status !== 200) {
        setMessage(message, describeError(result), "error");
        return;
      }
      setMessage(message, "");
      for (const line of result.data.lines || []) appendLogLine(line);
      return;
    }
    params.set("follow", "true");
    const controller = new AbortController();
    state.follow = controller;
    setMessage(message, "Following…", "info");
    try {
      const response = await fetch("/apps/" + encodeURIComponent(app) + "/logs?" + params, {
        headers: headers({ accept: "text/event-stream" }), cache: "no-store", credentials: "omit", signal: controller.signal,
      });
      if (response.status !== 200) {
        let data = {};
        try { data = await response.json(); } catch (_) { /* not JSON */ }
        setMessage(message, describeError({ status: response.status, data }), "error");
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = "";
          let data = "";
          for (const row of block.split("\n")) {
            if (row.startsWith("event: ")) event = row.slice(7);
            else if (row.startsWith("data: ")) data += row.slice(6);
          }
          if (event === "line") appendLogLine(JSON.parse(data));
          else if (event === "end") setMessage(message, "Stream ended: " + JSON.parse(data).reason, "info");
        }
      }
    } catch (_) {
      // aborted (another app, follow unticked) or the server went away
    } finally {
      if (state.follow === controller) state.follow = null;
    }
  }

  function choose(app) {
    state.app = app;
    setMessage(byId("history-message"), "");
    setMessage(byId("log-message"), "");
    loadHistory(app);
    loadLogs();
  }

  function init() {
    const panel = byId("operations-panel");
    if (!panel) return;
    byId("ops-app").addEventListener("focus", refreshAppChoices);
    byId("ops-app").addEventListener("change", (event) => choose(event.target.value));
    byId("history-refresh").addEventListener("click", () => { refreshAppChoices(); loadHistory(state.app); });
    byId("log-load").addEventListener("click", loadLogs);
    byId("log-follow").addEventListener("change", loadLogs);
    const dashboard = byId("dashboard");
    const watch = () => {
      if (!dashboard.hidden && sessionStorage.getItem(TOKEN_KEY)) refreshAppChoices();
      else { stopFollowing(); state.app = ""; byId("history-body").replaceChildren(); byId("log-output").replaceChildren(); }
    };
    new MutationObserver(watch).observe(dashboard, { attributes: true, attributeFilter: ["hidden"] });
    watch();
    setInterval(() => {
      if (state.app && !dashboard.hidden && !document.hidden) loadHistory(state.app);
    }, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", init);
})();

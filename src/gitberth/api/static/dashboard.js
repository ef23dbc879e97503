// gitberth dashboard: talks to the JSON API with the bearer token kept in sessionStorage.
// Every value from the server is written with textContent (never innerHTML), and secret values
// only ever travel from a password field into POST /secrets; nothing here logs or echoes them.
"use strict";

(function () {
  const TOKEN_KEY = "gitberth.token";
  const POLL_MS = 3000;

  const byId = (id) => document.getElementById(id);
  const state = {
    apps: [],
    secrets: [],
    sealed: null,
    appsTimer: null,
    sealTimer: null,
  };

  // Build an element; children are nodes or strings (strings become text nodes).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function safeUrl(url) {
    // Only plain web links become clickable (never javascript: or data: URLs).
    try {
      const parsed = new URL(String(url));
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  function link(url) {
    const href = safeUrl(url);
    if (href === null) return el("span", { text: String(url) });
    return el("a", { href, target: "_blank", rel: "noopener noreferrer", text: href });
  }

  function setMessage(node, text, kind) {
    node.textContent = text || "";
    node.className = "message" + (kind ? " message-" + kind : "");
  }

  function shortSha(sha) {
    return sha ? String(sha).slice(0, 10) : "—";
  }

  function when(seconds) {
    if (!seconds) return "";
    return new Date(seconds * 1000).toLocaleTimeString();
  }

  // ---- API -------------------------------------------------------------------------------

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  async function api(method, path, body, tokenOverride) {
    const headers = { accept: "application/json" };
    const bearer = tokenOverride || token();
    if (bearer) headers.authorization = "Bearer " + bearer;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (_) {
      return { status: 0, data: { error: "network", message: "gitberth did not answer" } };
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = { error: "http_error", message: "HTTP " + response.status };
      }
    }
    if (response.status === 401 && !tokenOverride && token()) {
      signOut("The server refused the token (401); sign in again.");
    }
    return { status: response.status, data: data || {} };
  }

  function describeError(result) {
    const data = result.data || {};
    if (result.status === 503 && data.error === "sealed") {
      return "503 sealed: the secret store is sealed; an operator must unseal it with POST /admin/unseal.";
    }
    if (result.status === 0) return "gitberth did not answer.";
    let text = result.status + " " + (data.error || "error");
    if (data.message) text += ": " + data.message;
    return text;
  }

  // ---- sign in ---------------------------------------------------------------------------

  function showSignedIn(signedIn) {
    byId("login-panel").hidden = signedIn;
    byId("dashboard").hidden = !signedIn;
    byId("sign-out").hidden = !signedIn;
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    if (state.appsTimer) clearInterval(state.appsTimer);
    state.appsTimer = null;
    state.apps = [];
    state.secrets = [];
    clearSecretForm();
    byId("apps-body").replaceChildren();
    byId("secrets-body").replaceChildren();
    byId("deploy-result").replaceChildren();
    showSignedIn(false);
    setMessage(byId("login-message"), message || "", message ? "error" : null);
    byId("login-token").focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const input = byId("login-token");
    const candidate = input.value.trim();
    input.value = "";
    if (!candidate) return;
    setMessage(byId("login-message"), "Checking the token…");
    // 401 means an unknown token; 503 (sealed) still proves it was accepted.
    const result = await api("GET", "/secrets", undefined, candidate);
    if (result.status === 401 || result.status === 0) {
      setMessage(byId("login-message"), result.status === 401 ? "Unknown token (401)." : describeError(result), "error");
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, candidate);
    setMessage(byId("login-message"), "");
    startDashboard(result);
  }

  function startDashboard(secretsResult) {
    showSignedIn(true);
    if (secretsResult) applySecrets(secretsResult);
    else refreshSecrets();
    refreshApps();
    if (state.appsTimer) clearInterval(state.appsTimer);
    state.appsTimer = setInterval(refreshApps, POLL_MS);
  }

  // ---- seal status -----------------------------------------------------------------------

  async function refreshSeal() {
    const result = await api("GET", "/admin/seal-status");
    const pill = byId("seal-status");
    if (result.status !== 200) {
      pill.textContent = "Seal status unknown";
      pill.className = "pill pill-unknown";
      return;
    }
    const seal = result.data;
    const wasSealed = state.sealed;
    state.sealed = Boolean(seal.sealed);
    pill.textContent = seal.sealed ? "Sealed" : "Unsealed";
    pill.className = "pill " + (seal.sealed ? "pill-sealed" : "pill-ok");
    byId("sealed-banner").hidden = !seal.sealed;
    byId("sealed-progress").textContent =
      seal.sealed && seal.threshold > 1
        ? "Shares entered so far: " + seal.progress + " of " + seal.threshold + "."
        : "";
    if (wasSealed !== null && wasSealed !== state.sealed && token()) refreshSecrets();
  }

  // ---- apps ------------------------------------------------------------------------------

  function badge(value, kind) {
    return el("span", { className: "badge badge-" + kind + "-" + String(value).toLowerCase(), text: String(value) });
  }

  function containerCell(containers) {
    if (!containers || containers.length === 0) return el("span", { className: "muted", text: "none" });
    const list = el("ul", { className: "plain" });
    for (const c of containers) {
      list.append(
        el("li", {}, el("span", { text: c.name }), " ", el("span", { className: "muted", text: "(" + c.state + (c.health ? ", " + c.health : "") + ")" }),
          c.url ? " " : null, c.url ? link(c.url) : null,
          c.volumes && c.volumes.length ? el("span", { className: "muted", text: " volumes: " + c.volumes.join(", ") }) : null,
          c.tasks && c.tasks.length ? taskList(c.tasks) : null),
      );
    }
    return list;
  }

  // Swarm: one line per task of the service (slot, node, state, the engine's error).
  function taskList(tasks) {
    const list = el("ul", { className: "plain tasks" });
    for (const t of tasks) {
      const where = "task " + (t.slot === null || t.slot === undefined ? t.id.slice(0, 12) : t.slot) + " on " + t.node;
      list.append(el("li", { className: "task" }, el("span", { text: where + ": " }),
        el("span", { className: "muted", text: t.state + (t.desiredState !== "running" ? " (desired " + t.desiredState + ")" : "") }),
        t.error ? el("span", { className: "error-text", text: " " + t.error }) : null));
    }
    return list;
  }

  function errorCell(error) {
    if (!error) return el("span", { className: "muted", text: "—" });
    return el("div", {},
      badge(error.kind, "error"), " ",
      el("code", { text: error.code }),
      el("div", { className: "error-text", text: error.message }),
    );
  }

  async function refreshApps() {
    if (!token()) return;
    const result = await api("GET", "/apps");
    const message = byId("apps-message");
    if (result.status === 404) {
      setMessage(message, "This server follows no Git repository (start gitberth serve with --repo), so it has no apps.", "info");
      byId("apps-body").replaceChildren();
      byId("apps-table").hidden = true;
      return;
    }
    byId("apps-table").hidden = false;
    if (result.status !== 200) {
      setMessage(message, describeError(result), "error");
      return;
    }
    setMessage(message, "");
    const sources = result.data.sources || [];
    byId("loop-summary").replaceChildren(...sources.map((loop) => {
      const parts = [];
      if (loop.source) parts.push((loop.name ? loop.name + ": " : "Source ") + loop.source + (loop.branch ? " (" + loop.branch + ")" : ""));
      if (loop.revision) parts.push("revision " + shortSha(loop.revision));
      parts.push(loop.dockerReachable === false ? "Docker unreachable" + (loop.dockerError ? ": " + loop.dockerError : "") : "Docker reachable");
      if (loop.sourceError) parts.push("source error: " + loop.sourceError);
      return el("div", { className: "source-summary", "data-source": loop.name || "", text: parts.join(" · ") });
    }));
    const several = sources.length > 1;
    byId("apps-source-heading").hidden = !several;
    state.apps = (result.data.apps || []).slice().sort((a, b) => a.name.localeCompare(b.name) || (a.source || "").localeCompare(b.source || ""));
    const rows = state.apps.map((app) =>
      el("tr", { "data-app": app.name, "data-source": app.source || "" },
        el("td", {}, el("strong", { text: app.name })),
        several ? el("td", { className: "source" }, el("code", { text: app.source || "" })) : null,
        el("td", {}, badge(app.sync, "sync")),
        el("td", {}, badge(app.health, "health")),
        el("td", {}, containerCell(app.containers)),
        el("td", {}, el("code", { text: shortSha(app.appliedRevision) })),
        el("td", {}, errorCell(app.error)),
      ),
    );
    if (rows.length === 0) {
      rows.push(el("tr", {}, el("td", { colspan: several ? "7" : "6", className: "muted", text: "No apps yet: deploy one below or commit apps/<name>.yaml." })));
    }
    byId("apps-body").replaceChildren(...rows);
    byId("apps-updated").textContent = "updated " + new Date().toLocaleTimeString();
    renderScopeChoices();
  }

  // ---- secrets ---------------------------------------------------------------------------

  function addPair() {
    const index = byId("secret-pairs").children.length;
    const key = el("input", {
      type: "text", className: "pair-key", placeholder: "KEY", autocomplete: "off",
      spellcheck: "false", "aria-label": "Key " + (index + 1),
    });
    const value = el("input", {
      type: "password", className: "pair-value", placeholder: "value", autocomplete: "off",
      "aria-label": "Value " + (index + 1),
    });
    const remove = el("button", { type: "button", className: "secondary small", text: "Remove", "aria-label": "Remove key " + (index + 1) });
    const row = el("div", { className: "pair" }, key, value, remove);
    remove.addEventListener("click", () => {
      row.remove();
      if (byId("secret-pairs").children.length === 0) addPair();
    });
    byId("secret-pairs").append(row);
    return key;
  }

  function clearSecretForm() {
    // Drop the value inputs entirely, so no value survives anywhere in the page.
    byId("secret-pairs").replaceChildren();
    addPair();
    byId("secret-name").value = "";
    byId("secret-scope").value = "";
    byId("secret-scope-app").value = "";
    byId("secret-scope-app").hidden = true;
  }

  function knownApps() {
    const names = new Set(state.apps.map((app) => app.name));
    for (const secret of state.secrets) if (secret.appId) names.add(secret.appId);
    return Array.from(names).sort();
  }

  function renderScopeChoices() {
    const select = byId("secret-scope");
    const chosen = select.value;
    const options = [el("option", { value: "", text: "Shared (every app)" })];
    for (const name of knownApps()) options.push(el("option", { value: "app:" + name, text: "App: " + name }));
    options.push(el("option", { value: "other", text: "Another app…" }));
    select.replaceChildren(...options);
    select.value = Array.from(select.options).some((o) => o.value === chosen) ? chosen : "";
    byId("secret-scope-app").hidden = select.value !== "other";
  }

  function chosenScope() {
    const value = byId("secret-scope").value;
    if (value === "") return null;
    if (value === "other") return byId("secret-scope-app").value.trim() || undefined;
    return value.slice("app:".length);
  }

  async function saveSecret(event) {
    event.preventDefault();
    const message = byId("secret-message");
    const name = byId("secret-name").value.trim();
    const appId = chosenScope();
    const data = {};
    const seen = [];
    for (const row of byId("secret-pairs").children) {
      const key = row.querySelector(".pair-key").value.trim();
      const value = row.querySelector(".pair-value").value;
      if (!key && !value) continue;
      if (!key) return setMessage(message, "Every value needs a key.", "error");
      if (seen.includes(key)) return setMessage(message, "The key " + key + " is given twice.", "error");
      seen.push(key);
      data[key] = value;
    }
    if (!name) return setMessage(message, "Give the secret a name.", "error");
    if (seen.length === 0) return setMessage(message, "Add at least one key and its value.", "error");
    if (appId === undefined) return setMessage(message, "Type the app name for the scope.", "error");
    const body = { name, data };
    if (appId) body.appId = appId;
    const button = byId("save-secret");
    button.disabled = true;
    const result = await api("POST", "/secrets", body);
    button.disabled = false;
    if (result.status === 200 || result.status === 201) {
      clearSecretForm();
      const saved = result.data;
      setMessage(
        message,
        (result.status === 201 ? "Created " : "Replaced ") + saved.name + " (" +
          (saved.appId ? "app " + saved.appId : "shared") + ") with keys " + saved.keys.join(", ") + ".",
        "ok",
      );
      refreshSecrets();
      return;
    }
    setMessage(message, describeError(result), "error");
  }

  async function deleteSecret(secret) {
    const scope = secret.appId ? "scoped to " + secret.appId : "shared";
    if (!window.confirm("Delete the secret " + secret.name + " (" + scope + ")? Apps using it stop resolving.")) return;
    const path = "/secrets/" + encodeURIComponent(secret.name) + (secret.appId ? "?appId=" + encodeURIComponent(secret.appId) : "");
    const result = await api("DELETE", path);
    const message = byId("secret-message");
    if (result.status === 204) setMessage(message, "Deleted " + secret.name + " (" + scope + ").", "ok");
    else setMessage(message, describeError(result), "error");
    refreshSecrets();
  }

  async function refreshSecrets() {
    if (!token()) return;
    applySecrets(await api("GET", "/secrets"));
  }

  function applySecrets(result) {
    const body = byId("secrets-body");
    if (result.status !== 200) {
      const text = result.status === 503 ? "The store is sealed: secrets cannot be listed until it is unsealed." : describeError(result);
      body.replaceChildren(el("tr", {}, el("td", { colspan: "5", className: "muted", text })));
      return;
    }
    state.secrets = (result.data.secrets || []).slice().sort(
      (a, b) => a.name.localeCompare(b.name) || String(a.appId || "").localeCompare(String(b.appId || "")),
    );
    const rows = state.secrets.map((secret) => {
      const remove = el("button", { type: "button", className: "secondary small danger", text: "Delete" });
      remove.addEventListener("click", () => deleteSecret(secret));
      return el("tr", { "data-secret": secret.name, "data-scope": secret.appId || "shared" },
        el("td", {}, el("strong", { text: secret.name })),
        el("td", {}, secret.appId ? el("span", { text: "App: " + secret.appId }) : el("span", { text: "Shared" })),
        el("td", {}, ...secret.keys.flatMap((key, i) => [i ? " " : null, el("code", { className: "key", text: key })])),
        el("td", { className: "muted", text: secret.updatedAt ? new Date(secret.updatedAt).toLocaleString() : "" }),
        el("td", {}, remove),
      );
    });
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { colspan: "5", className: "muted", text: "No secrets yet." })));
    body.replaceChildren(...rows);
    renderScopeChoices();
    renderSecretChoices();
  }

  // ---- deploy ----------------------------------------------------------------------------

  function renderSecretChoices() {
    const scopes = new Map();
    for (const secret of state.secrets) {
      if (!scopes.has(secret.name)) scopes.set(secret.name, []);
      scopes.get(secret.name).push(secret.appId ? "app " + secret.appId : "shared");
    }
    for (const [containerId, field] of [["deploy-env-from", "envFrom"], ["deploy-secret-files", "secretFiles"]]) {
      const container = byId(containerId);
      const checked = new Set(Array.from(container.querySelectorAll("input:checked")).map((i) => i.value));
      const choices = Array.from(scopes.keys()).sort().map((name) => {
        const box = el("input", { type: "checkbox", name: field, value: name, checked: checked.has(name) });
        return el("label", { className: "choice" }, box, " " + name + " ", el("span", { className: "muted", text: "(" + scopes.get(name).join(", ") + ")" }));
      });
      if (choices.length === 0) choices.push(el("span", { className: "muted", text: "No secrets yet: save one in the Secrets panel." }));
      container.replaceChildren(...choices);
    }
  }

  function checkedNames(containerId) {
    return Array.from(byId(containerId).querySelectorAll("input:checked")).map((input) => input.value);
  }

  function showDeployResult(result) {
    const box = byId("deploy-result");
    const data = result.data || {};
    const parts = [];
    if (result.status === 202) {
      const failed = Boolean(data.error);
      parts.push(el("p", { className: "message " + (failed ? "message-error" : "message-ok") },
        "Deployed " + data.app + " at " + shortSha(data.revision) + ": " + data.status + "."));
      if (failed) parts.push(el("p", { className: "message message-error", text: data.error + ": " + (data.message || "") }));
      const plan = el("ul", { className: "plan" });
      for (const action of data.plan || []) {
        plan.append(el("li", {}, el("code", { text: action.action }), " " + action.container + " — " + action.reason));
      }
      if ((data.plan || []).length === 0) plan.append(el("li", { className: "muted", text: "nothing to change" }));
      parts.push(el("h3", { text: "Plan" }), plan);
      if ((data.urls || []).length > 0) {
        const urls = el("ul", { className: "plain urls" });
        for (const url of data.urls) urls.append(el("li", {}, link(url)));
        parts.push(el("h3", { text: "URLs" }), urls);
      }
    } else if (result.status === 400 && data.error === "unknown_secret") {
      const missing = data.missing || [];
      parts.push(el("p", { className: "message message-error" },
        "400 unknown_secret: no secret named " + missing.join(", ") + ". Create it in the Secrets panel first."));
      const list = el("ul", { className: "missing" });
      for (const name of missing) list.append(el("li", {}, el("code", { text: name })));
      parts.push(list);
    } else if (result.status === 400 && data.error === "invalid_manifest") {
      parts.push(el("p", { className: "message message-error", text: "400 invalid_manifest: the manifest has problems:" }));
      const list = el("ul", { className: "problems" });
      for (const problem of data.problems || [data.message]) list.append(el("li", { text: problem }));
      parts.push(list);
    } else if (result.status === 409 && data.error === "read_only_repo") {
      parts.push(el("p", { className: "message message-error",
        text: "409 read_only_repo: " + (data.message || "this server follows a remote repository; open a pull request that adds the manifest instead.") }));
    } else {
      parts.push(el("p", { className: "message message-error", text: describeError(result) }));
    }
    box.replaceChildren(...parts);
  }

  async function deploy(event) {
    event.preventDefault();
    const body = {
      name: byId("deploy-name").value.trim(),
      image: byId("deploy-image").value.trim(),
    };
    const port = byId("deploy-port").value.trim();
    if (port) body.port = Number(port);
    const envFrom = checkedNames("deploy-env-from");
    const secretFiles = checkedNames("deploy-secret-files");
    if (envFrom.length) body.envFrom = envFrom;
    if (secretFiles.length) body.secretFiles = secretFiles;
    const button = byId("deploy-submit");
    button.disabled = true;
    button.textContent = "Deploying…";
    byId("deploy-result").replaceChildren(el("p", { className: "muted", text: "Committing and applying " + body.name + "…" }));
    const result = await api("POST", "/deploy", body);
    button.disabled = false;
    button.textContent = "Deploy";
    showDeployResult(result);
    if (result.status === 202) refreshApps();
  }

  // ---- start -----------------------------------------------------------------------------

  function init() {
    byId("login-form").addEventListener("submit", signIn);
    byId("sign-out").addEventListener("click", () => signOut());
    byId("add-pair").addEventListener("click", () => addPair().focus());
    byId("secret-form").addEventListener("submit", saveSecret);
    byId("secret-scope").addEventListener("change", () => {
      byId("secret-scope-app").hidden = byId("secret-scope").value !== "other";
    });
    byId("deploy-form").addEventListener("submit", deploy);
    // Nothing typed into a password field outlives the page (back/forward cache included).
    window.addEventListener("pagehide", () => clearSecretForm());
    clearSecretForm();
    refreshSeal();
    state.sealTimer = setInterval(refreshSeal, POLL_MS);
    if (token()) startDashboard(null);
    else showSignedIn(false);
  }

  // The history and logs panel (operations.js, loaded after this file) builds with the same
  // helpers.
  window.gitberthDom = Object.freeze({ el, setMessage });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

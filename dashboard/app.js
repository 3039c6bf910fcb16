// portableq dashboard: a small single-page app over the admin API (plain JS, no build).
// Every view is one async function `view<Name>(el, ctx, ...routeArgs)` registered in ROUTES;
// text from the API is only ever inserted with textContent (h() below), never as HTML.
"use strict";
(function () {
  const TOKEN_KEY = "portableq.apiToken";
  const STATUSES = ["queued", "running", "succeeded", "dlq", "cancelled", "archived"];
  const PAGE_SIZE = 50;
  const METRICS_INTERVAL_MS = 2000;
  const CHART_WINDOW_MS = 5 * 60 * 1000;
  const app = document.getElementById("app");
  const numberFormat = new Intl.NumberFormat("en-US");

  // ---------------------------------------------------------------- DOM helpers

  /** Creates an element. attrs: class, dataset, text, on<event> handlers, others as attributes. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    add(el, children);
    return el;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    add(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.setAttribute("class", v);
      else if (k === "dataset") { for (const [dk, dv] of Object.entries(v)) if (dv !== null && dv !== undefined) el.dataset[dk] = String(dv); }
      else if (k === "text") el.textContent = String(v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
  }

  function add(el, ...children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  const dash = "—";
  function fmtNum(n) { return n === null || n === undefined ? dash : numberFormat.format(n); }
  function fmtRate(n) {
    if (n === null || n === undefined) return dash;
    return n >= 100 ? numberFormat.format(Math.round(n)) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
  }
  function fmtPct(r) { return r === null || r === undefined ? dash : (r * 100).toFixed(1) + " %"; }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return dash;
    if (ms < 1000) return Math.round(ms) + " ms";
    return fmtSeconds(ms / 1000);
  }
  function fmtSeconds(sec) {
    if (sec === null || sec === undefined) return dash;
    const a = Math.abs(sec);
    if (a < 10) return (Math.round(a * 10) / 10) + " s";
    if (a < 90) return Math.round(a) + " s";
    if (a < 90 * 60) return Math.round(a / 60) + " min";
    if (a < 36 * 3600) return (Math.round(a / 360) / 10) + " h";
    return (Math.round(a / 8640) / 10) + " d";
  }
  function pad2(n) { return String(n).padStart(2, "0"); }
  function fmtTime(iso, ms) {
    if (!iso) return dash;
    const d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate()) + " " +
      pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds()) +
      (ms ? "." + String(d.getMilliseconds()).padStart(3, "0") : "");
  }
  function relTime(iso) {
    if (!iso) return dash;
    const t = new Date(iso).getTime();
    if (isNaN(t)) return String(iso);
    const diff = (t - Date.now()) / 1000;
    if (Math.abs(diff) < 1.5) return diff <= 0 ? "just now" : "now";
    return diff < 0 ? fmtSeconds(-diff) + " ago" : "in " + fmtSeconds(diff);
  }
  /** A <time> showing a relative time (or the absolute one), the other in its tooltip. */
  function timeEl(iso, absolute) {
    if (!iso) return h("span", { class: "muted" }, dash);
    return h("time", { datetime: iso, title: absolute ? relTime(iso) + " · " + iso : fmtTime(iso) + " · " + iso },
      absolute ? fmtTime(iso) : relTime(iso));
  }
  function badge(status, extraClass) {
    return h("span", { class: "badge st-" + String(status).toLowerCase() + (extraClass ? " " + extraClass : ""), dataset: { status } }, status);
  }
  function code(text) { return h("code", null, text); }
  /** Text in which `backticked` parts become <code> (as text nodes: nothing is parsed as HTML). */
  function withCode(text) {
    return String(text ?? "").split("`").map((part, i) => (i % 2 === 1 ? code(part) : part));
  }
  function jobLink(id, label) { return h("a", { href: "#/jobs/" + encodeURIComponent(id), class: "mono", dataset: { jobLink: id } }, label || id); }
  function prettyJSON(v) {
    if (v === undefined) return "";
    try { return JSON.stringify(v, null, 2); } catch (e) { return String(v); }
  }
  function hashFor(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== "" && v !== 0) q.set(k, String(v));
    const qs = q.toString();
    return "#" + path + (qs ? "?" + qs : "");
  }
  function truncate(text, n) {
    if (text === null || text === undefined) return "";
    const t = String(text);
    return t.length > n ? t.slice(0, n - 1) + "…" : t;
  }

  /** A table: columns are {label, cell(row) -> node|string, class?}; rowAttrs(row) gives <tr> attributes. */
  function table(id, columns, rows, opts) {
    const o = opts || {};
    const thead = h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label))));
    const tbody = h("tbody");
    if (rows.length === 0) {
      tbody.append(h("tr", { class: "empty" }, h("td", { colspan: columns.length }, o.empty || "Nothing here.")));
    }
    for (const r of rows) {
      const tr = h("tr", o.rowAttrs ? o.rowAttrs(r) : null, columns.map((c) => h("td", { class: c.class, "data-label": typeof c.label === "string" ? c.label : null }, c.cell(r))));
      if (o.onRowClick) {
        tr.classList.add("clickable");
        tr.addEventListener("click", (ev) => {
          if (ev.target.closest("a, button, input, select, label")) return;
          if (window.getSelection && String(window.getSelection()).length > 0) return;
          o.onRowClick(r, ev);
        });
      }
      tbody.append(tr);
    }
    return h("div", { class: "table-wrap" },
      h("table", { id, class: "grid" + (o.class ? " " + o.class : "") }, o.caption ? h("caption", { class: "sr-only" }, o.caption) : null, thead, tbody));
  }

  function definitionList(id, pairs) {
    const dl = h("dl", { id, class: "fields" });
    for (const [k, v, key] of pairs) {
      dl.append(h("div", { class: "field", dataset: { field: key || k } }, h("dt", null, k), h("dd", null, v === null || v === undefined || v === "" ? h("span", { class: "muted" }, dash) : v)));
    }
    return dl;
  }

  // ---------------------------------------------------------------- flash messages

  const flashEl = document.getElementById("flash");
  let flashTimer = null;
  let flashKeep = false; // survive the next route change (the re-render or redirect an action causes)
  function flash(kind, ...content) {
    clearTimeout(flashTimer);
    flashKeep = false;
    const msg = h("div", { class: "flash flash-" + kind, dataset: { kind } }, h("span", { class: "flash-text" }, content),
      h("button", { type: "button", class: "link flash-close", "aria-label": "Dismiss message", onclick: () => flashEl.replaceChildren() }, "×"));
    flashEl.replaceChildren(msg);
    flashTimer = setTimeout(() => flashEl.replaceChildren(), kind === "error" ? 15000 : 8000);
  }

  // ---------------------------------------------------------------- API and token

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function storedToken() {
    try { return localStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  }
  function storeToken(t) {
    try { if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
    updateTokenLink();
  }
  function updateTokenLink() { document.getElementById("forget-token").hidden = !storedToken(); }

  let tokenRequest = null;
  /** Shows the token form once (concurrent callers share it); resolves when a token was entered. */
  function askForToken(message) {
    if (tokenRequest) return tokenRequest;
    const dialog = document.getElementById("token-dialog");
    const form = document.getElementById("token-form");
    const input = document.getElementById("token-input");
    const err = document.getElementById("token-error");
    err.hidden = !message;
    err.textContent = message || "";
    input.value = "";
    dialog.hidden = false;
    document.body.classList.add("modal-open");
    input.focus();
    tokenRequest = new Promise((resolve) => {
      const onSubmit = (ev) => {
        ev.preventDefault();
        const t = input.value.trim();
        if (!t) { err.hidden = false; err.textContent = "Enter the token."; input.focus(); return; }
        form.removeEventListener("submit", onSubmit);
        storeToken(t);
        dialog.hidden = true;
        document.body.classList.remove("modal-open");
        tokenRequest = null;
        resolve(t);
      };
      form.addEventListener("submit", onSubmit);
    });
    return tokenRequest;
  }

  /** Calls the API; on 401 asks for the token and tries again. Resolves to the parsed JSON. */
  async function api(method, path, body) {
    for (;;) {
      const token = storedToken();
      const headers = { accept: "application/json" };
      if (token) headers["x-api-key"] = token;
      const init = { method, headers, cache: "no-store" };
      if (body !== undefined) { headers["content-type"] = "application/json"; init.body = JSON.stringify(body); }
      let res;
      try {
        res = await fetch(path, init);
      } catch (e) {
        throw new ApiError(0, "NETWORK", "the server did not answer (" + e.message + ")");
      }
      const text = await res.text();
      let data = null;
      if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
      const err = data && typeof data === "object" && data.error ? data.error : null;
      if (res.status === 401) {
        if (token && storedToken() === token) storeToken("");
        if (token && storedToken() !== token && storedToken()) continue; // someone entered a new one meanwhile
        await askForToken(token ? "That token was refused" + (err && err.message ? ": " + err.message : ".") : "");
        continue;
      }
      if (!res.ok) {
        throw new ApiError(res.status, err ? err.code : "HTTP_" + res.status, err ? err.message : (res.statusText || "request failed"));
      }
      return data;
    }
  }

  /** Paths the server describes in /openapi.json: views and buttons for later endpoints appear only when served. */
  let featuresPromise = null;
  function features() {
    if (!featuresPromise) {
      featuresPromise = api("GET", "/openapi.json")
        .then((doc) => new Set(Object.keys((doc && doc.paths) || {})))
        .catch(() => { featuresPromise = null; return new Set(); });
    }
    return featuresPromise;
  }

  // ---------------------------------------------------------------- router

  const ROUTES = [
    [/^\/jobs$/, viewJobs, "jobs"],
    [/^\/jobs\/([^/]+)$/, viewJob, "jobs"],
    [/^\/dlq$/, viewDLQ, "dlq"],
    [/^\/queues$/, viewQueues, "queues"],
    [/^\/workers$/, viewWorkers, "workers"],
    [/^\/metrics$/, viewMetrics, "metrics"],
    [/^\/decisions$/, viewDecisions, "decisions"],
    [/^\/schedules$/, viewSchedules, "schedules"],
    [/^\/flows$/, viewFlows, "flows"],
    [/^\/runs\/([^/]+)$/, viewRun, "flows"],
  ];

  let current = null;
  let routeSeq = 0;

  function parseHash() {
    let raw = location.hash.replace(/^#/, "");
    if (raw === "" || raw === "/") raw = "/jobs";
    const qi = raw.indexOf("?");
    return { path: qi < 0 ? raw : raw.slice(0, qi), params: new URLSearchParams(qi < 0 ? "" : raw.slice(qi + 1)) };
  }

  function setNav(name) {
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  function safeDecode(s) { try { return decodeURIComponent(s); } catch (e) { return s; } }

  async function route() {
    if (current) current.dispose();
    if (flashKeep) flashKeep = false; else { clearTimeout(flashTimer); flashEl.replaceChildren(); }
    const seq = ++routeSeq;
    const { path, params } = parseHash();
    let match = null;
    for (const [re, view, nav] of ROUTES) {
      const m = re.exec(path);
      if (m) { match = { view, nav, args: m.slice(1).map(safeDecode) }; break; }
    }
    const el = h("section", { class: "view", dataset: { state: "loading" }, "aria-busy": "true" });
    app.replaceChildren(el);
    setNav(match ? match.nav : null);
    const cleanups = [];
    const ctx = {
      params,
      alive: () => seq === routeSeq,
      onDispose: (fn) => cleanups.push(fn),
      dispose: () => { for (const fn of cleanups.splice(0)) { try { fn(); } catch (e) { /* ignore */ } } },
      el,
      // A view that updates itself in place (metrics) sets this; others are re-rendered by refreshView.
      liveRefresh: null,
    };
    current = ctx;
    if (!match) {
      el.id = "view-notfound";
      add(el, h("h1", null, "Not found"), h("p", null, "No page at ", code(path), ". ", h("a", { href: "#/jobs" }, "Go to jobs")));
      return finish(el, ctx, "ready");
    }
    try {
      await match.view(el, ctx, ...match.args);
      finish(el, ctx, "ready");
      if (!ctx.liveRefresh) ctx.liveRefresh = () => refreshView(ctx, match);
      if (ctx.alive()) scheduleLive();
    } catch (e) {
      if (!ctx.alive()) return;
      renderError(el, e);
      finish(el, ctx, "error");
    }
  }

  function finish(el, ctx, state) {
    if (!ctx.alive()) return;
    el.dataset.state = state;
    el.removeAttribute("aria-busy");
    const h1 = el.querySelector("h1");
    document.title = (h1 ? h1.textContent + " · " : "") + "portableq";
  }

  function rerender() { flashKeep = true; route(); }
  function navigate(hash) { flashKeep = true; location.hash = hash; }

  // ---------------------------------------------------------------- live refresh

  // Every page refreshes itself while the tab is visible and live mode is on: a fresh render that
  // replaces the page only when what it shows changed (relative times are updated in place), so a
  // static page never moves under the pointer. It holds while the user types, confirms or selects.
  const LIVE_KEY = "portableq.live";
  const LIVE_BASE_MS = 3000;
  const LIVE_MAX_MS = 30000;
  const live = { on: storedLive(), delay: LIVE_BASE_MS, failures: 0, timer: null, running: false, held: false, error: null, at: null };

  function storedLive() {
    try { return localStorage.getItem(LIVE_KEY) !== "paused"; } catch (e) { return true; }
  }
  function liveState() {
    if (!live.on) return "paused";
    if (document.hidden) return "hidden";
    if (live.error) return "error";
    if (live.held) return "held";
    return "live";
  }
  function renderLive() {
    const btn = document.getElementById("live-toggle");
    const label = document.getElementById("live-label");
    const status = document.getElementById("live-status");
    const state = liveState();
    btn.dataset.live = state;
    btn.setAttribute("aria-pressed", String(live.on));
    btn.title = live.on ? "Live: pages refresh themselves. Click to pause." : "Paused: click to refresh pages live again.";
    label.textContent = live.on ? (document.hidden ? "Paused" : "Live") : "Paused";
    status.textContent = state === "hidden" ? "tab hidden"
      : state === "error" ? "refresh failed, retrying in " + fmtSeconds(live.delay / 1000)
      : state === "held" ? "held while you edit"
      : state === "live" && live.at ? "updated " + fmtTime(live.at.toISOString()).slice(11) : "";
    status.className = state === "error" ? "error-text" : "muted";
  }
  function scheduleLive(delay) {
    clearTimeout(live.timer);
    live.timer = null;
    if (live.on && !document.hidden) live.timer = setTimeout(liveTick, delay ?? live.delay);
    renderLive();
  }
  /** Something the user is in the middle of: typing in a form, an open confirmation or editor, a selection. */
  function liveBusy() {
    const a = document.activeElement;
    if (a && app.contains(a) && a.matches("input, select, textarea")) return true;
    if (app.querySelector(".confirm:not([hidden]), #queue-editor:not([hidden]), [data-hold]:not([hidden]), input[data-select]:checked")) return true;
    return !document.getElementById("token-dialog").hidden;
  }
  async function liveTick() {
    live.timer = null;
    const ctx = current;
    if (!live.on || document.hidden || !ctx || !ctx.liveRefresh || !ctx.alive() || live.running) return scheduleLive();
    live.held = liveBusy();
    if (live.held) return scheduleLive(LIVE_BASE_MS);
    live.running = true;
    try {
      await ctx.liveRefresh();
      live.failures = 0;
      live.delay = ctx.liveInterval || LIVE_BASE_MS;
      live.error = null;
      live.at = new Date();
    } catch (e) {
      live.failures++;
      live.delay = Math.min(LIVE_MAX_MS, LIVE_BASE_MS * Math.pow(2, live.failures));
      live.error = e;
    } finally {
      live.running = false;
    }
    if (ctx === current) scheduleLive();
  }
  function liveText(el) {
    const c = el.cloneNode(true);
    for (const t of c.querySelectorAll("time, [data-rel]")) { t.textContent = ""; t.removeAttribute("title"); }
    const ser = new XMLSerializer();
    return [...c.childNodes].map((n) => ser.serializeToString(n)).join("");
  }
  /** Renders the view again off-screen; swaps it in only when its content changed. */
  async function refreshView(ctx, match) {
    const fresh = h("section", { class: "view", dataset: { state: "loading" } });
    await match.view(fresh, { params: ctx.params, alive: ctx.alive, onDispose: ctx.onDispose, refreshing: true }, ...match.args);
    if (!ctx.alive() || liveBusy() || !live.on || document.hidden) return;
    const old = ctx.el;
    fresh.dataset.refreshes = String((parseInt(old.dataset.refreshes || "0", 10) || 0) + 1);
    old.dataset.refreshes = fresh.dataset.refreshes;
    fresh.dataset.state = "ready";
    if (liveText(fresh) === liveText(old)) {
      const olds = old.querySelectorAll("time, [data-rel]");
      const news = fresh.querySelectorAll("time, [data-rel]");
      if (olds.length === news.length) olds.forEach((o, i) => { o.textContent = news[i].textContent; if (news[i].title) o.title = news[i].title; });
      return;
    }
    old.replaceWith(fresh);
    ctx.el = fresh;
  }
  document.getElementById("live-toggle").addEventListener("click", () => {
    live.on = !live.on;
    try { if (live.on) localStorage.removeItem(LIVE_KEY); else localStorage.setItem(LIVE_KEY, "paused"); } catch (e) { /* private mode */ }
    live.error = null;
    live.delay = LIVE_BASE_MS;
    scheduleLive(live.on ? 0 : undefined);
  });
  document.addEventListener("visibilitychange", () => scheduleLive(document.hidden ? undefined : 0));

  function renderError(el, e) {
    const notServed = e instanceof ApiError && e.status === 404 && /no route/i.test(e.message || "");
    const box = h("div", { class: "error-box", id: "view-error", role: "alert", dataset: { code: e.code || "ERROR", status: e.status || "" } },
      notServed
        ? [h("strong", null, "Not available on this server. "), "This version of portableq does not serve this page yet."]
        : [h("strong", null, (e.code || "Error") + (e.status ? " (" + e.status + ")" : "") + ": "), e.message || String(e)]);
    if (!el.querySelector("h1")) el.prepend(h("h1", null, "Error"));
    el.append(box);
  }

  function viewHeader(title, ...extra) {
    return h("div", { class: "view-head" }, h("h1", null, title), extra.length ? h("div", { class: "view-head-extra" }, extra) : null);
  }

  /** Runs an action button: disables it, reports the outcome in the flash area. */
  async function runAction(button, fn) {
    const buttons = button ? [button] : [];
    for (const b of buttons) b.disabled = true;
    try {
      return await fn();
    } catch (e) {
      flash("error", (e.code || "Error") + ": " + (e.message || String(e)));
      return undefined;
    } finally {
      for (const b of buttons) if (b.isConnected) b.disabled = false;
    }
  }

  // ---------------------------------------------------------------- jobs

  function pager(total, capped, offset, count, toHash, noun) {
    const info = count === 0
      ? (offset > 0 ? "No rows at offset " + fmtNum(offset) : "No " + (noun || "jobs"))
      : fmtNum(offset + 1) + "–" + fmtNum(offset + count) + " of " + (capped ? fmtNum(total) + "+" : fmtNum(total));
    const hasNext = capped ? count === PAGE_SIZE : offset + count < total;
    const prev = h("a", { class: "button", id: "pager-prev", role: "button", href: toHash(Math.max(0, offset - PAGE_SIZE)), "aria-disabled": offset === 0 ? "true" : null, rel: "prev" }, "← Prev");
    const next = h("a", { class: "button", id: "pager-next", role: "button", href: toHash(offset + PAGE_SIZE), "aria-disabled": hasNext ? null : "true", rel: "next" }, "Next →");
    return h("div", { class: "pager", id: "pager" },
      h("span", { id: "pager-info", dataset: { total, capped: String(!!capped), offset, count } }, info), prev, next);
  }

  function jobColumns(extra) {
    const cols = [
      { label: "ID", class: "id", cell: (j) => jobLink(j.id) },
      { label: "Queue", cell: (j) => j.queue },
      { label: "Type", cell: (j) => j.job_type },
      { label: "Status", cell: (j) => badge(j.status) },
      { label: "Attempts", class: "num", cell: (j) => String(j.attempts) + (j.max_attempts ? " / " + j.max_attempts : "") },
      { label: "Created", cell: (j) => timeEl(j.created_at) },
      { label: "When", cell: (j) => whenCell(j) },
      { label: "Last error", cell: (j) => j.last_error_code ? h("span", { class: "errcode", title: j.last_error_message || "" }, j.last_error_code) : "" },
      { label: "Payload", class: "msg", cell: payloadCell },
    ];
    return extra ? cols.concat(extra) : cols;
  }

  /** Lists carry a payload whole up to 4 KiB, else a preview (the job page shows it whole). */
  function payloadCell(j) {
    const text = j.payload_truncated ? j.payload_preview + "…" : JSON.stringify(j.payload);
    const size = fmtNum(j.payload_bytes) + " bytes" + (j.payload_truncated ? ", preview" : "");
    return h("span", { title: size, dataset: { truncated: j.payload_truncated ? "true" : "false" } }, code(truncate(text, 60)));
  }

  function whenCell(j) {
    if (j.status === "queued") {
      const wait = (Date.now() - new Date(j.run_at).getTime()) / 1000;
      const text = wait >= 1.5 ? "waiting " + fmtSeconds(wait)
        : wait >= -1.5 ? "due now"
        : (j.attempts > 0 ? "retry in " : "scheduled in ") + fmtSeconds(-wait);
      const span = h("span", { title: "run at " + fmtTime(j.run_at), dataset: { rel: "" } }, text);
      return wait < -1.5 ? [h("span", { class: "badge st-" + (j.attempts > 0 ? "retrying" : "scheduled"), dataset: { later: j.attempts > 0 ? "retrying" : "scheduled" } }, j.attempts > 0 ? "retrying" : "scheduled"), " ", span] : span;
    }
    if (j.status === "running") return h("span", { title: fmtTime(j.started_at), dataset: { rel: "" } }, "started " + relTime(j.started_at));
    if (j.finished_at) return h("span", { title: fmtTime(j.finished_at), dataset: { rel: "" } }, "finished " + relTime(j.finished_at));
    return dash;
  }

  const NAME_PATTERN = "[A-Za-z0-9_.:\\-]{1,128}";

  function filterField(id, label, input) {
    return h("div", { class: "filter" }, h("label", { for: id }, label), input);
  }

  /** A JSON text area checked as the user types: `read()` gives {ok, value} or {ok: false, error}. */
  function jsonInput(id, label, initial) {
    const area = h("textarea", { id, name: id, rows: "3", spellcheck: "false", class: "json-input", "aria-describedby": id + "-error" }, initial || "");
    const err = h("span", { id: id + "-error", class: "field-error", role: "alert" });
    const read = () => {
      const text = area.value.trim();
      if (text === "") return { ok: true, value: null };
      try { return { ok: true, value: JSON.parse(text) }; } catch (e) { return { ok: false, error: "not valid JSON: " + e.message }; }
    };
    const check = () => {
      const r = read();
      err.textContent = r.ok ? "" : r.error;
      if (r.ok) area.removeAttribute("aria-invalid"); else area.setAttribute("aria-invalid", "true");
      return r;
    };
    area.addEventListener("input", check);
    return { node: h("div", { class: "filter filter-wide" }, h("label", { for: id }, label), area, err), read: check, area };
  }

  /** A form shown in a panel of the page (live refresh holds while it is open). */
  function actionForm(id, title, fields, submitLabel, onSubmit, box) {
    const submit = h("button", { type: "submit", class: "primary", id: id + "-submit" }, submitLabel);
    const form = h("form", { class: "filters card action-form", id, novalidate: true },
      h("strong", { class: "form-title" }, title), fields,
      h("div", { class: "filter filter-buttons" }, submit, h("button", { type: "button", id: id + "-close", onclick: () => { box.hidden = true; box.replaceChildren(); } }, "Close")));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); runAction(submit, () => onSubmit(submit)); });
    box.replaceChildren(form);
    box.hidden = false;
    const first = form.querySelector("input, textarea");
    if (first) first.focus();
    return form;
  }

  function textField(id, label, value, attrs) {
    const input = h("input", Object.assign({ id, name: id, value: value || "", autocomplete: "off", spellcheck: "false" }, attrs || {}));
    return { node: filterField(id, label, input), input };
  }

  function showEnqueueForm(box, defaults) {
    const type = textField("enqueue-type", "Job type", defaults.job_type, { pattern: NAME_PATTERN, required: true });
    const queue = textField("enqueue-queue", "Queue", defaults.queue || "default", { pattern: NAME_PATTERN, required: true });
    const payload = jsonInput("enqueue-payload", "Payload (JSON)", "{}");
    actionForm("enqueue-form", "Enqueue a job", [type.node, queue.node, payload.node], "Enqueue", async () => {
      const p = payload.read();
      if (!p.ok) { payload.area.focus(); throw new ApiError(0, "INVALID_JSON", "the payload is " + p.error); }
      if (!type.input.value.trim()) { type.input.focus(); throw new ApiError(0, "INVALID", "a job type is required"); }
      const r = await api("POST", "/jobs", { job_type: type.input.value.trim(), queue: queue.input.value.trim() || "default", payload_json: p.value });
      flash("ok", "Enqueued job ", jobLink(r.job_id), r.created === false ? " (it already existed)." : ".");
      box.hidden = true;
      rerender();
    }, box);
  }

  /** Runs one call per selected job (the bulk endpoints take filters, not ids); reports the tally. */
  async function bulkOnIds(ids, verb, call) {
    let ok = 0;
    const failed = [];
    for (const id of ids) {
      try { await call(id); ok++; } catch (e) { failed.push(id + ": " + (e.code || "ERROR")); }
    }
    flash(failed.length ? "error" : "ok", verb + " " + fmtNum(ok) + " of " + fmtNum(ids.length) + (ids.length === 1 ? " job" : " jobs") +
      (failed.length ? " (" + truncate(failed.join(", "), 200) + ")" : "") + ".");
    rerender();
  }

  async function viewJobs(el, ctx) {
    el.id = "view-jobs";
    const p = ctx.params;
    // scheduled=true: queued jobs not due yet (retrying after a back-off, or scheduled for later).
    const f = { status: p.get("status") || "", queue: p.get("queue") || "", job_type: p.get("job_type") || "", error_code: p.get("error_code") || "",
      tag: p.get("tag") || "", scheduled: p.get("scheduled") === "true" ? "true" : "" };
    if (f.scheduled) f.status = "";
    const offset = Math.max(0, parseInt(p.get("offset") || "0", 10) || 0);

    const statusSel = h("select", { id: "filter-status", name: "status" }, h("option", { value: "" }, "any"),
      STATUSES.map((st) => h("option", { value: st, selected: st === f.status }, st)),
      h("option", { value: "scheduled", selected: !!f.scheduled }, "retrying / scheduled (not due yet)"));
    const queueIn = h("input", { id: "filter-queue", name: "queue", value: f.queue, pattern: NAME_PATTERN, placeholder: "any", autocomplete: "off", spellcheck: "false" });
    const typeIn = h("input", { id: "filter-job-type", name: "job_type", value: f.job_type, pattern: NAME_PATTERN, placeholder: "any", autocomplete: "off", spellcheck: "false" });
    const errIn = h("input", { id: "filter-error-code", name: "error_code", value: f.error_code, placeholder: "any", autocomplete: "off", spellcheck: "false" });
    // Tags: comma-separated, jobs carrying every one (the API checks the characters).
    const tagIn = h("input", { id: "filter-tag", name: "tag", value: f.tag, placeholder: "any", autocomplete: "off", spellcheck: "false" });
    const form = h("form", { class: "filters", id: "jobs-filters", role: "search", "aria-label": "Filter jobs" },
      filterField("filter-status", "Status", statusSel),
      filterField("filter-queue", "Queue", queueIn),
      filterField("filter-job-type", "Job type", typeIn),
      filterField("filter-error-code", "Error code", errIn),
      filterField("filter-tag", "Tag", tagIn),
      h("div", { class: "filter filter-buttons" },
        h("button", { type: "submit", id: "filter-apply", class: "primary" }, "Apply"),
        h("a", { href: "#/jobs", id: "filter-clear", class: "button" }, "Clear")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const later = statusSel.value === "scheduled";
      location.hash = hashFor("/jobs", { status: later ? "" : statusSel.value, scheduled: later ? "true" : "", queue: queueIn.value.trim(), job_type: typeIn.value.trim(), error_code: errIn.value.trim(), tag: tagIn.value.replace(/\s+/g, "") });
    });
    statusSel.addEventListener("change", () => form.requestSubmit());
    const panel = h("div", { id: "jobs-panel", dataset: { hold: "" }, hidden: true });
    const enqueueBtn = h("button", { type: "button", id: "btn-enqueue", class: "primary", onclick: () => showEnqueueForm(panel, f) }, "Enqueue…");
    const laterLink = h("a", { href: hashFor("/jobs", { scheduled: "true" }), class: "button", id: "jobs-scheduled" }, "Retrying / scheduled");
    add(el, viewHeader(f.scheduled ? "Jobs not due yet" : "Jobs", laterLink, enqueueBtn, h("button", { type: "button", id: "refresh", onclick: () => route() }, "Refresh")), form, panel);

    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
    q.set("limit", String(PAGE_SIZE));
    q.set("offset", String(offset));
    const data = await api("GET", "/jobs?" + q.toString());
    if (!ctx.alive()) return;
    const toHash = (o) => hashFor("/jobs", Object.assign({}, f, { offset: o }));
    // Bulk select: a checkbox per row; the bar acts on the checked ones.
    const selCount = h("span", { id: "bulk-count" }, "");
    const bulkBar = h("div", { class: "bulk-bar", id: "bulk-bar", hidden: true }, selCount);
    const checked = () => [...el.querySelectorAll("input[data-select]:checked")].map((c) => c.value);
    const updateBar = () => { const n = checked().length; bulkBar.hidden = n === 0; selCount.textContent = fmtNum(n) + " selected"; };
    for (const [action, label, cls, call] of [
      ["retry", "Retry", "", (id) => api("POST", "/jobs/" + encodeURIComponent(id) + "/retry")],
      ["cancel", "Cancel", "danger", (id) => api("POST", "/jobs/" + encodeURIComponent(id) + "/cancel")],
      ["delete", "Delete", "danger", (id) => api("DELETE", "/jobs/" + encodeURIComponent(id))],
    ]) {
      const b = h("button", { type: "button", class: "small " + cls, id: "bulk-" + action }, label + " selected");
      b.addEventListener("click", () => runAction(b, () => bulkOnIds(checked(), { retry: "Retried", cancel: "Cancelled", delete: "Deleted" }[action], call)));
      bulkBar.append(b);
    }
    bulkBar.append(h("button", { type: "button", class: "small link", id: "bulk-clear", onclick: () => { for (const c of el.querySelectorAll("input[data-select]")) c.checked = false; updateBar(); } }, "Clear selection"));
    const all = h("input", { type: "checkbox", id: "select-all", "aria-label": "Select every job on this page" });
    all.addEventListener("change", () => { for (const c of el.querySelectorAll("input[data-select]")) c.checked = all.checked; updateBar(); });
    const selectCol = { label: all, class: "select-cell", cell: (j) => {
      const c = h("input", { type: "checkbox", value: j.id, dataset: { select: "" }, "aria-label": "Select job " + j.id });
      c.addEventListener("change", updateBar);
      return c;
    } };
    add(el,
      pager(data.total, data.total_capped, offset, data.items.length, toHash),
      bulkBar,
      table("jobs-table", [selectCol].concat(jobColumns()), data.items, {
        caption: "Jobs",
        empty: "No jobs match these filters.",
        rowAttrs: (j) => ({ dataset: { jobId: j.id, status: j.status, queue: j.queue } }),
        onRowClick: (j) => { location.hash = "#/jobs/" + encodeURIComponent(j.id); },
      }));
  }

  // ---------------------------------------------------------------- one job

  const RETRYABLE = ["dlq", "cancelled"];
  const REPLAYABLE = ["succeeded", "dlq", "cancelled", "archived"];
  const CANCELLABLE = ["queued", "running"];

  // A bar for a numeric `progress` between 0 and 1 in a handler's latest update.
  function progressBar(p) {
    const v = typeof p.progress === "number" ? p.progress : null;
    if (v === null || !(v >= 0 && v <= 1)) return null;
    return h("progress", { id: "job-progress", max: "1", value: String(v), title: Math.round(v * 100) + "%" });
  }

  async function viewJob(el, ctx, id) {
    el.id = "view-job";
    el.dataset.jobId = id;
    const [tl, ex] = await Promise.all([
      api("GET", "/jobs/" + encodeURIComponent(id) + "/timeline"),
      api("GET", "/jobs/" + encodeURIComponent(id) + "/explain"),
    ]);
    if (!ctx.alive()) return;
    const job = tl.job;
    const feats = await features();
    if (!ctx.alive()) return;

    const retryBtn = h("button", { type: "button", id: "btn-retry", disabled: !RETRYABLE.includes(job.status), title: "Put the job back in its queue (same id)" }, "Retry");
    const replayBtn = h("button", { type: "button", id: "btn-replay", disabled: !REPLAYABLE.includes(job.status), title: "Run it again as a new job" }, "Replay");
    const cancelBtn = h("button", { type: "button", id: "btn-cancel", class: "danger", disabled: !CANCELLABLE.includes(job.status), title: "Cancel the job" }, "Cancel");
    retryBtn.addEventListener("click", () => runAction(retryBtn, async () => {
      const j = await api("POST", "/jobs/" + encodeURIComponent(id) + "/retry");
      flash("ok", "Job ", jobLink(j.id), " is ", badge(j.status), " again.");
      rerender();
    }));
    replayBtn.addEventListener("click", () => runAction(replayBtn, async () => {
      const r = await api("POST", "/jobs/" + encodeURIComponent(id) + "/replay");
      flash("ok", "Replayed ", jobLink(id), " as new job ", jobLink(r.job_id), ".");
      navigate("#/jobs/" + encodeURIComponent(r.job_id));
    }));
    cancelBtn.addEventListener("click", () => runAction(cancelBtn, async () => {
      const j = await api("POST", "/jobs/" + encodeURIComponent(id) + "/cancel");
      flash("ok", "Job ", jobLink(j.id), " is ", badge(j.status), ".");
      rerender();
    }));

    const deleteBtn = h("button", { type: "button", id: "btn-delete", class: "danger", disabled: job.status === "running", title: "Delete the job and its history" }, "Delete…");
    const confirmBox = h("div", { id: "job-confirm", class: "confirm", hidden: true });
    deleteBtn.addEventListener("click", () => {
      const go = h("button", { type: "button", class: "danger", id: "job-delete-yes" }, "Delete");
      confirmBox.replaceChildren(h("span", null, "Delete job ", code(job.id), " and its timeline? This cannot be undone."), go,
        h("button", { type: "button", onclick: () => { confirmBox.hidden = true; } }, "Keep it"));
      confirmBox.hidden = false;
      go.addEventListener("click", () => runAction(go, async () => {
        await api("DELETE", "/jobs/" + encodeURIComponent(id));
        flash("ok", "Job ", code(id), " deleted.");
        navigate(hashFor("/jobs", { queue: job.queue }));
      }));
    });
    const head = h("div", { class: "view-head" },
      h("div", null,
        h("a", { href: "#/jobs", class: "back" }, "← Jobs"),
        h("h1", null, "Job ", h("span", { class: "mono", id: "job-id" }, job.id), " ", badge(job.status, "big"))),
      h("div", { class: "actions", id: "job-actions" }, retryBtn, replayBtn, cancelBtn, deleteBtn,
        h("button", { type: "button", id: "refresh", onclick: () => route() }, "Refresh")));
    head.querySelector(".badge").id = "job-status";

    const explain = h("div", { class: "card explain", id: "job-explain", dataset: { reason: ex.reason_code } },
      h("h2", null, "Why is it here?"),
      h("p", null, h("span", { class: "badge reason r-" + String(ex.reason_code).toLowerCase(), id: "explain-reason" }, ex.reason_code), " ",
        h("span", { id: "explain-message" }, withCode(ex.message))),
      ex.details && Object.keys(ex.details).length
        ? definitionList("explain-details", Object.entries(ex.details).map(([k, v]) => [k, typeof v === "string" ? v : prettyJSON(v)]))
        : null);

    const runLink = job.run_id
      ? (feats.has("/runs/{id}") ? h("a", { href: "#/runs/" + encodeURIComponent(job.run_id), class: "mono" }, job.run_id) : h("span", { class: "mono" }, job.run_id))
      : null;
    const fields = definitionList("job-fields", [
      ["Queue", h("a", { href: hashFor("/jobs", { queue: job.queue }) }, job.queue), "queue"],
      ["Type", h("a", { href: hashFor("/jobs", { job_type: job.job_type }) }, job.job_type), "job_type"],
      ["Status", badge(job.status), "status"],
      ["Priority", String(job.priority), "priority"],
      ["Attempts", String(job.attempts) + (job.max_attempts ? " of " + job.max_attempts : ""), "attempts"],
      ["Timeout", job.timeout_seconds ? job.timeout_seconds + " s" : null, "timeout_seconds"],
      ["Run at", timeEl(job.run_at, true), "run_at"],
      ["Created", timeEl(job.created_at, true), "created_at"],
      ["Started", job.started_at ? timeEl(job.started_at, true) : null, "started_at"],
      ["Finished", job.finished_at ? timeEl(job.finished_at, true) : null, "finished_at"],
      ["Archived", job.archived_at ? timeEl(job.archived_at, true) : null, "archived_at"],
      ["Worker", job.worker_id ? code(job.worker_id) : null, "worker_id"],
      ["Lease expires", job.lease_expires_at ? timeEl(job.lease_expires_at, true) : null, "lease_expires_at"],
      ["Idempotency key", job.idempotency_key ? code(job.idempotency_key) : null, "idempotency_key"],
      ["Replay of", job.replay_of ? jobLink(job.replay_of) : null, "replay_of"],
      ["Workflow run", runLink, "run_id"],
      ["Step", job.step ? code(job.step) : null, "step"],
      ["Last error", job.last_error_code ? h("span", { class: "errcode" }, job.last_error_code) : null, "last_error_code"],
      ["Error message", job.last_error_message ? h("span", { class: "prewrap" }, job.last_error_message) : null, "last_error_message"],
      ["DLQ reason", job.dlq_reason_code ? h("span", { class: "errcode" }, job.dlq_reason_code) : null, "dlq_reason_code"],
      ["Tags", (job.tags || []).length ? h("span", { class: "tags" }, job.tags.map((t) => h("a", { class: "tag", href: hashFor("/jobs", { tag: t }) }, t))) : null, "tags"],
      ["Metadata", job.metadata && Object.keys(job.metadata).length ? h("code", { class: "prewrap" }, JSON.stringify(job.metadata)) : null, "metadata"],
      ["Progress", job.progress ? h("span", {}, progressBar(job.progress), h("code", { class: "prewrap" }, JSON.stringify(job.progress)),
        job.progress_at ? h("span", { class: "muted" }, " · ", timeEl(job.progress_at, true)) : null) : null, "progress"],
    ].filter((row) => row[1] !== null || ["queue", "job_type", "status", "attempts"].includes(row[2])));

    const known = new Set(["at", "type", "attempt", "worker_id", "error_code", "message"]);
    const events = tl.events || [];
    const timeline = table("timeline-table", [
      { label: "At", class: "nowrap", cell: (e) => h("time", { datetime: e.at, title: relTime(e.at) + " · " + e.at }, fmtTime(e.at, true)) },
      { label: "Event", cell: (e) => h("span", { class: "event ev-" + e.type }, e.type) },
      { label: "Attempt", class: "num", cell: (e) => e.attempt === undefined || e.attempt === null ? "" : String(e.attempt) },
      { label: "Worker", cell: (e) => e.worker_id ? code(e.worker_id) : "" },
      { label: "Error", cell: (e) => e.error_code ? h("span", { class: "errcode" }, e.error_code) : "" },
      { label: "Details", class: "details", cell: (e) => {
        const parts = [];
        if (e.message) parts.push(h("span", { class: "prewrap" }, e.message));
        for (const [k, v] of Object.entries(e)) {
          if (known.has(k) || v === null || v === undefined) continue;
          const val = typeof v === "string" && /job_id$|_of$|_as$/.test(k) ? jobLink(v) : code(typeof v === "string" ? v : JSON.stringify(v));
          parts.push(h("span", { class: "kv" }, k + ": ", val));
        }
        return parts;
      } },
    ], events, { caption: "Timeline", empty: "No events.", rowAttrs: (e) => ({ dataset: { event: e.type } }) });

    add(el, head, confirmBox,
      h("div", { class: "job-grid" },
        h("div", { class: "col" }, explain, h("div", { class: "card" }, h("h2", null, "Fields"), fields)),
        h("div", { class: "col" },
          h("div", { class: "card" }, h("h2", null, "Payload"), h("pre", { id: "job-payload", class: "json" }, prettyJSON(job.payload))),
          h("div", { class: "card" }, h("h2", null, "Output"),
            job.output === null || job.output === undefined
              ? h("p", { id: "job-output", class: "muted" }, "No output.")
              : h("pre", { id: "job-output", class: "json" }, prettyJSON(job.output))))),
      h("div", { class: "card" }, h("h2", null, "Timeline ", h("span", { class: "muted count" }, "(" + events.length + ")")), timeline));
  }

  // ---------------------------------------------------------------- DLQ

  async function viewDLQ(el, ctx) {
    el.id = "view-dlq";
    const queue = ctx.params.get("queue") || "";
    const reason = ctx.params.get("dlq_reason") || "";
    const offset = Math.max(0, parseInt(ctx.params.get("offset") || "0", 10) || 0);
    const queueIn = h("input", { id: "dlq-filter-queue", name: "queue", value: queue, pattern: NAME_PATTERN, placeholder: "any", autocomplete: "off", spellcheck: "false" });
    const reasonSel = h("select", { id: "dlq-filter-reason", name: "dlq_reason" }, h("option", { value: "" }, "any"),
      Object.entries(DLQ_REASONS).concat(reason && !DLQ_REASONS[reason] ? [[reason, reason]] : [])
        .map(([code, label]) => h("option", { value: code, selected: code === reason }, label)));
    const form = h("form", { class: "filters", id: "dlq-filters", role: "search", "aria-label": "Filter the DLQ" },
      filterField("dlq-filter-queue", "Queue", queueIn),
      filterField("dlq-filter-reason", "Reason", reasonSel),
      h("div", { class: "filter filter-buttons" },
        h("button", { type: "submit", id: "dlq-filter-apply", class: "primary" }, "Apply"),
        h("a", { href: "#/dlq", class: "button", id: "dlq-filter-clear" }, "Clear")));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); location.hash = hashFor("/dlq", { queue: queueIn.value.trim(), dlq_reason: reasonSel.value }); });
    reasonSel.addEventListener("change", () => form.requestSubmit());

    const q = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    if (queue) q.set("queue", queue);
    if (reason) q.set("dlq_reason", reason);
    const data = await api("GET", "/dlq?" + q.toString());
    if (!ctx.alive()) return;

    const retryAll = h("button", { type: "button", id: "dlq-retry-all", disabled: data.items.length === 0 }, "Retry all shown");
    const confirmBox = h("div", { id: "dlq-confirm", class: "confirm", hidden: true });
    retryAll.addEventListener("click", () => runAction(retryAll, async () => {
      const filter = { status: "dlq" };
      if (queue) filter.queue = queue;
      if (reason) filter.dlq_reason = reason;
      const dry = await api("POST", "/jobs/bulk/retry", { filter, dry_run: true, limit: 1000 });
      const n = dry.matched;
      const go = h("button", { type: "button", id: "dlq-confirm-yes", class: "primary" }, "Retry " + fmtNum(n) + (n === 1 ? " job" : " jobs"));
      const no = h("button", { type: "button", id: "dlq-confirm-no" }, "Keep them");
      confirmBox.replaceChildren(h("span", null, "Put " + fmtNum(n) + " dead-lettered " + (n === 1 ? "job" : "jobs") +
        (queue ? " of queue “" + queue + "”" : "") + (n >= 1000 ? " (at most 1,000 per click)" : "") + " back in the queue?"), go, no);
      confirmBox.hidden = false;
      no.addEventListener("click", () => { confirmBox.hidden = true; });
      go.addEventListener("click", () => runAction(go, async () => {
        const r = await api("POST", "/jobs/bulk/retry", { filter, dry_run: false, limit: 1000 });
        flash("ok", "Retried " + fmtNum(r.changed) + " of " + fmtNum(r.matched) + " matching " + (r.matched === 1 ? "job" : "jobs") + ".");
        rerender();
      }));
    }));

    const toHash = (o) => hashFor("/dlq", { queue, dlq_reason: reason, offset: o });
    add(el, viewHeader("Dead-letter queue", retryAll, h("button", { type: "button", id: "refresh", onclick: () => route() }, "Refresh")), form, confirmBox,
      pager(data.total, data.total_capped, offset, data.items.length, toHash),
      table("dlq-table", [
        { label: "ID", class: "id", cell: (j) => jobLink(j.id) },
        { label: "Queue", cell: (j) => j.queue },
        { label: "Type", cell: (j) => j.job_type },
        { label: "Attempts", class: "num", cell: (j) => String(j.attempts) },
        { label: "Reason", cell: (j) => j.dlq_reason_code ? h("span", { class: "badge reason r-" + String(j.dlq_reason_code).toLowerCase(), dataset: { reason: j.dlq_reason_code } }, DLQ_REASONS[j.dlq_reason_code] || j.dlq_reason_code) : "" },
        { label: "Error", cell: (j) => j.last_error_code ? h("span", { class: "errcode" }, j.last_error_code) : "" },
        { label: "Message", class: "msg", cell: (j) => h("span", { title: j.last_error_message || "" }, truncate(j.last_error_message, 90)) },
        { label: "Dead-lettered", cell: (j) => timeEl(j.finished_at) },
        { label: "Actions", class: "actions-cell", cell: (j) => dlqActions(j) },
      ], data.items, {
        caption: "Dead-lettered jobs",
        empty: queue ? "No dead-lettered jobs in this queue." : "The DLQ is empty.",
        rowAttrs: (j) => ({ dataset: { jobId: j.id, status: j.status, queue: j.queue } }),
        onRowClick: (j) => { location.hash = "#/jobs/" + encodeURIComponent(j.id); },
      }));
  }

  const DLQ_REASONS = { MAX_ATTEMPTS_EXCEEDED: "max attempts", NON_RETRYABLE: "not retryable", TIMEOUT: "timeout", BAD_PAYLOAD: "bad payload", UNKNOWN_JOB_TYPE: "unknown type", LEASE_EXPIRED: "lease expired" };

  function dlqActions(j) {
    const retry = h("button", { type: "button", class: "small", dataset: { action: "retry" }, "aria-label": "Retry job " + j.id }, "Retry");
    const replay = h("button", { type: "button", class: "small", dataset: { action: "replay" }, "aria-label": "Replay job " + j.id }, "Replay");
    retry.addEventListener("click", () => runAction(retry, async () => {
      const r = await api("POST", "/jobs/" + encodeURIComponent(j.id) + "/retry");
      flash("ok", "Job ", jobLink(r.id), " is ", badge(r.status), " again.");
      rerender();
    }));
    replay.addEventListener("click", () => runAction(replay, async () => {
      const r = await api("POST", "/jobs/" + encodeURIComponent(j.id) + "/replay");
      flash("ok", "Replayed ", jobLink(j.id), " as new job ", jobLink(r.job_id), ".");
    }));
    // Discarding a dead-lettered job is deleting it (a second click confirms).
    const discard = h("button", { type: "button", class: "small danger", dataset: { action: "discard" }, "aria-label": "Discard job " + j.id }, "Discard");
    discard.addEventListener("click", () => {
      if (discard.dataset.armed !== "true") { discard.dataset.armed = "true"; discard.textContent = "Discard?"; discard.closest("tr").dataset.hold = ""; return; }
      runAction(discard, async () => {
        await api("DELETE", "/jobs/" + encodeURIComponent(j.id));
        flash("ok", "Discarded job ", code(j.id), ".");
        rerender();
      });
    });
    return [retry, replay, discard];
  }

  // ---------------------------------------------------------------- queues

  async function viewQueues(el, ctx) {
    el.id = "view-queues";
    const [data, feats] = await Promise.all([api("GET", "/queues"), features()]);
    if (!ctx.alive()) return;
    const items = data.items;
    const hasPolicy = items.some((qq) => "paused" in qq || "max_running" in qq || "max_starts_per_second" in qq);
    const canPause = feats.has("/queues/{name}/pause") && feats.has("/queues/{name}/resume");
    const canPolicy = feats.has("/queues/{name}/policy");
    const canPurge = feats.has("/queues/{name}/purge");
    const enc = encodeURIComponent;
    const editor = h("div", { id: "queue-editor", hidden: true });

    const cols = [
      { label: "Queue", cell: (q) => h("a", { href: hashFor("/jobs", { queue: q.queue }), class: "strong" }, q.queue) },
      // counts_capped: a count stopped at its cap (10,000 rows read), so it is a lower bound.
      { label: "Runnable", class: "num", cell: (q) => q.runnable > 0 ? h("a", { href: hashFor("/jobs", { queue: q.queue, status: "queued" }) }, fmtNum(q.runnable) + (q.counts_capped ? "+" : "")) : "0" },
      { label: "Scheduled", class: "num", cell: (q) => fmtNum(q.scheduled) + (q.counts_capped && q.scheduled > 0 ? "+" : "") },
      { label: "Running", class: "num", cell: (q) => q.running > 0 ? h("a", { href: hashFor("/jobs", { queue: q.queue, status: "running" }) }, fmtNum(q.running)) : "0" },
      { label: "DLQ", class: "num", cell: (q) => q.dlq > 0 ? h("a", { href: hashFor("/dlq", { queue: q.queue }), class: "dlq-count" }, fmtNum(q.dlq) + (q.counts_capped ? "+" : "")) : "0" },
      { label: "Oldest runnable", class: "num", cell: (q) => h("span", { dataset: { rel: "" } }, fmtSeconds(q.oldest_runnable_age_seconds)) },
    ];
    if (hasPolicy) {
      cols.push(
        { label: "State", cell: (q) => q.paused ? badge("paused") : badge("active") },
        { label: "Max running", class: "num", cell: (q) => q.max_running === null || q.max_running === undefined ? "∞" : fmtNum(q.max_running) },
        { label: "Max starts/s", class: "num", cell: (q) => q.max_starts_per_second === null || q.max_starts_per_second === undefined ? "∞" : String(q.max_starts_per_second) });
    }
    if (canPause || canPolicy || canPurge) {
      cols.push({ label: "Actions", class: "actions-cell", cell: (q) => {
        const out = [];
        if (canPause) {
          const b = h("button", { type: "button", class: "small", dataset: { action: q.paused ? "resume" : "pause" } }, q.paused ? "Resume" : "Pause");
          b.addEventListener("click", () => runAction(b, async () => {
            await api("POST", "/queues/" + enc(q.queue) + "/" + (q.paused ? "resume" : "pause"), {});
            flash("ok", "Queue “" + q.queue + "” " + (q.paused ? "resumed." : "paused."));
            rerender();
          }));
          out.push(b);
        }
        if (canPolicy) {
          const b = h("button", { type: "button", class: "small", dataset: { action: "policy" } }, "Limits…");
          b.addEventListener("click", () => showPolicyEditor(editor, q));
          out.push(b);
        }
        if (canPurge) {
          const b = h("button", { type: "button", class: "small danger", dataset: { action: "purge" } }, "Purge…");
          b.addEventListener("click", () => showPurgeConfirm(editor, q));
          out.push(b);
        }
        return out;
      } });
    }
    const totals = items.reduce((t, q) => ({ runnable: t.runnable + q.runnable, scheduled: t.scheduled + q.scheduled, running: t.running + q.running, dlq: t.dlq + q.dlq }),
      { runnable: 0, scheduled: 0, running: 0, dlq: 0 });
    add(el, viewHeader("Queues", h("button", { type: "button", id: "refresh", onclick: () => route() }, "Refresh")),
      h("p", { class: "summary muted" }, fmtNum(items.length) + (items.length === 1 ? " queue · " : " queues · ") + fmtNum(totals.runnable) + " runnable · " +
        fmtNum(totals.scheduled) + " scheduled · " + fmtNum(totals.running) + " running · " + fmtNum(totals.dlq) + " in the DLQ"),
      editor,
      table("queues-table", cols, items, { caption: "Queues", empty: "No queues yet: enqueue a job.", rowAttrs: (q) => ({ dataset: { queue: q.queue, paused: "paused" in q ? String(!!q.paused) : null } }) }));
  }

  function showPolicyEditor(box, q) {
    const mr = h("input", { id: "policy-max-running", type: "number", min: "0", step: "1", value: q.max_running === null || q.max_running === undefined ? "" : q.max_running, placeholder: "no limit" });
    const ms = h("input", { id: "policy-max-starts", type: "number", min: "0", step: "any", value: q.max_starts_per_second === null || q.max_starts_per_second === undefined ? "" : q.max_starts_per_second, placeholder: "no limit" });
    const save = h("button", { type: "submit", class: "primary" }, "Save limits");
    const form = h("form", { class: "filters card", id: "policy-form" },
      h("strong", { class: "form-title" }, "Limits of “" + q.queue + "”"),
      filterField("policy-max-running", "Max running", mr),
      filterField("policy-max-starts", "Max starts per second", ms),
      h("div", { class: "filter filter-buttons" }, save, h("button", { type: "button", onclick: () => { box.hidden = true; } }, "Close")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      runAction(save, async () => {
        const body = {
          max_running: mr.value.trim() === "" ? null : parseInt(mr.value, 10),
          max_starts_per_second: ms.value.trim() === "" ? null : parseFloat(ms.value),
        };
        await api("POST", "/queues/" + encodeURIComponent(q.queue) + "/policy", body);
        flash("ok", "Limits of “" + q.queue + "” saved.");
        rerender();
      });
    });
    box.replaceChildren(form);
    box.hidden = false;
    mr.focus();
  }

  function showPurgeConfirm(box, q) {
    const n = q.runnable + q.scheduled;
    const go = h("button", { type: "button", class: "danger", id: "purge-confirm-yes" }, "Purge");
    box.replaceChildren(h("div", { class: "confirm" },
      h("span", null, "Delete the " + fmtNum(n) + " queued " + (n === 1 ? "job" : "jobs") + " (due or scheduled) of “" + q.queue + "”? Running and finished jobs stay."),
      go, h("button", { type: "button", onclick: () => { box.hidden = true; } }, "Keep them")));
    box.hidden = false;
    go.addEventListener("click", () => runAction(go, async () => {
      const r = await api("POST", "/queues/" + encodeURIComponent(q.queue) + "/purge", { dry_run: false });
      const count = r && (r.deleted ?? r.changed ?? r.matched);
      flash("ok", "Purged “" + q.queue + "”" + (count !== undefined && count !== null ? ": " + fmtNum(count) + " jobs deleted." : "."));
      rerender();
    }));
  }

  // ---------------------------------------------------------------- workers

  /** Does a worker take jobs from this queue? (null queues = every queue) */
  function serves(w, queue) { return w.queues === null || w.queues === undefined || w.queues.includes(queue); }

  async function viewWorkers(el, ctx) {
    el.id = "view-workers";
    // Running jobs name their worker: the busy table joins the two (at most 1,000 running jobs shown).
    const [data, running, queues] = await Promise.all([
      api("GET", "/workers"), api("GET", "/jobs?status=running&limit=1000"), api("GET", "/queues?limit=1000"),
    ]);
    if (!ctx.alive()) return;
    const list = (v) => v === null || v === undefined ? h("span", { class: "muted" }, "all") : (v.length ? v.join(", ") : h("span", { class: "muted" }, "none"));
    const alive = data.items.filter((w) => w.alive);
    const byWorker = new Map();
    for (const j of running.items) { if (j.worker_id) (byWorker.get(j.worker_id) || byWorker.set(j.worker_id, []).get(j.worker_id)).push(j); }
    const unserved = queues.items.filter((q) => q.runnable > 0 && !alive.some((w) => serves(w, q.queue)));
    const warning = unserved.length === 0 ? null
      : h("div", { class: "warn-box", id: "unserved-queues", role: "status" },
        h("strong", null, "No live worker serves " + (unserved.length === 1 ? "this queue" : "these queues") + ": "),
        unserved.map((q, i) => [i ? ", " : "", h("a", { href: hashFor("/jobs", { queue: q.queue, status: "queued" }), dataset: { queue: q.queue } }, q.queue),
          " (" + fmtNum(q.runnable) + (q.counts_capped ? "+" : "") + " runnable)"]),
        ". Their jobs wait until a worker with ", code("--queues"), " including them starts.");
    add(el, viewHeader("Workers", h("button", { type: "button", id: "refresh", onclick: () => route() }, "Refresh")),
      h("p", { class: "summary muted" }, fmtNum(alive.length) + " alive, " + fmtNum(data.items.length - alive.length) + " gone (no heartbeat for three leases) · " +
        fmtNum(running.total) + (running.total_capped ? "+" : "") + " running " + (running.total === 1 ? "job" : "jobs")),
      warning,
      h("h2", null, "Busy ", h("span", { class: "muted count" }, "(" + fmtNum(running.items.length) + ")")),
      table("busy-table", [
        { label: "Worker", cell: (j) => code(j.worker_id || dash) },
        { label: "Job", class: "id", cell: (j) => jobLink(j.id) },
        { label: "Type", cell: (j) => j.job_type },
        { label: "Queue", cell: (j) => j.queue },
        { label: "Started", cell: (j) => timeEl(j.started_at) },
        { label: "Attempt", class: "num", cell: (j) => String(j.attempts) + (j.max_attempts ? " / " + j.max_attempts : "") },
        { label: "Payload", class: "msg", cell: payloadCell },
      ], running.items, {
        caption: "Jobs running now", empty: "No job is running.",
        rowAttrs: (j) => ({ dataset: { jobId: j.id, workerId: j.worker_id, status: j.status, queue: j.queue } }),
        onRowClick: (j) => { location.hash = "#/jobs/" + encodeURIComponent(j.id); },
      }),
      h("h2", null, "Workers"),
      table("workers-table", [
        { label: "Worker", cell: (w) => code(w.id) },
        { label: "State", cell: (w) => badge(w.alive ? "alive" : "gone") },
        { label: "Running", class: "num", cell: (w) => fmtNum((byWorker.get(w.id) || []).length) + " / " + fmtNum(w.concurrency) },
        { label: "Host", cell: (w) => w.host },
        { label: "PID", class: "num", cell: (w) => String(w.pid) },
        { label: "Queues", cell: (w) => list(w.queues) },
        { label: "Job types", cell: (w) => list(w.job_types) },
        { label: "Lease", class: "num", cell: (w) => fmtSeconds(w.lease_seconds) },
        { label: "Started", cell: (w) => timeEl(w.started_at) },
        { label: "Last heartbeat", cell: (w) => timeEl(w.last_heartbeat_at) },
      ], data.items, { caption: "Workers", empty: "No worker has registered yet.", rowAttrs: (w) => ({ dataset: { workerId: w.id, alive: String(w.alive), running: (byWorker.get(w.id) || []).length } }) }));
  }

  // ---------------------------------------------------------------- metrics

  const metricsHistory = []; // {t, jobs, attempts}, kept across visits of the page

  const METRIC_CARDS = [
    ["jobs_per_sec", "Jobs / s", (m) => fmtRate(m.jobs_per_sec)],
    ["attempts_per_sec", "Attempts / s", (m) => fmtRate(m.attempts_per_sec)],
    ["retry_rate", "Retry rate", (m) => fmtPct(m.retry_rate)],
    ["runnable_queue_depth", "Runnable", (m) => fmtNum(m.runnable_queue_depth)],
    ["scheduled", "Scheduled", (m) => fmtNum(m.scheduled)],
    ["running", "Running", (m) => fmtNum(m.running)],
    ["dlq_size", "In DLQ", (m) => fmtNum(m.dlq_size)],
    ["oldest_runnable_age_seconds", "Oldest runnable", (m) => fmtSeconds(m.oldest_runnable_age_seconds)],
    ["start_latency_ms", "Start latency p50 / p95 / p99", (m) => pcts(m.start_latency_ms)],
    ["run_time_ms", "Run time p50 / p95 / p99", (m) => pcts(m.run_time_ms)],
  ];
  function pcts(p) { return p ? [p.p50, p.p95, p.p99].map(fmtMs).join(" / ") : dash; }

  async function viewMetrics(el, ctx) {
    el.id = "view-metrics";
    const cards = h("div", { class: "cards", id: "metrics-cards" });
    const valueEls = {};
    for (const [key, label] of METRIC_CARDS) {
      valueEls[key] = h("div", { class: "card-value" }, dash);
      cards.append(h("div", { class: "card metric" + (key.endsWith("_ms") ? " wide" : ""), dataset: { metric: key } }, h("div", { class: "card-label" }, label), valueEls[key]));
    }
    const canvas = h("canvas", { id: "metrics-chart", role: "img", "aria-label": "Throughput over the last minutes (jobs and attempts per second)" });
    const chartText = h("span", { class: "sr-only", id: "metrics-chart-text" });
    const status = h("span", { id: "metrics-updated", class: "muted" }, "");
    const queueBox = h("div", { id: "metrics-queues-box" });
    const historyBox = h("div", { id: "metrics-history" }, h("p", { class: "muted" }, "Loading totals…"));
    add(el, viewHeader("Metrics", status), cards,
      h("div", { class: "card chart-card" },
        h("div", { class: "chart-head" }, h("h2", null, "Throughput"),
          h("span", { class: "legend" }, h("span", { class: "swatch s-jobs" }), "jobs / s ", h("span", { class: "swatch s-attempts" }), "attempts / s")),
        canvas, chartText),
      h("h2", null, "Per queue"), queueBox,
      h("h2", null, "Totals"), historyBox);

    // Totals come from the database (rolled up by the maintenance pass), so they survive a
    // reload; they change at most once a pass, so they are read once a minute.
    let history = null;
    let historyAt = 0;
    const drawHistory = () => { if (history) renderHistory(historyBox, history); };
    const loadHistory = async () => {
      historyAt = Date.now();
      try {
        history = await api("GET", "/metrics/history?days=" + HISTORY_DAYS);
      } catch (e) {
        if (!history) historyBox.replaceChildren(h("p", { class: "error-text" }, "Totals unavailable: " + (e.message || e.code)));
        return;
      }
      if (!stopped && ctx.alive()) drawHistory();
    };
    const draw = () => { drawChart(canvas, metricsHistory); drawHistory(); };
    let stopped = false;
    let ticks = 0;
    const tick = async () => {
      let m;
      try {
        m = await api("GET", "/metrics");
      } catch (e) {
        if (stopped) return null;
        if (ticks === 0) throw e;
        status.textContent = "Refresh failed: " + (e.message || e.code) + " — retrying";
        status.className = "error-text";
        return e;
      }
      if (stopped || !ctx.alive()) return;
      ticks++;
      metricsHistory.push({ t: Date.now(), jobs: m.jobs_per_sec || 0, attempts: m.attempts_per_sec || 0 });
      while (metricsHistory.length && metricsHistory[0].t < Date.now() - CHART_WINDOW_MS - 10000) metricsHistory.shift();
      for (const [key, , fmt] of METRIC_CARDS) valueEls[key].textContent = fmt(m);
      status.className = "muted";
      status.textContent = "Last " + m.window_seconds + " s · updated " + fmtTime(m.at);
      chartText.textContent = "Latest: " + fmtRate(m.jobs_per_sec) + " jobs per second.";
      el.dataset.samples = String(ticks);
      queueBox.replaceChildren(table("metrics-queues", [
        { label: "Queue", cell: (q) => h("a", { href: hashFor("/jobs", { queue: q.queue }) }, q.queue) },
        { label: "Jobs / s", class: "num", cell: (q) => fmtRate(q.jobs_per_sec) },
        { label: "Attempts / s", class: "num", cell: (q) => fmtRate(q.attempts_per_sec) },
        { label: "Retry rate", class: "num", cell: (q) => fmtPct(q.retry_rate) },
        { label: "Runnable", class: "num", cell: (q) => fmtNum(q.runnable_queue_depth) },
        { label: "Scheduled", class: "num", cell: (q) => fmtNum(q.scheduled) },
        { label: "Running", class: "num", cell: (q) => fmtNum(q.running) },
        { label: "DLQ", class: "num", cell: (q) => fmtNum(q.dlq_size) },
        { label: "Oldest runnable", class: "num", cell: (q) => fmtSeconds(q.oldest_runnable_age_seconds) },
        { label: "Start p50/p95/p99", class: "num", cell: (q) => pcts(q.start_latency_ms) },
        { label: "Run p50/p95/p99", class: "num", cell: (q) => pcts(q.run_time_ms) },
      ], m.queues || [], { caption: "Metrics per queue", empty: "No queue has jobs.", rowAttrs: (q) => ({ dataset: { queue: q.queue } }) }));
      drawChart(canvas, metricsHistory);
      if (Date.now() - historyAt >= HISTORY_INTERVAL_MS) await loadHistory();
    };
    ctx.onDispose(() => { stopped = true; window.removeEventListener("resize", draw); });
    window.addEventListener("resize", draw);
    await tick();
    // Later samples come from the live loop (paused with it), every METRICS_INTERVAL_MS.
    ctx.liveInterval = METRICS_INTERVAL_MS;
    ctx.liveRefresh = async () => { const failed = await tick(); if (failed) throw failed; };
  }

  const HISTORY_DAYS = 14;
  const HISTORY_INTERVAL_MS = 60000;
  // The same colours as the .sc<i> swatches in app.css (the CSP allows no inline styles).
  const SERIES_COLORS = ["#2563eb", "#9333ea", "#059669", "#d97706", "#dc2626", "#0891b2", "#4d7c0f", "#be185d"];

  /** The totals section: per-queue throughput per hour (last 48 h) and counts per queue and day. */
  function renderHistory(box, data) {
    const hourly = data.hourly || [];
    const byQueue = new Map();
    for (const r of hourly) {
      const m = byQueue.get(r.queue) || new Map();
      m.set(new Date(r.hour).getTime(), r.processed);
      byQueue.set(r.queue, m);
    }
    // The busiest queues get a line each (colours stay readable); the table lists every queue.
    const queues = [...byQueue.entries()]
      .map(([q, m]) => [q, [...m.values()].reduce((a, b) => a + b, 0)])
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, SERIES_COLORS.length).map(([q]) => q);
    const legend = h("span", { class: "legend", id: "history-legend" },
      queues.map((q, i) => [h("span", { class: "swatch sc" + i }), q, " "]));
    const through = data.through
      ? h("p", { class: "muted", id: "history-through" }, "Jobs that ended (succeeded or dead-lettered), counted by the maintenance pass through ",
          timeEl(data.through, true), ". Kept after the jobs are archived and deleted.")
      : h("p", { class: "muted", id: "history-through" }, "Nothing counted yet: the maintenance pass (any worker, or portableq maintain --once) writes these totals.");
    const chartWrap = h("div", { class: "history-chart-wrap" });
    // Newest day first; queues by name within a day.
    const days = (data.daily || []).slice().sort((a, b) => (a.day === b.day ? (a.queue < b.queue ? -1 : 1) : a.day < b.day ? 1 : -1));
    box.replaceChildren();
    add(box,
      h("div", { class: "card chart-card" },
        h("div", { class: "chart-head" }, h("h2", null, "Throughput per queue, last 48 h"), legend),
        chartWrap),
      through,
      table("totals-daily", [
        { label: "Day (UTC)", cell: (r) => r.day },
        { label: "Queue", cell: (r) => h("a", { href: hashFor("/jobs", { queue: r.queue }) }, r.queue) },
        { label: "Processed", class: "num", cell: (r) => fmtNum(r.processed) },
        { label: "Succeeded", class: "num", cell: (r) => fmtNum(r.succeeded) },
        { label: "Failed", class: "num", cell: (r) => fmtNum(r.failed) },
        { label: "Retried", class: "num", cell: (r) => fmtNum(r.retried) },
      ], days, { caption: "Jobs per queue and day", empty: "No totals yet.", rowAttrs: (r) => ({ dataset: { day: r.day, queue: r.queue } }) }),
      data.truncated ? h("p", { class: "muted" }, "Only part of the history is shown (too many queues).") : null);
    chartWrap.append(historyChart(byQueue, queues, data.through, chartWrap.clientWidth || box.clientWidth || 600));
  }

  /** An SVG line chart of jobs per hour, one line per queue, with a labelled Y scale. */
  function historyChart(byQueue, queues, through, width) {
    const W = Math.max(280, Math.round(width)), H = 240;
    const padL = 52, padR = 12, padT = 26, padB = 28;
    const w = W - padL - padR, hh = H - padT - padB;
    const HOUR = 3600000;
    const end = Math.floor((through ? new Date(through).getTime() : Date.now()) / HOUR) * HOUR;
    const start = end - 47 * HOUR;
    let max = 0;
    for (const q of queues) for (const [t, v] of byQueue.get(q)) if (t >= start) max = Math.max(max, v);
    const step = niceStep(Math.max(1, max * 1.05));
    const top = step * 4;
    const x = (t) => padL + ((t - start) / (end - start)) * w;
    const y = (v) => padT + hh - (v / top) * hh;
    const svg = s("svg", { id: "history-chart", class: "history-chart", viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img",
      "aria-label": "Jobs per hour per queue over the last 48 hours; Y axis in jobs per hour, up to " + fmtTick(top) });
    const axis = s("g", { class: "y-axis" });
    for (let i = 0; i <= 4; i++) {
      const v = step * i, yy = Math.round(y(v)) + 0.5;
      axis.append(s("line", { class: "grid-line", x1: padL, x2: padL + w, y1: yy, y2: yy }),
        s("text", { class: "y-tick", x: padL - 6, y: yy, "text-anchor": "end", "dominant-baseline": "middle", dataset: { value: v } }, fmtTick(v)));
    }
    axis.append(s("text", { class: "y-unit", x: 4, y: 12, "dominant-baseline": "middle" }, "jobs / h"));
    svg.append(axis);
    const xAxis = s("g", { class: "x-axis" });
    for (let t = end; t >= start; t -= 12 * HOUR) {
      const d = new Date(t);
      const label = t === end ? "now" : pad2(d.getHours()) + ":00" + (d.getHours() === 0 || t === start ? " " + (d.getMonth() + 1) + "/" + d.getDate() : "");
      xAxis.append(s("text", { class: "x-tick", x: Math.min(Math.max(x(t), padL + 16), padL + w - 14), y: padT + hh + 18, "text-anchor": "middle" }, label));
    }
    svg.append(xAxis);
    queues.forEach((q, i) => {
      const m = byQueue.get(q);
      const pts = [];
      for (let t = start; t <= end; t += HOUR) pts.push([t, m.get(t) || 0]);
      svg.append(s("polyline", { class: "series", dataset: { queue: q }, fill: "none", stroke: SERIES_COLORS[i], "stroke-width": 2,
        "stroke-linejoin": "round", points: pts.map(([t, v]) => x(t).toFixed(1) + "," + y(v).toFixed(1)).join(" ") },
        s("title", null, q + ": " + numberFormat.format(pts.reduce((a, [, v]) => a + v, 0)) + " jobs in 48 h")));
    });
    if (queues.length === 0) {
      svg.append(s("text", { class: "x-tick", x: padL + w / 2, y: padT + hh / 2, "text-anchor": "middle" }, "no jobs ended in the last 48 h"));
    }
    return svg;
  }

  function cssVar(name, fallback) {
    const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }

  /** A round step so that 4 steps cover v (0.05, 0.1, 0.2, 0.5, 1, 2, 5, ...). */
  function niceStep(v) {
    const raw = Math.max(v, 1e-9) / 4;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }
  function fmtTick(v) { return v >= 1000 ? numberFormat.format(Math.round(v)) : String(Math.round(v * 1000) / 1000); }
  // The chart's time window grows with the data it has: 1, 2, then 5 minutes (then it scrolls).
  const CHART_WINDOWS = [[60000, 10000], [120000, 30000], [CHART_WINDOW_MS, 60000]];
  function fmtAgo(ms) { return ms === 0 ? "now" : ms < 60000 ? "−" + ms / 1000 + " s" : "−" + ms / 60000 + " min"; }

  /** Draws jobs/s and attempts/s over the last five minutes on the canvas, by hand. */
  function drawChart(canvas, points) {
    if (!canvas.isConnected) return;
    const dpr = window.devicePixelRatio || 1;
    const cssW = Math.max(200, canvas.clientWidth || canvas.parentElement.clientWidth || 600);
    const cssH = 220;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
      canvas.style.height = cssH + "px";
    }
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cssW, cssH);
    const font = "11px " + getComputedStyle(document.body).fontFamily;
    const fg = cssVar("--muted", "#667");
    const grid = cssVar("--grid", "#e3e6ec");
    const cJobs = cssVar("--accent", "#2563eb");
    const cAttempts = cssVar("--chart2", "#9333ea");
    const padL = 44, padR = 12, padT = 10, padB = 24;
    const w = cssW - padL - padR, hh = cssH - padT - padB;
    const now = Date.now();
    const span = points.length ? now - points[0].t : 0;
    const [windowMs, tickMs] = CHART_WINDOWS.find(([wms]) => wms >= span) || CHART_WINDOWS[CHART_WINDOWS.length - 1];
    const t0 = now - windowMs;
    const visible = points.filter((p) => p.t >= t0 - 5000);
    const step = niceStep(Math.max(0, ...visible.map((p) => Math.max(p.jobs, p.attempts))) * 1.05);
    const maxV = step * 4;
    const x = (t) => padL + ((t - t0) / windowMs) * w;
    const y = (v) => padT + hh - (v / maxV) * hh;

    g.font = font;
    g.lineWidth = 1;
    g.textBaseline = "middle";
    g.textAlign = "right";
    for (let i = 0; i <= 4; i++) {
      const v = (maxV / 4) * i;
      const yy = Math.round(y(v)) + 0.5;
      g.strokeStyle = grid;
      g.beginPath(); g.moveTo(padL, yy); g.lineTo(padL + w, yy); g.stroke();
      g.fillStyle = fg;
      g.fillText(fmtTick(v), padL - 6, yy);
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    for (let ago = windowMs; ago >= 0; ago -= tickMs) {
      const xx = x(now - ago);
      g.fillStyle = fg;
      g.fillText(fmtAgo(ago), Math.min(Math.max(xx, padL + 14), padL + w - 12), padT + hh + 6);
    }
    if (visible.length === 0) {
      g.textBaseline = "middle";
      g.fillText("waiting for data…", padL + w / 2, padT + hh / 2);
      return;
    }
    g.save();
    g.beginPath(); g.rect(padL, padT - 2, w, hh + 4); g.clip();
    // area + line for jobs/s
    g.beginPath();
    visible.forEach((p, i) => { if (i === 0) g.moveTo(x(p.t), y(p.jobs)); else g.lineTo(x(p.t), y(p.jobs)); });
    const last = visible[visible.length - 1];
    g.lineTo(x(last.t), y(0)); g.lineTo(x(visible[0].t), y(0)); g.closePath();
    g.globalAlpha = 0.12; g.fillStyle = cJobs; g.fill(); g.globalAlpha = 1;
    const line = (key, color, dashed) => {
      g.beginPath();
      g.setLineDash(dashed ? [4, 3] : []);
      g.strokeStyle = color; g.lineWidth = 2; g.lineJoin = "round";
      visible.forEach((p, i) => { if (i === 0) g.moveTo(x(p.t), y(p[key])); else g.lineTo(x(p.t), y(p[key])); });
      g.stroke();
      g.setLineDash([]);
    };
    line("attempts", cAttempts, true);
    line("jobs", cJobs, false);
    g.fillStyle = cJobs;
    g.beginPath(); g.arc(x(last.t), y(last.jobs), 3, 0, Math.PI * 2); g.fill();
    g.restore();
  }

  // ---------------------------------------------------------------- decisions

  async function viewDecisions(el, ctx) {
    el.id = "view-decisions";
    const [ingest, policy] = await Promise.all([api("GET", "/ingest/decisions?limit=100"), api("GET", "/policy/decisions?limit=100")]);
    if (!ctx.alive()) return;
    const cols = [
      { label: "Minute", cell: (d) => h("time", { datetime: d.minute, title: d.minute }, fmtTime(d.minute)) },
      { label: "Queue", cell: (d) => d.queue },
      { label: "Reason", cell: (d) => h("span", { class: "errcode" }, d.reason_code) },
      { label: "Count", class: "num", cell: (d) => fmtNum(d.count) },
      { label: "Last message", class: "msg", cell: (d) => d.last_message ? h("span", { title: d.last_message }, truncate(d.last_message, 120)) : "" },
    ];
    const count = (p) => "(" + (p.total_capped ? fmtNum(p.total) + "+" : fmtNum(p.total)) + ")";
    add(el, viewHeader("Decisions", h("button", { type: "button", id: "refresh", onclick: () => route() }, "Refresh")),
      h("p", { class: "muted" }, "What the guardrails refused or held back, per queue, reason and minute (newest first)."),
      h("h2", null, "Ingest: refused enqueues ", h("span", { class: "muted count" }, count(ingest))),
      table("ingest-decisions", cols, ingest.items, { caption: "Ingest decisions", empty: "No enqueue has been refused.", rowAttrs: (d) => ({ dataset: { queue: d.queue, reason: d.reason_code } }) }),
      h("h2", null, "Policy: throttled starts ", h("span", { class: "muted count" }, count(policy))),
      table("policy-decisions", cols, policy.items, { caption: "Policy decisions", empty: "No start has been throttled.", rowAttrs: (d) => ({ dataset: { queue: d.queue, reason: d.reason_code } }) }));
  }

  // ---------------------------------------------------------------- schedules, flows, runs (served by later versions)

  function genericCell(v) {
    if (v === null || v === undefined) return h("span", { class: "muted" }, dash);
    if (typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v)) return timeEl(v, true);
    if (typeof v === "object") return code(truncate(JSON.stringify(v), 120));
    return String(v);
  }
  function genericColumns(items, preferred) {
    const keys = [];
    for (const k of preferred) if (items.some((it) => k in it)) keys.push(k);
    for (const it of items) for (const k of Object.keys(it)) if (!keys.includes(k)) keys.push(k);
    return keys.slice(0, 10).map((k) => ({ label: k.replace(/_/g, " "), cell: (it) => genericCell(it[k]) }));
  }

  async function viewSchedules(el, ctx) {
    el.id = "view-schedules";
    const [data, feats] = await Promise.all([api("GET", "/schedules"), features()]);
    if (!ctx.alive()) return;
    const items = data.items || [];
    const canDelete = feats.has("/schedules/{name}");
    const canRun = feats.has("/schedules/{name}/run");
    const confirmBox = h("div", { id: "schedule-confirm", class: "confirm", hidden: true });
    const panel = h("div", { id: "schedules-panel", dataset: { hold: "" }, hidden: true });
    const cols = [
      { label: "Name", cell: (it) => h("strong", null, it.name) },
      { label: "Cron", cell: (it) => code(it.cron) },
      { label: "Queue", cell: (it) => h("a", { href: hashFor("/jobs", { queue: it.queue }) }, it.queue) },
      { label: "Job type", cell: (it) => it.job_type },
      { label: "Payload", class: "msg", cell: (it) => it.payload === null || it.payload === undefined ? h("span", { class: "muted" }, "null") : code(truncate(JSON.stringify(it.payload), 80)) },
      { label: "Priority", class: "num", cell: (it) => String(it.priority ?? 0) },
      { label: "Last slot", cell: (it) => timeEl(it.last_slot_at) },
      { label: "Next slot", cell: (it) => timeEl(it.next_slot_at) },
    ];
    if (canDelete || canRun) {
      cols.push({ label: "Actions", class: "actions-cell", cell: (it) => {
        const run = canRun ? h("button", { type: "button", class: "small", dataset: { action: "run" }, "aria-label": "Run schedule " + it.name + " now" }, "Run now") : null;
        if (run) {
          run.addEventListener("click", () => runAction(run, async () => {
            const r = await api("POST", "/schedules/" + encodeURIComponent(it.name) + "/run", {});
            flash("ok", "Enqueued job ", jobLink(r.job_id), " from “" + it.name + "”.");
          }));
        }
        if (!canDelete) return run;
        const b = h("button", { type: "button", class: "small danger", dataset: { action: "delete" }, "aria-label": "Remove schedule " + it.name }, "Remove…");
        b.addEventListener("click", () => {
          const go = h("button", { type: "button", class: "danger", id: "schedule-confirm-yes" }, "Remove");
          const no = h("button", { type: "button" }, "Keep it");
          confirmBox.replaceChildren(h("span", null, "Remove the schedule “" + it.name + "”? Jobs it already enqueued stay."), go, no);
          confirmBox.hidden = false;
          no.addEventListener("click", () => { confirmBox.hidden = true; });
          go.addEventListener("click", () => runAction(go, async () => {
            await api("DELETE", "/schedules/" + encodeURIComponent(it.name));
            flash("ok", "Schedule “" + it.name + "” removed.");
            rerender();
          }));
        });
        return [run, b];
      } });
    }
    const addBtn = h("button", { type: "button", id: "btn-add-schedule", class: "primary", onclick: () => showScheduleForm(panel) }, "Add schedule…");
    add(el, viewHeader("Schedules", addBtn, h("button", { type: "button", id: "refresh", onclick: () => route() }, "Refresh")),
      h("p", { class: "summary muted" }, "Recurring jobs: each due slot is enqueued once (idempotency key cron:<name>:<slot>). Add one here or with ", code("portableq schedules add NAME --cron … TYPE"), "."),
      panel, confirmBox,
      table("schedules-table", cols, items, { caption: "Schedules", empty: "No schedules yet.", rowAttrs: (it) => ({ dataset: { name: it.name } }) }));
  }

  function showScheduleForm(box) {
    const name = textField("schedule-name", "Name", "", { pattern: NAME_PATTERN, required: true });
    const cron = textField("schedule-cron", "Cron (5 fields, UTC)", "", { placeholder: "*/5 * * * *", required: true });
    const type = textField("schedule-type", "Job type", "", { pattern: NAME_PATTERN, required: true });
    const queue = textField("schedule-queue", "Queue", "default", { pattern: NAME_PATTERN });
    const payload = jsonInput("schedule-payload", "Payload (JSON)", "{}");
    actionForm("schedule-form", "Add a schedule", [name.node, cron.node, type.node, queue.node, payload.node], "Add", async () => {
      const p = payload.read();
      if (!p.ok) { payload.area.focus(); throw new ApiError(0, "INVALID_JSON", "the payload is " + p.error); }
      const r = await api("POST", "/schedules", { name: name.input.value.trim(), cron: cron.input.value.trim(), job_type: type.input.value.trim(),
        queue: queue.input.value.trim() || "default", payload_json: p.value });
      flash("ok", "Schedule “" + r.name + "” added; next slot " + fmtTime(r.next_slot_at) + ".");
      box.hidden = true;
      rerender();
    }, box);
  }

  function showRunForm(box, slug) {
    const input = jsonInput("run-input-json", "Input (JSON)", "{}");
    actionForm("run-form", "Start a run of “" + slug + "”", [input.node], "Start run", async () => {
      const p = input.read();
      if (!p.ok) { input.area.focus(); throw new ApiError(0, "INVALID_JSON", "the input is " + p.error); }
      const r = await api("POST", "/flows/" + encodeURIComponent(slug) + "/runs", { input: p.value });
      flash("ok", "Started run ", h("a", { href: "#/runs/" + encodeURIComponent(r.id), class: "mono" }, r.id), " of “" + slug + "”.");
      box.hidden = true;
      navigate("#/runs/" + encodeURIComponent(r.id));
    }, box);
  }

  async function viewFlows(el, ctx) {
    el.id = "view-flows";
    const flow = ctx.params.get("flow") || "";
    const offset = Math.max(0, parseInt(ctx.params.get("offset") || "0", 10) || 0);
    const runIn = h("input", { id: "run-id", name: "run", placeholder: "run id", autocomplete: "off", spellcheck: "false" });
    const form = h("form", { class: "filters", id: "run-open" }, filterField("run-id", "Open a run by id", runIn),
      h("div", { class: "filter filter-buttons" }, h("button", { type: "submit", class: "primary" }, "Open")));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); if (runIn.value.trim()) location.hash = "#/runs/" + encodeURIComponent(runIn.value.trim()); });
    add(el, viewHeader("Flows", h("button", { type: "button", id: "refresh", onclick: () => route() }, "Refresh")));

    const feats = await features();
    const q = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    if (flow) q.set("flow", flow);
    const [flows, runs] = await Promise.all([
      api("GET", "/flows"),
      feats.has("/runs") ? api("GET", "/runs?" + q.toString()) : Promise.resolve(null),
    ]);
    if (!ctx.alive()) return;
    const stepList = (f) => (f.steps || []).map((st) => stepName(st) + (stepDeps(st).length ? " ← " + stepDeps(st).join(", ") : "")).join(" · ");
    const panel = h("div", { id: "flows-panel", dataset: { hold: "" }, hidden: true });
    const canStart = feats.has("/flows/{slug}/runs");
    const flowCols = [
        { label: "Flow", cell: (f) => h("a", { href: hashFor("/flows", { flow: f.slug }), class: "strong" }, f.slug) },
        { label: "Version", class: "num", cell: (f) => String(f.version ?? "") },
        { label: "Steps", class: "msg", cell: (f) => h("span", { title: stepList(f) }, fmtNum((f.steps || []).length) + ": " + truncate(stepList(f), 110)) },
        { label: "Defined", cell: (f) => timeEl(f.created_at) },
    ];
    if (canStart) {
      flowCols.push({ label: "Actions", class: "actions-cell", cell: (f) =>
        h("button", { type: "button", class: "small", dataset: { action: "start" }, "aria-label": "Start a run of " + f.slug, onclick: () => showRunForm(panel, f.slug) }, "Start run…") });
    }
    add(el, panel,
      table("flows-table", flowCols, flows.items || [], { caption: "Flows", empty: "No flows defined yet: portableq flows define FILE.json", rowAttrs: (f) => ({ dataset: { slug: f.slug } }) }));
    if (!runs) { add(el, form); return; }
    form.classList.add("inline");
    const toHash = (o) => hashFor("/flows", { flow, offset: o });
    add(el,
      h("div", { class: "view-head runs-head" }, h("h2", null, "Runs" + (flow ? " of “" + flow + "”" : "")),
        h("div", { class: "view-head-extra" }, flow ? h("a", { href: "#/flows", class: "button", id: "runs-all" }, "All flows") : null, form)),
      pager(runs.total, runs.total_capped, offset, runs.items.length, toHash, "runs"),
      table("runs-table", [
        { label: "Run", class: "id", cell: (r) => h("a", { href: "#/runs/" + encodeURIComponent(r.id), class: "mono" }, r.id) },
        { label: "Flow", cell: (r) => r.flow },
        { label: "Version", class: "num", cell: (r) => String(r.version ?? "") },
        { label: "Status", cell: (r) => badge(r.status) },
        { label: "Failed step", cell: (r) => r.failed_step ? code(r.failed_step) : "" },
        { label: "Started", cell: (r) => timeEl(r.created_at) },
        { label: "Finished", cell: (r) => timeEl(r.finished_at) },
      ], runs.items, {
        caption: "Runs", empty: "No runs yet.",
        rowAttrs: (r) => ({ dataset: { runId: r.id, status: r.status } }),
        onRowClick: (r) => { location.hash = "#/runs/" + encodeURIComponent(r.id); },
      }));
  }

  function stepName(st) { return String(st.slug ?? st.step ?? st.name ?? st.id ?? "?"); }
  function stepState(st) { return String(st.status ?? st.state ?? "waiting"); }
  /** The colour of a step: its own state, or "running" while its job runs. */
  function stepColour(st) { return st.job_status === "running" ? "running" : stepState(st); }
  function stepDeps(st) { return Array.isArray(st.depends_on) ? st.depends_on.map(String) : []; }

  async function viewRun(el, ctx, id) {
    el.id = "view-run";
    el.dataset.runId = id;
    const [run, feats] = await Promise.all([api("GET", "/runs/" + encodeURIComponent(id)), features()]);
    if (!ctx.alive()) return;
    const steps = Array.isArray(run.steps) ? run.steps
      : run.steps && typeof run.steps === "object" ? Object.entries(run.steps).map(([k, v]) => Object.assign({ slug: k }, v)) : [];
    const actions = [h("button", { type: "button", id: "refresh", onclick: () => route() }, "Refresh")];
    if (feats.has("/runs/{id}/cancel")) {
      const cancel = h("button", { type: "button", id: "btn-cancel-run", class: "danger", disabled: run.status !== "running" }, "Cancel run");
      cancel.addEventListener("click", () => runAction(cancel, async () => {
        const r = await api("POST", "/runs/" + encodeURIComponent(id) + "/cancel");
        flash("ok", "Run ", code(r.id || id), " is ", badge(r.status || "cancelled"), ".");
        rerender();
      }));
      actions.unshift(cancel);
    }
    const flowName = run.flow || run.flow_slug || run.slug;
    add(el,
      h("div", { class: "view-head" },
        h("div", null, h("a", { href: "#/flows", class: "back" }, "← Flows"),
          h("h1", null, "Run ", h("span", { class: "mono", id: "run-id-title" }, run.id || id), " ", run.status ? badge(run.status, "big") : null)),
        h("div", { class: "actions" }, actions)),
      h("div", { class: "card" }, definitionList("run-fields", [
        ["Flow", flowName ? h("a", { href: hashFor("/flows", { flow: flowName }) }, String(flowName)) : null],
        ["Version", run.version !== undefined ? String(run.version) : null],
        ["Started", run.created_at ? timeEl(run.created_at, true) : null],
        ["Finished", run.finished_at ? timeEl(run.finished_at, true) : null],
        ["Failed step", run.failed_step ? code(run.failed_step) : null],
      ].filter((r) => r[1] !== null || r[0] === "Flow"))),
      h("div", { class: "card" }, h("h2", null, "Steps"), runGraph(steps)),
      table("run-steps", [
        { label: "Step", cell: (st) => code(stepName(st)) },
        { label: "State", cell: (st) => badge(stepState(st)) },
        { label: "Job", cell: (st) => st.job_id ? [jobLink(String(st.job_id)), st.job_status ? [" ", badge(st.job_status)] : null] : "" },
        { label: "Attempts", class: "num", cell: (st) => st.attempts === undefined ? "" : String(st.attempts) },
        { label: "Depends on", cell: (st) => stepDeps(st).join(", ") },
        { label: "Waiting for", cell: (st) => Array.isArray(st.waiting_for) ? st.waiting_for.join(", ") : "" },
        { label: "Why", class: "msg", cell: (st) => [st.last_error_code ? [h("span", { class: "errcode" }, st.last_error_code), " "] : null,
          st.message ? h("span", { title: st.reason_code || "" }, withCode(st.message)) : (st.reason_code || "")] },
      ], steps, { caption: "Steps", empty: "This run has no steps.", rowAttrs: (st) => ({ dataset: { step: stepName(st), state: stepState(st) } }) }),
      // What happened to the run besides its steps ending (e.g. "reopened" by a step retry).
      Array.isArray(run.events) && run.events.length
        ? h("div", { class: "card", id: "run-events" }, h("h2", null, "Events"),
          h("ul", null, run.events.map((e) => h("li", { dataset: { type: String(e.type) } },
            e.at ? timeEl(e.at, true) : null, " ", badge(String(e.type)), " ", e.message ? withCode(String(e.message)) : ""))))
        : null,
      h("div", { class: "job-grid" },
        h("div", { class: "card" }, h("h2", null, "Input"), h("pre", { class: "json", id: "run-input" }, prettyJSON(run.input ?? null))),
        "output" in run ? h("div", { class: "card" }, h("h2", null, "Output"), h("pre", { class: "json" }, prettyJSON(run.output))) : null));
  }

  /** A map step's progress for its box: " 998/1000" (elements succeeded / elements). */
  function mapCount(st) {
    const m = st && st.map;
    if (!m || typeof m !== "object") return "";
    return " " + Number(m.done || 0) + "/" + (m.total === null || m.total === undefined ? "?" : Number(m.total));
  }

  /** The steps as a left-to-right graph (columns = dependency depth), boxes coloured by state. */
  function runGraph(steps) {
    if (steps.length === 0) return h("p", { class: "muted" }, "No steps.");
    const byName = new Map(steps.map((st) => [stepName(st), st]));
    const depth = new Map();
    const depthOf = (name, seen) => {
      if (depth.has(name)) return depth.get(name);
      if (seen.has(name)) return 0;
      seen.add(name);
      const st = byName.get(name);
      const d = st ? Math.max(-1, ...stepDeps(st).filter((x) => byName.has(x)).map((x) => depthOf(x, seen))) + 1 : 0;
      depth.set(name, d);
      return d;
    };
    for (const st of steps) depthOf(stepName(st), new Set());
    const columns = [];
    for (const st of steps) { const d = depth.get(stepName(st)); (columns[d] = columns[d] || []).push(st); }
    const BW = 150, BH = 40, GX = 60, GY = 18, PAD = 10;
    const pos = new Map();
    columns.forEach((col, ci) => col.forEach((st, ri) => pos.set(stepName(st), { x: PAD + ci * (BW + GX), y: PAD + ri * (BH + GY) })));
    const width = PAD * 2 + columns.length * BW + (columns.length - 1) * GX;
    const height = PAD * 2 + Math.max(...columns.map((c) => c.length)) * (BH + GY) - GY;
    const svg = s("svg", { id: "run-graph", class: "run-graph", viewBox: "0 0 " + width + " " + height, width, height, role: "img", "aria-label": "Workflow steps" });
    svg.append(s("defs", null, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "6", markerHeight: "6", orient: "auto-start-reverse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "edge-head" }))));
    for (const st of steps) {
      const to = pos.get(stepName(st));
      for (const dep of stepDeps(st)) {
        const from = pos.get(dep);
        if (!from) continue;
        const x1 = from.x + BW, y1 = from.y + BH / 2, x2 = to.x, y2 = to.y + BH / 2, mx = (x1 + x2) / 2;
        svg.append(s("path", { class: "edge", d: "M " + x1 + " " + y1 + " C " + mx + " " + y1 + ", " + mx + " " + y2 + ", " + x2 + " " + y2, "marker-end": "url(#arrow)" }));
      }
    }
    for (const st of steps) {
      const p = pos.get(stepName(st));
      const state = stepState(st);
      const g = s("g", { class: "node st-" + stepColour(st).toLowerCase(), transform: "translate(" + p.x + "," + p.y + ")", dataset: { step: stepName(st), state } },
        s("title", null, stepName(st) + ": " + state),
        s("rect", { width: BW, height: BH, rx: "6" }),
        s("text", { x: BW / 2, y: 16, "text-anchor": "middle", class: "node-name" }, truncate(stepName(st), 20)),
        s("text", { x: BW / 2, y: 31, "text-anchor": "middle", class: "node-state" }, state + mapCount(st)));
      svg.append(st.job_id ? s("a", { href: "#/jobs/" + encodeURIComponent(String(st.job_id)) }, g) : g);
    }
    return h("div", { class: "graph-wrap" }, svg);
  }

  // ---------------------------------------------------------------- start

  async function showServerInfo() {
    try {
      const res = await fetch("/health", { cache: "no-store" });
      const hl = await res.json();
      const el = document.getElementById("server-info");
      el.textContent = [hl.backend, hl.version ? "v" + hl.version : null].filter(Boolean).join(" · ");
      if (hl.database !== "up") { el.textContent += " · database down"; el.className = "error-text"; }
    } catch (e) { /* the views report it */ }
  }

  async function showOptionalNav() {
    const feats = await features();
    for (const [path, nav] of [["/schedules", "schedules"], ["/flows", "flows"]]) {
      const a = document.querySelector('#nav a[data-nav="' + nav + '"]');
      if (a) a.hidden = !feats.has(path);
    }
  }

  document.getElementById("forget-token").addEventListener("click", (ev) => {
    ev.preventDefault();
    storeToken("");
    featuresPromise = null;
    flash("ok", "The token was removed from this browser.");
    rerender();
    showOptionalNav();
  });

  window.addEventListener("hashchange", route);
  updateTokenLink();
  showServerInfo();
  route().then(showOptionalNav);

  // For tests and the console: the API helper (no secrets are exposed).
  window.portableq = { api, route };
})();

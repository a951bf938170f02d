// batchd dashboard: one page, three views (overview, job list, job), data
// from /ui/api/ and live updates from /ui/events/ (server-sent events).
// Hand-written, no build step, no library.
"use strict";

const STATUSES = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"];
const COLORS = {SUBMITTED: "#6b7280", PENDING: "#9333ea", RUNNABLE: "#d97706", STARTING: "#0891b2",
  RUNNING: "#2563eb", SUCCEEDED: "#16a34a", FAILED: "#dc2626"};
const MAX_LOG_LINES = 10000;

// ---- small helpers ----------------------------------------------------

// h builds an element: h("a", {href: "/x", class: "y"}, "text", child...).
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "style" && typeof v === "object") for (const [p, x] of Object.entries(v)) el.style.setProperty(p, x);
    else el.setAttribute(k, v === true ? "" : v);
  }
  add(el, kids);
  return el;
}
function add(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}
const $ = (sel, el) => (el || document).querySelector(sel);
function svg(tag, attrs, ...kids) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const k of kids.flat()) if (k !== null && k !== undefined) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}
function link(href, ...kids) { return h("a", {href, "data-nav": true}, ...kids); }
function badge(status, extra) { return h("span", {class: "badge st " + status + (extra ? " " + extra : "")}, status); }
function stateBadge(s) { return s ? h("span", {class: "badge " + s}, s) : null; }
function jobURL(id) { return "/ui/jobs/" + encodeURIComponent(id); }
function listURL(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  return "/ui/jobs?" + q.toString();
}
function pad(n) { return String(n).padStart(2, "0"); }
function fmtTime(ms) {
  if (!ms) return "";
  const d = new Date(ms), now = new Date();
  const t = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  if (d.toDateString() === now.toDateString()) return t;
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + t;
}
function fmtDur(ms) {
  if (ms === null || ms === undefined || ms < 0) return "";
  const s = Math.round(ms / 1000);
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m " + (s % 60) + "s";
  return Math.floor(m / 60) + "h " + (m % 60) + "m";
}
function fmtNum(n) { return Number(n || 0).toLocaleString("en-US", {maximumFractionDigits: 2}); }
function fmtMiB(n) { n = n || 0; return n >= 1024 ? fmtNum(n / 1024) + " GiB" : fmtNum(n) + " MiB"; }

// ---- API and session --------------------------------------------------

class HTTPError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
async function api(path, opts) {
  const o = Object.assign({credentials: "same-origin", headers: {}}, opts || {});
  if (o.body !== undefined && typeof o.body !== "string") {
    o.body = JSON.stringify(o.body);
    o.headers["Content-Type"] = "application/json";
  }
  const r = await fetch(path, o);
  let data = null;
  try { data = await r.json(); } catch (e) { /* empty */ }
  if (!r.ok) {
    // An expired session shows the login form (a refused login stays on it).
    if (r.status === 401 && session.auth && session.loggedIn && path !== "/ui/api/login") { session.loggedIn = false; route(); }
    throw new HTTPError(r.status, (data && (data.message || data.Message)) || r.statusText);
  }
  return data;
}

const session = {auth: false, loggedIn: true, principal: ""};

function renderWho() {
  const who = $("#who");
  who.replaceChildren();
  if (session.auth && session.loggedIn) {
    add(who, [session.principal, h("button", {class: "small", id: "logout", onclick: async () => {
      await api("/ui/api/logout", {method: "POST", body: {}}).catch(() => {});
      session.loggedIn = false; route();
    }}, "Log out")]);
  }
}

function loginPage(main) {
  const err = h("div");
  const key = h("input", {id: "login-key", autocomplete: "username", required: true});
  const secret = h("input", {id: "login-secret", type: "password", autocomplete: "current-password", required: true});
  const form = h("form", {class: "card login", onsubmit: async (e) => {
    e.preventDefault();
    err.replaceChildren();
    try {
      const s = await api("/ui/api/login", {method: "POST", body: {accessKeyId: key.value.trim(), secretAccessKey: secret.value}});
      Object.assign(session, s);
      route();
    } catch (x) { err.replaceChildren(h("div", {class: "notice err"}, x.message)); }
  }},
  h("h1", {}, "Log in"),
  h("p", {class: "muted small"}, "Access control is on: give an access key id and its secret. The dashboard shows and allows what the key's policy allows."),
  h("label", {for: "login-key"}, "Access key id"), key,
  h("label", {for: "login-secret"}, "Secret access key"), secret,
  err,
  h("p", {}, h("button", {class: "primary", type: "submit", id: "login-submit"}, "Log in")));
  main.replaceChildren(form);
  key.focus();
}

// ---- routing ----------------------------------------------------------

let cleanups = [];
function onLeave(fn) { cleanups.push(fn); }
function leave() { for (const fn of cleanups) { try { fn(); } catch (e) { /* ignore */ } } cleanups = []; }

// stream opens an EventSource that is closed when the view changes, and
// shows in the header whether live updates flow.
function stream(url, handlers) {
  const es = new EventSource(url);
  const live = $("#live");
  es.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  es.onerror = () => { live.textContent = "reconnecting"; live.classList.remove("on"); };
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (e) => fn(e.data ? JSON.parse(e.data) : null));
  }
  onLeave(() => { es.close(); live.textContent = "offline"; live.classList.remove("on"); });
  return es;
}

function route() {
  leave();
  const main = $("#app");
  renderWho();
  if (session.auth && !session.loggedIn) { loginPage(main); return; }
  const path = location.pathname;
  const m = path.match(/^\/ui\/jobs\/(.+)$/);
  if (m) jobPage(main, decodeURIComponent(m[1]));
  else if (path === "/ui/jobs") jobsPage(main, new URLSearchParams(location.search));
  else overviewPage(main);
}

function navigate(url) {
  history.pushState(null, "", url);
  window.scrollTo(0, 0);
  route();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-nav]");
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin) return;
  e.preventDefault();
  navigate(u.pathname + u.search);
});
window.addEventListener("popstate", route);
// A page left for another (or kept in the back-forward cache) closes its
// streams at once: a browser opens few connections to one server over
// HTTP/1.1, and an open stream holds one.
window.addEventListener("pagehide", leave);
window.addEventListener("pageshow", (e) => { if (e.persisted) route(); });

// ---- overview ---------------------------------------------------------

function overviewPage(main) {
  document.title = "batchd";
  const queues = h("div", {class: "grid", id: "queues"}, h("p", {class: "muted"}, "Loading…"));
  const envs = h("div", {class: "grid", id: "envs"});
  const states = h("div", {class: "card chart", id: "chart-states"});
  const thr = h("div", {class: "card chart", id: "chart-throughput"});
  const root = h("div", {id: "overview"},
    h("h2", {}, "Job queues"), queues,
    h("h2", {}, "Compute environments"), envs,
    h("h2", {}, "Last hour"), h("div", {class: "charts"}, states, thr));
  main.replaceChildren(root);
  let hidden = new Set();
  let lastHistory = null;
  stream("/ui/events/overview", {
    overview: (ov) => {
      renderQueues(queues, ov);
      renderEnvs(envs, ov);
      if (!root.hasAttribute("data-rendered")) root.setAttribute("data-rendered", String(Date.now()));
    },
    history: (hist) => { lastHistory = hist; renderCharts(); },
  });
  let resized = null;
  const onResize = () => { clearTimeout(resized); resized = setTimeout(renderCharts, 200); };
  window.addEventListener("resize", onResize);
  onLeave(() => { window.removeEventListener("resize", onResize); clearTimeout(resized); });
  function renderCharts() {
    if (!lastHistory) return;
    renderStateChart(states, lastHistory, hidden, (s) => {
      if (hidden.has(s)) hidden.delete(s); else hidden.add(s);
      renderCharts();
    });
    renderThroughput(thr, lastHistory);
  }
}

function renderQueues(el, ov) {
  if (!ov.queues.length) {
    el.replaceChildren(h("p", {class: "muted"}, "No job queue yet: create one with CreateJobQueue (batchctl create-job-queue)."));
    return;
  }
  el.replaceChildren(...ov.queues.map((q) => {
    const total = STATUSES.reduce((n, s) => n + (q.counts[s] || 0), 0);
    return h("div", {class: "card queue", "data-queue": q.name},
      h("div", {class: "card-head"},
        link(listURL({queue: q.name}), h("span", {class: "name"}, q.name)),
        stateBadge(q.state), q.status && q.status !== "VALID" ? stateBadge(q.status) : null,
        h("span", {class: "muted small"}, "priority " + q.priority),
        h("span", {class: "muted small", "data-total": total}, fmtNum(total) + (total === 1 ? " job" : " jobs"))),
      h("div", {class: "muted small"},
        "Environments: ", q.computeEnvironments.length ? q.computeEnvironments.join(" → ") : "none",
        q.schedulingPolicy ? " · fair share: " + q.schedulingPolicy : "",
        q.maxRunningJobs ? " · at most " + q.maxRunningJobs + " running" : ""),
      h("div", {class: "counts"}, STATUSES.map((s) => {
        const n = q.counts[s] || 0;
        return h("a", {class: "count" + (n ? " nz" : ""), "data-status": s, style: {"--c": COLORS[s]},
          href: listURL({queue: q.name, status: s}), "data-nav": true, title: s + ": " + n},
        h("span", {class: "n"}, fmtNum(n)), h("span", {class: "l"}, s));
      })),
      childrenLine(q));
  }));
}

// childrenLine counts a queue's array children (listed on their array
// job's page, not in the queue's counts).
function childrenLine(q) {
  const c = q.children || {};
  const parts = STATUSES.filter((s) => c[s]).map((s) => h("span", {class: "child-count", "data-child-status": s, style: {color: COLORS[s]}}, fmtNum(c[s]) + " " + s));
  if (!parts.length) return null;
  return h("div", {class: "muted small children", title: "children of array jobs and nodes of multi-node jobs"}, "Children: ", parts.map((p, i) => [i ? " · " : "", p]));
}

function meter(label, used, free, fmt) {
  const total = used + free;
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  return h("div", {class: "meter"},
    h("div", {class: "lbl"}, h("span", {}, label), h("span", {class: "muted"}, fmt(used) + " in use · " + fmt(free) + " free")),
    h("div", {class: "bar", title: pct.toFixed(0) + "% in use"}, h("span", {style: {width: pct + "%"}})));
}

function renderEnvs(el, ov) {
  if (!ov.computeEnvironments.length) {
    el.replaceChildren(h("p", {class: "muted"}, "No compute environment yet."));
    return;
  }
  const hosts = Object.fromEntries(ov.hosts.map((x) => [x.id, x]));
  el.replaceChildren(...ov.computeEnvironments.map((e) => {
    const gpus = (e.inUse.gpus || 0) + (e.free.gpus || 0) > 0;
    const hs = e.hosts.map((id) => hosts[id]).filter(Boolean);
    const hostGPUs = hs.some((x) => (x.size.gpus || 0) > 0);
    return h("div", {class: "card env", "data-env": e.name},
      h("div", {class: "card-head"}, h("span", {class: "name"}, e.name), stateBadge(e.state),
        e.status && e.status !== "VALID" ? stateBadge(e.status) : null,
        h("span", {class: "muted small"}, e.type + (e.maxvCpus ? " · maxvCpus " + fmtNum(e.maxvCpus) : "")),
        h("span", {class: "muted small", "data-jobs": e.jobs}, e.jobs + " running")),
      meter("vCPUs", e.inUse.vcpus, e.free.vcpus, fmtNum),
      meter("Memory", e.inUse.memoryMiB, e.free.memoryMiB, fmtMiB),
      gpus ? meter("GPUs", e.inUse.gpus || 0, e.free.gpus || 0, fmtNum) : null,
      hs.length ? h("div", {class: "scroll"}, h("table", {class: "hosts"},
        h("tr", {}, h("th", {}, "Host"), h("th", {}, "vCPUs used / size"), h("th", {}, "Memory used / size"),
          hostGPUs ? h("th", {}, "GPUs used / size") : null, h("th", {class: "hide-sm"}, "Jobs")),
        hs.map((x) => h("tr", {"data-host": x.id},
          h("td", {title: x.name ? "host name " + x.name : ""}, x.id),
          h("td", {}, fmtNum(x.inUse.vcpus) + " / " + fmtNum(x.size.vcpus)),
          h("td", {}, fmtMiB(x.inUse.memoryMiB) + " / " + fmtMiB(x.size.memoryMiB)),
          hostGPUs ? h("td", {}, fmtNum(x.inUse.gpus || 0) + " / " + fmtNum(x.size.gpus || 0)) : null,
          h("td", {class: "hide-sm"}, x.jobs)))))
        : h("p", {class: "muted small"}, "No live host serves this environment."));
  }));
}

// chartFrame draws the axes of a chart of the last hour.
// Charts are drawn at the width of their card, so their text keeps its size
// on a phone.
let CW = 600;
const CH = 210, PL = 44, PR = 10, PT = 10, PB = 24;
function chartFrame(title, t0, t1, ymax) {
  const s = svg("svg", {viewBox: `0 0 ${CW} ${CH}`, role: "img", "aria-label": title});
  const y = (v) => PT + (CH - PT - PB) * (1 - v / ymax);
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    s.append(svg("line", {x1: PL, x2: CW - PR, y1: y(v), y2: y(v), stroke: "#e5e7eb"}));
    s.append(svg("text", {x: PL - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#667085"}, fmtNum(Math.round(v))));
  }
  for (const [frac, label] of [[0, "−60 min"], [0.5, "−30 min"], [1, "now"]]) {
    s.append(svg("text", {x: PL + (CW - PL - PR) * frac, y: CH - 6, "text-anchor": frac === 0 ? "start" : frac === 1 ? "end" : "middle",
      "font-size": 11, fill: "#667085"}, label));
  }
  const x = (t) => PL + (CW - PL - PR) * ((t - t0) / (t1 - t0));
  return {s, x, y};
}
// niceMax is the top of an axis of 4 steps of a round size.
function niceMax(v) {
  if (v <= 4) return 4;
  const step = v / 4, p = Math.pow(10, Math.floor(Math.log10(step)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= step && Number.isInteger(m * p)) return 4 * m * p;
  return 40 * p;
}

function renderStateChart(el, hist, hidden, toggle) {
  CW = Math.max(280, Math.min(900, el.clientWidth - 28));
  const t1 = Date.now(), t0 = t1 - 3600e3;
  const pts = hist.states.filter((p) => p.t >= t0);
  let ymax = 0;
  for (const p of pts) STATUSES.forEach((s, i) => { if (!hidden.has(s)) ymax = Math.max(ymax, p.c[i]); });
  const {s, x, y} = chartFrame("Jobs by state over the last hour", t0, t1, niceMax(ymax));
  STATUSES.forEach((st, i) => {
    if (hidden.has(st) || !pts.length) return;
    const d = pts.map((p, k) => (k ? "L" : "M") + x(p.t).toFixed(1) + " " + y(p.c[i]).toFixed(1)).join(" ");
    s.append(svg("path", {d, fill: "none", stroke: COLORS[st], "stroke-width": 2, "data-series": st}));
  });
  const last = pts.length ? pts[pts.length - 1].c : [0, 0, 0, 0, 0, 0, 0];
  el.replaceChildren(h("h3", {}, "Jobs by state"), s,
    h("div", {class: "legend"}, STATUSES.map((st, i) => h("label", {title: "show or hide " + st},
      h("input", {type: "checkbox", checked: !hidden.has(st), onchange: () => toggle(st)}),
      h("i", {style: {background: COLORS[st]}}), st + " " + fmtNum(last[i])))),
    h("p", {class: "muted small"}, "Every job, array children included; sampled every 10 s by this api replica since " + fmtTime(hist.since) + "."));
}

function renderThroughput(el, hist) {
  CW = Math.max(280, Math.min(900, el.clientWidth - 28));
  const mins = hist.throughput;
  const t1 = mins.length ? mins[mins.length - 1].t + 60e3 : Date.now(), t0 = t1 - 3600e3;
  let ymax = 0, total = 0;
  for (const m of mins) { ymax = Math.max(ymax, m.succeeded + m.failed); total += m.succeeded + m.failed; }
  const {s, x, y} = chartFrame("Jobs finished per minute over the last hour", t0, t1, niceMax(ymax));
  const w = Math.max(1, (CW - PL - PR) / 60 - 1);
  for (const m of mins) {
    const x0 = x(m.t) + 0.5;
    if (m.succeeded) s.append(svg("rect", {x: x0, width: w, y: y(m.succeeded), height: y(0) - y(m.succeeded), fill: COLORS.SUCCEEDED},
      svg("title", {}, fmtTime(m.t) + ": " + m.succeeded + " succeeded")));
    if (m.failed) s.append(svg("rect", {x: x0, width: w, y: y(m.succeeded + m.failed), height: y(m.succeeded) - y(m.succeeded + m.failed), fill: COLORS.FAILED},
      svg("title", {}, fmtTime(m.t) + ": " + m.failed + " failed")));
  }
  const cur = mins.length ? mins[mins.length - 1] : {succeeded: 0, failed: 0};
  el.replaceChildren(h("h3", {}, "Throughput: jobs finished per minute"), s,
    h("div", {class: "legend"}, h("span", {}, h("i", {style: {background: COLORS.SUCCEEDED}}), "succeeded"),
      h("span", {}, h("i", {style: {background: COLORS.FAILED}}), "failed"),
      h("span", {class: "muted", id: "throughput-total"}, fmtNum(total) + " in the last hour, " + (cur.succeeded + cur.failed) + " this minute")));
}

// ---- job list ---------------------------------------------------------

function jobsPage(main, params) {
  const queue = params.get("queue") || "", array = params.get("array") || "", multinode = params.get("multinode") || "";
  const status = (params.get("status") || "").toUpperCase();
  const name = params.get("name") || "", after = params.get("after") || "", before = params.get("before") || "";
  const base = {queue, array, multinode, name, after, before};
  document.title = (queue || array || multinode) + " · jobs · batchd";
  const title = queue ? h("h1", {}, "Jobs of queue ", queue) : multinode ? h("h1", {}, "Nodes of multi-node job ", link(jobURL(multinode), multinode))
    : h("h1", {}, "Children of array job ", link(jobURL(array), array));
  const tabs = h("div", {class: "tabs"},
    h("a", {href: listURL(base), "data-nav": true, class: status ? "" : "on"}, "All"),
    STATUSES.map((s) => h("a", {href: listURL(Object.assign({}, base, {status: s})), "data-nav": true, class: status === s ? "on" : "", "data-tab": s}, s)));
  const toLocal = (ms) => { if (!ms) return ""; const d = new Date(Number(ms)); return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes()); };
  const fName = h("input", {name: "name", value: name, placeholder: "prefix", id: "filter-name"});
  const fArray = h("input", {name: "array", value: array, placeholder: "job id", id: "filter-array"});
  const fAfter = h("input", {name: "after", type: "datetime-local", value: toLocal(after), id: "filter-after"});
  const fBefore = h("input", {name: "before", type: "datetime-local", value: toLocal(before), id: "filter-before"});
  const form = h("form", {class: "filters", onsubmit: (e) => {
    e.preventDefault();
    const ms = (v) => (v ? String(new Date(v).getTime()) : "");
    const arr = fArray.value.trim();
    navigate(listURL({queue: arr ? "" : queue, array: arr, multinode: arr ? "" : multinode, status, name: fName.value.trim(), after: ms(fAfter.value), before: ms(fBefore.value)}));
  }},
  h("label", {}, "Name starts with", fName), h("label", {}, "Children of array job", fArray), h("label", {}, "Created after", fAfter), h("label", {}, "Created before", fBefore),
  h("button", {type: "submit", class: "primary"}, "Filter"),
  (name || after || before) ? link(listURL({queue, array, status}), "clear filters") : null,
  array && !queue ? link("/", "back to the overview") : null);
  const body = h("tbody");
  const table = h("table", {class: "jobs", id: "jobs"},
    h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {class: "hide-sm"}, "Job id"), h("th", {}, "Status"),
      h("th", {class: "hide-sm"}, "Created"), h("th", {class: "hide-sm"}, "Started"), h("th", {class: "hide-sm"}, "Stopped"), h("th", {}, "Exit"))),
    body);
  const info = h("span", {class: "muted small", id: "jobs-info"});
  const newer = h("button", {disabled: true, id: "page-newer"}, "← Newer");
  const older = h("button", {disabled: true, id: "page-older"}, "Older →");
  const err = h("div");
  // On a phone the filters fold away unless one is set.
  const filters = h("details", {class: "filter-box", open: window.innerWidth > 600 || !!(name || after || before)}, h("summary", {}, "Filters"), form);
  main.replaceChildren(title, tabs, filters, err, h("div", {class: "scroll"}, table), h("div", {class: "pager"}, newer, older, info));

  const tokens = [""]; // token of each page seen, for "Newer"
  let page = 0, next = "";
  async function load() {
    const q = new URLSearchParams();
    if (queue) q.set("queue", queue); if (array) q.set("array", array); if (multinode) q.set("multinode", multinode);
    if (status) q.set("status", status); if (name) q.set("name", name);
    if (after) q.set("after", after); if (before) q.set("before", before);
    if (tokens[page]) q.set("next", tokens[page]);
    try {
      const r = await api("/ui/api/jobs?" + q.toString());
      err.replaceChildren();
      next = r.next || "";
      body.replaceChildren(...r.jobs.map(row));
      if (!r.jobs.length) body.append(h("tr", {}, h("td", {colspan: 7, class: "muted"}, "No job here.")));
      newer.disabled = page === 0;
      older.disabled = !next;
      info.textContent = "page " + (page + 1) + (r.total >= 0 ? " · " + fmtNum(r.total) + " jobs" + (status ? " " + status : "") : "") + " · newest first";
      table.setAttribute("data-loaded", String(Date.now()));
    } catch (x) { err.replaceChildren(h("div", {class: "notice err"}, x.message)); }
  }
  newer.onclick = () => { if (page > 0) { page--; load(); } };
  older.onclick = () => { if (next) { tokens[page + 1] = next; page++; load(); } };
  function row(j) {
    const exit = j.container && j.container.exitCode !== undefined ? String(j.container.exitCode) : "";
    const reason = (j.container && j.container.reason) || (j.status === "FAILED" ? j.statusReason : "") || "";
    const kind = j.arrayProperties ? (j.arrayProperties.size ? " [array of " + j.arrayProperties.size + "]" : " [" + j.arrayProperties.index + "]") : "";
    return h("tr", {"data-job": j.jobId},
      h("td", {class: "name"}, link(jobURL(j.jobId), j.jobName), h("span", {class: "muted small"}, kind)),
      h("td", {class: "id hide-sm mono"}, j.jobId),
      h("td", {class: "status"}, badge(j.status)),
      h("td", {class: "hide-sm"}, fmtTime(j.createdAt)),
      h("td", {class: "hide-sm"}, fmtTime(j.startedAt)),
      h("td", {class: "hide-sm"}, fmtTime(j.stoppedAt)),
      h("td", {title: reason}, exit, reason && !exit ? h("span", {class: "muted small"}, reason.slice(0, 40)) : ""));
  }
  // Live: a row changes in place; a new job (or one leaving the status
  // shown) reloads the page, at most once a second.
  let timer = null;
  const reload = () => { if (!timer) timer = setTimeout(() => { timer = null; load(); }, 1000); };
  onLeave(() => clearTimeout(timer));
  const sq = new URLSearchParams(); if (queue) sq.set("queue", queue); if (array) sq.set("array", array); if (multinode) sq.set("multinode", multinode);
  stream("/ui/events/jobs?" + sq.toString(), {
    jobs: (list) => {
      for (const j of list) {
        const tr = body.querySelector(`tr[data-job="${CSS.escape(j.jobId)}"]`);
        if (tr) {
          const fresh = row(j);
          if (status && j.status !== status) fresh.classList.add("moved");
          tr.replaceWith(fresh);
          if (status && j.status !== status) reload();
        } else if (page === 0 && (!status || j.status === status)) reload();
      }
    },
    resync: reload,
  });
  load();
}

// ---- a job ------------------------------------------------------------

function jobPage(main, id) {
  document.title = id + " · batchd";
  const head = h("div", {id: "job-head"}, h("p", {class: "muted"}, "Loading…"));
  const parts = h("div", {id: "job-parts"});
  const logBox = h("div", {id: "log", class: "no-ts"}, h("div", {class: "empty", id: "log-empty"}, "No output yet."));
  const logState = h("span", {class: "muted", id: "log-state"}, "reading…");
  const follow = h("input", {type: "checkbox", checked: true, id: "log-follow"});
  // Each box shows a part of the log; the class on the log hides it.
  const opt = (label, cls, on) => h("label", {}, h("input", {type: "checkbox", checked: on, onchange: (e) => logBox.classList.toggle(cls, !e.target.checked)}), " " + label);
  const logSection = h("section", {id: "log-section"},
    h("h2", {}, "Log"),
    h("div", {class: "logbar"}, opt("stdout", "no-out", true), opt("stderr", "no-err", true), opt("times", "no-ts", false),
      h("label", {}, follow, " follow"), logState),
    logBox);
  const notice = h("div", {id: "job-notice"});
  const defs = h("div", {id: "job-definition"});
  main.replaceChildren(head, notice, parts, logSection, defs);
  let v = null, def = null;

  function render() {
    const j = v.job;
    document.title = j.jobName + " · batchd";
    const exit = j.container && j.container.exitCode !== undefined && j.container.exitCode !== null ? j.container.exitCode : null;
    // An array job runs nothing itself: its children have the attempts and logs.
    const parent = !!(j.arrayProperties && j.arrayProperties.size);
    logSection.hidden = parent;
    head.replaceChildren(
      h("div", {class: "muted small"}, link(listURL({queue: queueOf(j)}), "queue " + queueOf(j)),
        parentOf(j.jobId) ? [" · ", link(jobURL(parentOf(j.jobId)), (j.jobId.includes("#") ? "multi-node job " : "array job ") + parentOf(j.jobId))] : null),
      h("h1", {}, j.jobName, " ", h("span", {id: "job-status", class: "badge st status-big " + j.status}, j.status)),
      h("div", {class: "explain", id: "job-explain"}, v.explanation),
      actionsBar(j));
    const kv = [
      ["Job id", h("span", {class: "mono"}, j.jobId)],
      ["Exit code", parent ? "" : exit === null ? h("span", {class: "muted", id: "job-exit"}, "none yet") : h("strong", {id: "job-exit"}, String(exit))],
      ["Reason", (j.container && j.container.reason) || j.statusReason || ""],
      ["Definition", j.jobDefinition.replace(/^arn:[^/]*\//, "")],
      ["Created", fmtTime(j.createdAt)],
      ["Started", fmtTime(j.startedAt)],
      ["Stopped", fmtTime(j.stoppedAt)],
      ["Run time", j.startedAt ? (j.stoppedAt ? fmtDur(j.stoppedAt - j.startedAt) : since(j.startedAt)) : ""],
      ["Host", j.hostId || ""],
      ["Compute environment", j.computeEnvironmentName || ""],
      ["Share identifier", j.shareIdentifier || ""],
      ["Scheduling priority", j.schedulingPriority !== undefined && j.schedulingPriority !== null ? String(j.schedulingPriority) : ""],
      ["Trace id", j.traceId ? (v.traceUrl ? h("a", {href: v.traceUrl, target: "_blank", rel: "noopener", id: "job-trace"}, j.traceId) : h("span", {class: "mono", id: "job-trace"}, j.traceId)) : ""],
    ];
    const sections = [
      h("div", {class: "two"},
        h("div", {class: "card"}, h("h3", {}, "Details"), h("dl", {class: "kv"}, kv.filter(([, x]) => x !== "" && x !== null).map(([k, x]) => [h("dt", {}, k), h("dd", {}, x)]))),
        h("div", {class: "card"}, h("h3", {}, "State timeline"), timeline(v.timeline))),
    ];
    if (j.arrayProperties && j.arrayProperties.size) sections.push(arraySection(j));
    if (v.dependencies.length) sections.push(dependenciesSection(v.dependencies));
    if (!parent) sections.push(attemptsSection(j));
    const extra = genericSections(j);
    if (extra) sections.push(extra);
    parts.replaceChildren(...sections);
    defs.replaceChildren(definitionSection(j, def));
  }

  function actionsBar(j) {
    const bar = h("div", {class: "actions", id: "job-actions"});
    const can = v.can || {};
    const cancellable = ["SUBMITTED", "PENDING", "RUNNABLE"].includes(j.status);
    const ask = (what, label, cls, defReason) => () => {
      const reason = h("input", {id: "action-reason", value: defReason, "aria-label": "reason"});
      bar.replaceChildren(h("span", {}, label + " — reason:"), reason,
        h("button", {class: cls, id: "confirm-action", onclick: () => act(what, reason.value)}, label),
        h("button", {onclick: () => { bar.replaceWith(actionsBar(v.job)); }}, "Back"));
      reason.focus();
    };
    if (can.terminate) bar.append(h("button", {class: "danger", id: "terminate", onclick: ask("terminate", "Terminate", "danger", "Terminated from the dashboard")}, "Terminate"));
    if (can.cancel && cancellable) bar.append(h("button", {id: "cancel", onclick: ask("cancel", "Cancel", "danger", "Cancelled from the dashboard")}, "Cancel"));
    if (can.resubmit) bar.append(h("button", {class: "primary", id: "resubmit", onclick: () => act("resubmit", "")}, "Resubmit"));
    if (!bar.childNodes.length && session.auth && !j.status.match(/SUCCEEDED|FAILED/)) bar.append(h("span", {class: "muted small"}, "Your access key may not change this job."));
    return bar;
  }

  async function act(what, reason) {
    notice.replaceChildren();
    try {
      const r = await api("/ui/api/jobs/" + encodeURIComponent(id) + "/" + what, {method: "POST", body: {reason}});
      if (what === "resubmit") notice.replaceChildren(h("div", {class: "notice", id: "resubmitted"}, "Submitted again as ", link(jobURL(r.jobId), r.jobName + " (" + r.jobId + ")"), "."));
      else notice.replaceChildren(h("div", {class: "notice"}, what === "terminate" ? "Termination asked: the job stops and fails." : "Cancellation asked."));
      const bar = $("#job-actions");
      if (bar) bar.replaceWith(actionsBar(v.job));
    } catch (x) { notice.replaceChildren(h("div", {class: "notice err"}, x.message)); }
  }

  // The log.
  let lines = 0, lastAttempt = 0;
  function appendLines(ls) {
    const empty = $("#log-empty", logBox);
    if (empty) empty.remove();
    const atBottom = logBox.scrollHeight - logBox.scrollTop - logBox.clientHeight < 30;
    const frag = document.createDocumentFragment();
    for (const l of ls) {
      if (l.a !== lastAttempt) { lastAttempt = l.a; frag.append(h("div", {class: "att"}, "attempt " + l.a)); }
      const err = l.s === "stderr";
      frag.append(h("div", {class: "line " + (err ? "err" : "out")},
        h("span", {class: "g"}, err ? "err" : "out"), h("span", {class: "ts"}, l.t ? l.t.replace(/^.*T/, "").replace(/Z$/, "") : ""), h("span", {class: "tx"}, l.l)));
      lines++;
    }
    logBox.append(frag);
    while (lines > MAX_LOG_LINES) { const f = logBox.querySelector(".line"); if (!f) break; f.remove(); lines--; }
    if (follow.checked || atBottom) logBox.scrollTop = logBox.scrollHeight;
  }

  let refetch = null;
  onLeave(() => clearTimeout(refetch));
  const reloadView = () => {
    if (refetch) return;
    refetch = setTimeout(async () => {
      refetch = null;
      try { const nv = await api("/ui/api/jobs/" + encodeURIComponent(id)); def = nv.definition; accept(nv); } catch (e) { /* next event */ }
    }, 1000);
  };
  function accept(nv) {
    // Keep the newest: events may come after a fresher read.
    if (v) {
      const a = v.job, b = nv.job;
      const older = (b.statusChangedAt || 0) < (a.statusChangedAt || 0) ||
        ((b.statusChangedAt || 0) === (a.statusChangedAt || 0) && (b.attempts || []).length < (a.attempts || []).length);
      if (older) return;
    }
    v = nv;
    render();
    logState.textContent = v.job.status.match(/SUCCEEDED|FAILED/) ? (logStored ? "complete" : "reading…") : (logStored ? "following" : "reading…");
  }
  let logStored = false;
  api("/ui/api/jobs/" + encodeURIComponent(id)).then((nv) => { def = nv.definition; accept(nv); }).catch((x) => {
    head.replaceChildren(h("div", {class: "notice err"}, x.message));
  });
  stream("/ui/events/jobs/" + encodeURIComponent(id), {
    job: (nv) => { if (!v) return; nv.definition = def; accept(nv); },
    children: reloadView,
    resync: reloadView,
    logs: appendLines,
    "logs-stored": () => { logStored = true; if (v) accept(v); },
    "logs-error": (e) => { logState.textContent = e.message; },
  });
}

// since is a duration from a time until now, kept current by the clock.
function since(ms) { return h("span", {"data-since": ms}, fmtDur(Date.now() - ms)); }
setInterval(() => {
  for (const e of document.querySelectorAll("[data-since]")) e.textContent = fmtDur(Date.now() - Number(e.getAttribute("data-since")));
}, 1000);

function queueOf(j) { return j.jobQueueName || (j.jobQueue || "").replace(/^.*job-queue\//, ""); }
function parentOf(id) { const m = id.match(/^(.*)[:#]\d+$/); return m ? m[1] : ""; }

function timeline(ts) {
  if (!ts || !ts.length) return h("p", {class: "muted"}, "Nothing recorded yet.");
  return h("ul", {class: "timeline", id: "job-timeline"}, ts.map((t, i) => {
    const dur = i + 1 < ts.length ? fmtDur(ts[i + 1].at - t.at) : "";
    return h("li", {style: {"border-left-color": t.status ? COLORS[t.status] : "#cbd2dc"}},
      h("span", {class: "when"}, fmtTime(t.at)),
      h("span", {}, t.status ? badge(t.status) : null, " ", t.note || (t.attempt ? "attempt " + t.attempt : ""),
        dur ? h("span", {class: "muted small"}, " · " + dur) : ""));
  }));
}

function arraySection(j) {
  const a = j.arrayProperties, sum = a.statusSummary || {};
  const total = a.size;
  return h("div", {class: "card", id: "array-summary"}, h("h3", {}, "Array: " + total + " children"),
    h("div", {class: "summary-bar"}, STATUSES.map((s) => sum[s] ? h("span", {style: {width: (100 * sum[s] / total) + "%", background: COLORS[s]}, title: s + " " + sum[s]}) : null)),
    h("div", {class: "tabs"}, STATUSES.map((s) => h("a", {href: listURL({array: j.jobId, status: s}), "data-nav": true, "data-status": s}, s + " " + (sum[s] || 0)))),
    link(listURL({array: j.jobId}), "All children →"));
}

function dependenciesSection(deps) {
  return h("div", {class: "card", id: "dependencies"}, h("h3", {}, "Depends on"),
    h("table", {class: "hosts"}, h("tr", {}, h("th", {}, "Job"), h("th", {}, "Type"), h("th", {}, "Status")),
      deps.map((d) => h("tr", {}, h("td", {}, link(jobURL(d.jobId), d.name || d.jobId), h("div", {class: "muted small mono"}, d.jobId)),
        h("td", {}, [d.type || "", d.condition ? " (" + d.condition + ")" : ""]),
        h("td", {}, d.status ? badge(d.status) : h("span", {class: "muted"}, "unknown"))))));
}

function attemptsSection(j) {
  const at = j.attempts || [];
  const rows = at.map((a, i) => {
    const c = a.container || {};
    const host = (c.containerInstanceArn || "").replace(/^.*container-instance\/batchd\//, "");
    return h("tr", {"data-attempt": i + 1}, h("td", {}, String(i + 1)), h("td", {}, fmtTime(a.startedAt)), h("td", {}, fmtTime(a.stoppedAt)),
      h("td", {}, a.startedAt && a.stoppedAt ? fmtDur(a.stoppedAt - a.startedAt) : ""),
      h("td", {class: "exit"}, c.exitCode !== undefined && c.exitCode !== null ? String(c.exitCode) : ""),
      h("td", {}, [c.reason || "", c.reason && a.statusReason ? " · " : "", a.statusReason || ""]),
      h("td", {class: "hide-sm"}, host));
  });
  if (!j.status.match(/SUCCEEDED|FAILED/) && (j.status === "STARTING" || j.status === "RUNNING")) {
    rows.push(h("tr", {class: "current"}, h("td", {}, String(at.length + 1)), h("td", {}, fmtTime(j.startedAt)), h("td", {}, ""),
      h("td", {}, j.startedAt ? since(j.startedAt) : ""), h("td", {}, ""), h("td", {}, j.status.toLowerCase()), h("td", {class: "hide-sm"}, j.hostId || "")));
  }
  return h("div", {class: "card", id: "attempts"}, h("h3", {}, "Attempts"),
    rows.length ? h("div", {class: "scroll"}, h("table", {class: "hosts"},
      h("tr", {}, h("th", {}, "#"), h("th", {}, "Started"), h("th", {}, "Stopped"), h("th", {}, "Took"), h("th", {}, "Exit code"), h("th", {}, "Reason"), h("th", {class: "hide-sm"}, "Host")),
      rows)) : h("p", {class: "muted"}, "No attempt yet."));
}

// genericSections shows multi-node and multi-container parts when the job
// has them, from DescribeJobs' own fields.
function genericSections(j) {
  const out = [];
  if (j.nodeProperties || j.nodeDetails) {
    out.push(h("h3", {}, "Nodes"));
    if (!j.nodeDetails) out.push(h("p", {}, link(listURL({multinode: j.jobId}), "All nodes →")));
    if (j.nodeDetails) out.push(kvList(j.nodeDetails));
    if (j.nodeProperties) out.push(h("pre", {class: "json"}, JSON.stringify(j.nodeProperties, null, 2)));
  }
  const tp = j.ecsProperties && j.ecsProperties.taskProperties && j.ecsProperties.taskProperties[0];
  if (tp && tp.containers) {
    out.push(h("h3", {}, "Containers"), h("table", {class: "hosts"},
      h("tr", {}, h("th", {}, "Name"), h("th", {}, "Image"), h("th", {}, "Essential"), h("th", {}, "Exit code"), h("th", {}, "Reason")),
      tp.containers.map((c) => h("tr", {}, h("td", {}, c.name || ""), h("td", {class: "mono"}, c.image || ""), h("td", {}, c.essential === false ? "no" : "yes"),
        h("td", {}, c.exitCode !== undefined ? String(c.exitCode) : ""), h("td", {}, c.reason || "")))));
  }
  const atp = (j.attempts || []).filter((a) => a.taskProperties);
  if (atp.length) {
    out.push(h("h3", {}, "Containers per attempt"));
    atp.forEach((a, i) => out.push(h("pre", {class: "json"}, "attempt " + (i + 1) + "\n" + JSON.stringify(a.taskProperties, null, 2))));
  }
  return out.length ? h("div", {class: "card", id: "multi"}, out) : null;
}
function kvList(o) {
  return h("dl", {class: "kv"}, Object.entries(o).map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]));
}

function definitionSection(j, def) {
  const c = j.container || {};
  const ov = {};
  for (const k of ["containerOverrides", "nodeOverrides", "ecsPropertiesOverride", "eksPropertiesOverride"]) if (j[k]) ov[k] = j[k];
  const resolved = {image: c.image, command: c.command, environment: c.environment, resourceRequirements: c.resourceRequirements};
  return h("div", {class: "card", id: "definition", style: {"margin-top": "14px"}}, h("h3", {}, "Definition and overrides"),
    h("div", {class: "two"},
      h("div", {}, h("div", {class: "muted small"}, "Job definition " + (def ? def.jobDefinitionName + ":" + def.revision + (def.status ? " (" + def.status + ")" : "") : j.jobDefinition)),
        h("pre", {class: "json", id: "definition-json"}, def ? JSON.stringify(def.containerProperties || def.ecsProperties || def.nodeProperties || def, null, 2) : "(definition not found)")),
      h("div", {}, h("div", {class: "muted small"}, "Submitted overrides and parameters"),
        h("pre", {class: "json", id: "overrides-json"}, Object.keys(ov).length || j.parameters ? JSON.stringify(Object.assign({}, ov, j.parameters ? {parameters: j.parameters} : {}), null, 2) : "none"),
        h("div", {class: "muted small"}, "The container as it runs"),
        h("pre", {class: "json"}, JSON.stringify(resolved, null, 2)))));
}

// ---- start ------------------------------------------------------------

(async function start() {
  try { Object.assign(session, await api("/ui/api/session")); } catch (e) { /* shown by the view */ }
  route();
})();

// rivetgo inspector dashboard: plain JavaScript over the inspector's JSON
// API. The admin token (if the mesh has one) is kept in localStorage and
// sent as "Authorization: Bearer" with every call.
"use strict";

const $ = (id) => document.getElementById(id);
const tokenBox = $("token");
tokenBox.value = localStorage.getItem("rivetgo.token") || "";
tokenBox.addEventListener("change", () => {
  localStorage.setItem("rivetgo.token", tokenBox.value);
  listActors(true);
  listHosts();
});

async function api(method, path, body) {
  const headers = {};
  if (tokenBox.value) headers["Authorization"] = "Bearer " + tokenBox.value;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const e = new Error(data ? `${data.group}/${data.code}: ${data.message}` : `HTTP ${res.status}`);
    e.status = res.status;
    throw e;
  }
  $("status").textContent = "";
  return data;
}

function show(el, v) { el.textContent = JSON.stringify(v, null, 2); el.classList.remove("err"); }
function fail(el, e) { el.textContent = e.message; el.classList.add("err"); }
function report(e) { $("status").textContent = e.message; }

// Actor list, paged.
let cursor = "";
async function listActors(reset) {
  if (reset) { cursor = ""; $("actors").replaceChildren(); }
  const q = new URLSearchParams({ name: $("name").value.trim(), limit: "50", cursor });
  try {
    const data = await api("GET", "/actors?" + q);
    for (const a of data.actors) {
      const li = document.createElement("li");
      li.textContent = `${a.name} [${a.key.join(", ")}] `;
      const s = document.createElement("span");
      s.className = a.awake ? "awake" : "";
      s.textContent = a.awake ? "● awake" : "○ asleep";
      li.append(s);
      li.dataset.id = a.id;
      li.title = a.id;
      li.addEventListener("click", () => openActor(a, li));
      $("actors").append(li);
    }
    cursor = data.cursor || "";
    $("more").hidden = !cursor;
  } catch (e) { report(e); }
}
$("search").addEventListener("submit", (ev) => { ev.preventDefault(); listActors(true); });
$("more").addEventListener("click", () => listActors(false));

async function listHosts() {
  try {
    const data = await api("GET", "/hosts");
    $("hosts").replaceChildren(...data.hosts.map((h) => {
      const li = document.createElement("li");
      li.textContent = `${h.id.slice(0, 8)}${h.version ? " v" + h.version : ""} active ${h.active}${h.draining ? " draining" : ""}`;
      li.title = h.names.join(", ");
      return li;
    }));
  } catch (e) { report(e); }
}

async function listGateways() {
  try {
    const data = await api("GET", "/gateways");
    $("gateways").replaceChildren(...data.gateways.map((g) => {
      const li = document.createElement("li");
      li.textContent = `${g.id.slice(0, 8)}${g.version ? " v" + g.version : ""}${g.httpAddr ? " " + g.httpAddr : ""}`;
      return li;
    }));
  } catch (e) { report(e); }
}

// One actor.
let current = null;
let tab = "state";
const base = () => `/actors/${current.id}/inspector`;

async function openActor(a, li) {
  current = a;
  document.querySelectorAll("#actors li").forEach((x) => x.classList.toggle("on", x === li));
  $("actor").hidden = false;
  $("title").textContent = `${a.name} [${a.key.join(", ")}] ${a.id}`;
  $("output").textContent = "";
  try {
    const r = await api("GET", base() + "/rpcs");
    $("rpc").replaceChildren(...r.rpcs.map((n) => new Option(n, n)));
  } catch (e) { report(e); }
  $("newstate").value = "";
  refresh();
}

document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => {
  tab = b.dataset.tab;
  document.querySelectorAll("#tabs button").forEach((x) => x.classList.toggle("on", x === b));
  document.querySelectorAll("[data-pane]").forEach((p) => { p.hidden = p.dataset.pane !== tab; });
  refresh();
}));

async function refresh() {
  if (!current) return;
  try {
    switch (tab) {
      case "state": {
        const s = await api("GET", base() + "/state");
        show($("state"), s.state);
        if (!$("newstate").value) $("newstate").value = JSON.stringify(s.state, null, 2);
        break;
      }
      case "connections": show($("connections"), (await api("GET", base() + "/connections")).connections); break;
      case "queue": show($("queue"), (await api("GET", base() + "/queue?limit=50")).queues); break;
      case "schedules": show($("schedules"), (await api("GET", base() + "/schedules")).schedules); break;
      case "workflow":
        try {
          const w = await api("GET", base() + "/workflow-history");
          if (w.isWorkflowEnabled) show($("workflow"), w.history); else $("workflow").textContent = "No workflow.";
        } catch (e) { fail($("workflow"), e); }
        break;
      case "db": await loadTables(); break;
      case "kv": if (kvFor !== current.id) await loadKV(true); break;
    }
  } catch (e) { report(e); }
}

// Live state: poll every second while the state tab is open.
setInterval(() => { if (current && tab === "state" && !document.hidden) refresh(); }, 1000);

$("patch").addEventListener("click", async () => {
  try {
    const state = JSON.parse($("newstate").value);
    await api("PATCH", base() + "/state", { state }); // {ok: true} once committed
    show($("state"), (await api("GET", base() + "/state")).state);
  } catch (e) { fail($("state"), e); }
});

$("call").addEventListener("click", async () => {
  try {
    const args = JSON.parse($("args").value || "[]");
    show($("output"), (await api("POST", base() + "/action/" + encodeURIComponent($("rpc").value), { args })).output);
  } catch (e) { fail($("output"), e); }
});

function table(res) {
  const t = document.createElement("table");
  const head = t.insertRow();
  for (const c of res.columns || []) { const th = document.createElement("th"); th.textContent = c; head.append(th); }
  for (const r of res.rows || []) {
    const tr = t.insertRow();
    for (const c of res.columns || []) { // rows are objects, by column (RivetKit's shape)
      const v = r[c];
      tr.insertCell().textContent = typeof v === "object" ? JSON.stringify(v) : String(v);
    }
  }
  return t;
}

let tablesFor = null;
async function loadTables() {
  if (tablesFor === current.id) return;
  tablesFor = current.id;
  $("rows").replaceChildren();
  const s = await api("GET", base() + "/database/schema");
  if (!s.tables.length) { $("tables").textContent = "No database."; return; }
  $("tables").replaceChildren(...s.tables.map((t) => {
    const b = document.createElement("button");
    b.textContent = t.name;
    b.dataset.table = t.name;
    b.addEventListener("click", async () => {
      try {
        const r = await api("GET", base() + "/database/rows?" + new URLSearchParams({ table: t.name, limit: "100" }));
        $("rows").replaceChildren(table(r));
      } catch (e) { fail($("rows"), e); }
    });
    return b;
  }));
}

$("run").addEventListener("click", async () => {
  try {
    const r = await api("POST", base() + "/database/execute", { sql: $("sql").value, args: JSON.parse($("sqlargs").value || "[]") });
    $("sqlout").replaceChildren(r.columns.length ? table(r) : document.createTextNode(`${r.rowsAffected} row(s) changed`));
    tablesFor = null;
  } catch (e) { fail($("sqlout"), e); }
});

// KV browser: pages of entries under a prefix, in key order.
let kvFor = null, kvCursor = "";
async function loadKV(reset) {
  kvFor = current.id;
  if (reset) { kvCursor = ""; $("kv").replaceChildren(); }
  try {
    const q = new URLSearchParams({ prefix: $("kvprefix").value, limit: "100" });
    if (kvCursor) q.set("cursor", kvCursor);
    const page = await api("GET", base() + "/kv?" + q);
    if (reset) {
      const head = $("kv").insertRow();
      for (const c of ["key", "value", "as CBOR", "size"]) { const th = document.createElement("th"); th.textContent = c; head.append(th); }
    }
    for (const e of page.entries) {
      const tr = $("kv").insertRow();
      tr.insertCell().textContent = e.key !== undefined && e.key !== "" ? e.key : "base64:" + e.keyBase64;
      tr.insertCell().textContent = e.value !== undefined ? e.value : "base64:" + e.valueBase64;
      tr.insertCell().textContent = e.cbor !== undefined ? JSON.stringify(e.cbor) : "";
      tr.insertCell().textContent = String(e.size);
    }
    kvCursor = page.cursor || "";
    $("kvmore").hidden = !kvCursor;
  } catch (e) { report(e); }
}
$("kvsearch").addEventListener("submit", (ev) => { ev.preventDefault(); loadKV(true); });
$("kvmore").addEventListener("click", () => loadKV(false));

$("replay").addEventListener("click", async () => {
  try {
    const entry = $("entry").value.trim();
    const r = await api("POST", base() + "/workflow/replay", entry ? { entryId: entry } : {});
    show($("workflow"), r.history);
  } catch (e) { fail($("workflow"), e); }
});

listActors(true);
listHosts();
listGateways();

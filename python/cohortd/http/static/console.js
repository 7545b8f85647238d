// cohortd console: the live parts of the pages. Written here, no libraries, nothing from a CDN.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
const project = () => document.querySelector('meta[name="project"]').content;
const api = (path) => `/api/projects/${encodeURIComponent(project())}${path}`;
const $ = (sel) => document.querySelector(sel);

// JSON request; resolves to {ok, status, body}. The session cookie goes along by itself.
async function call(method, url, body) {
  const init = { method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(url, init);
  const text = await resp.text();
  return { ok: resp.ok, status: resp.status, body: text ? JSON.parse(text) : null };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// ------------------------------------------------------------------ login
function initLogin() {
  const form = $("#login-form");
  if (!form) return;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await call("POST", "/api/session", { api_key: $("#api-key").value });
    if (r.ok) {
      window.location.href = "/console/";
    } else {
      $("#login-error").textContent = r.body && r.body.error ? r.body.error.message : `HTTP ${r.status}`;
    }
  });
}

function initHeader() {
  const select = $("#project-select");
  if (select) select.addEventListener("change", () => { window.location.href = `/console/p/${select.value}/`; });
  const logout = $("#logout");
  if (logout) logout.addEventListener("click", async () => {
    await call("DELETE", "/api/session");
    window.location.href = "/console/login";
  });
}

// ---------------------------------------------------------------- catalog
async function initCatalog() {
  const rows = document.querySelectorAll("#catalog tbody tr");
  for (const row of rows) {  // one at a time: the server has other work too
    const cell = row.querySelector(".lint");
    const r = await call("POST", api("/lint"), { definition: row.dataset.definition, name: row.dataset.cohort });
    cell.textContent = "";
    if (!r.ok) { cell.append(el("span", { class: "badge warn" }, r.body.error.code)); continue; }
    if (r.body.warnings.length === 0) cell.append(el("span", { class: "badge ok" }, "clean"));
    for (const w of r.body.warnings) cell.append(el("span", { class: "badge warn", title: w.message }, w.code));
  }
}

// ----------------------------------------------------------------- editor
function escapeHtml(s) {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// Redraw the gutter and the highlight layer under the textarea; mark line/column of an error.
function drawEditor(text, error) {
  const lines = text.split("\n");
  $("#gutter").innerHTML = lines.map((_, i) =>
    (error && error.line === i + 1) ? `<span class="err">${i + 1}</span>` : `${i + 1}`).join("\n");
  $("#backdrop").innerHTML = lines.map((line, i) => {
    if (!error || error.line !== i + 1) return escapeHtml(line);
    const col = Math.max(0, (error.column || 1) - 1);
    const at = line.slice(col, col + 1) || " ";
    return `<span class="err-line">${escapeHtml(line.slice(0, col))}<span class="err-col">${escapeHtml(at)}</span>${escapeHtml(line.slice(col + 1))}</span>`;
  }).join("\n") + "\n";
}

function showPlan(steps) {
  const body = $("#plan tbody");
  body.textContent = "";
  for (const s of steps) {
    const text = el("td", { style: `padding-left: ${0.5 + s.depth}em` }, el("code", {}, s.text));
    body.append(el("tr", {}, text, el("td", { class: "num" }, s.size.toLocaleString("en-US")),
      el("td", { class: "num" }, s.millis.toFixed(1))));
  }
}

function initEditor() {
  const page = $("#editor-page");
  if (!page) return;
  const area = $("#definition");
  const status = $("#status");
  const editing = page.dataset.editing;
  let generation = 0;

  const check = async () => {
    const text = area.value;
    const mine = ++generation;
    if (!text.trim()) { drawEditor(text, null); status.textContent = "Type a definition."; status.className = "status"; return; }
    const name = $("#cohort-name").value.trim() || null;
    const lint = await call("POST", api("/lint"), { definition: text, name });
    if (mine !== generation) return;  // a newer keystroke won
    const warnings = $("#warnings");
    warnings.textContent = "";
    if (!lint.ok) {
      const e = lint.body.error;
      drawEditor(text, e.line ? e : null);
      status.className = "status bad";
      status.textContent = e.message;  // the server's text: "line 2, column 7: ..."
      $("#live-size").textContent = "–";
      showPlan([]);
      return;
    }
    drawEditor(text, null);
    status.className = "status ok";
    status.textContent = "✓ Valid definition";
    for (const w of lint.body.warnings) warnings.append(el("li", {}, `${w.code}: ${w.message}`));
    const [size, plan] = await Promise.all([
      call("POST", api("/evaluate"), { definition: text }),
      call("POST", api("/explain"), { definition: text }),
    ]);
    if (mine !== generation) return;
    if (size.ok) $("#live-size").textContent = size.body.size.toLocaleString("en-US");
    if (plan.ok) showPlan(plan.body.steps);
  };
  const later = debounce(check, 250);
  area.addEventListener("input", () => { drawEditor(area.value, null); later(); });
  area.addEventListener("scroll", () => { $("#backdrop").scrollTop = area.scrollTop; });
  drawEditor(area.value, null);
  if (area.value.trim()) check();

  $("#save").addEventListener("click", async () => {
    const name = $("#cohort-name").value.trim();
    const body = { definition: area.value, description: $("#cohort-description").value, note: $("#note").value };
    const r = editing
      ? await call("PATCH", api(`/cohorts/${encodeURIComponent(editing)}`), body)
      : await call("POST", api("/cohorts"), { name, ...body });
    if (r.ok) {
      window.location.href = `/console/p/${encodeURIComponent(project())}/cohorts/${encodeURIComponent(r.body.cohort.name)}`;
    } else {
      const e = r.body.error;
      $("#save-error").textContent = `${e.code}: ${e.message}`;
      if (e.line) drawEditor(area.value, e);
    }
  });
}

// ------------------------------------------------------------ cohort page
function initCohort() {
  const page = $("#cohort-page");
  if (!page) return;
  const name = page.dataset.cohort;
  const archive = $("#archive");
  if (archive) archive.addEventListener("click", async () => {
    const r = await call("POST", api(`/cohorts/${encodeURIComponent(name)}/${archive.dataset.action}`));
    if (r.ok) window.location.reload();
  });
  const feed = $("#feed");
  const source = new EventSource(api(`/watch?cohort=${encodeURIComponent(name)}`));
  let first = true;
  source.addEventListener("change", (ev) => {
    const c = JSON.parse(ev.data);
    if (first) { feed.textContent = ""; first = false; }
    const when = new Date(c.time_ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
    const sample = (ids) => ids.slice(0, 5).join(", ") + (ids.length > 5 ? ", …" : "");
    feed.prepend(el("li", {}, `v${c.version} ${when}: `,
      el("span", { class: "in" }, `+${c.entered.length}`), " ", el("span", { class: "out" }, `−${c.exited.length}`),
      el("div", { class: "sub" }, [c.entered.length ? `in: ${sample(c.entered)}` : "", c.exited.length ? ` out: ${sample(c.exited)}` : ""].join(" "))));
    const size = $("#cohort-size");
    const now = parseInt(size.textContent.replace(/,/g, ""), 10) + c.entered.length - c.exited.length;
    size.textContent = now.toLocaleString("en-US");
  });
  source.addEventListener("error", (ev) => {
    if (ev.data) feed.prepend(el("li", { class: "error" }, JSON.parse(ev.data).message));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  initHeader();
  initLogin();
  initCatalog();
  initEditor();
  initCohort();
});

// -------------------------------------------------- personas and audiences
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll(".save-persona")) {
    button.addEventListener("click", async () => {
      const card = button.closest(".persona");
      const name = card.querySelector(".save-name").value.trim();
      const r = await call("POST", api("/cohorts"), { name, definition: button.dataset.definition, note: button.dataset.note });
      if (r.ok) window.location.href = `/console/p/${encodeURIComponent(project())}/cohorts/${encodeURIComponent(name)}`;
      else card.querySelector(".save-error").textContent = `${r.body.error.code}: ${r.body.error.message}`;
    });
  }
  for (const button of document.querySelectorAll(".audience-action")) {
    button.addEventListener("click", async () => {
      const name = button.closest("tr").dataset.audience;
      const r = await call("POST", api(`/audiences/${encodeURIComponent(name)}/${button.dataset.action}`));
      if (r.ok) window.location.reload();
    });
  }
});

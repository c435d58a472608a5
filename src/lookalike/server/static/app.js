// lookalike web UI: plain JavaScript over the REST API (/docs). No build step, no CDN.
"use strict";

const main = document.getElementById("main");
let info = null;
let timer = null;

const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const when = (t) => t ? new Date(t * 1000).toLocaleString() : "";
const mb = (b) => b >= 1e6 ? (b / 1e6).toFixed(1) + " MB" : (b / 1e3).toFixed(1) + " kB";
const secs = (s) => s == null ? "–" : s < 90 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;

class ApiError extends Error { constructor(status, detail) { super(detail); this.status = status; } }

async function api(method, path, body) {
  const opts = {method, headers: {}};
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["content-type"] = "application/json"; }
  const r = await fetch(path, opts);
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({detail: r.statusText}));
  if (!r.ok) {
    if (r.status === 401) { showLogin(); }
    throw new ApiError(r.status, data.detail || r.statusText);
  }
  return data;
}

function showLogin() {
  main.innerHTML = `<h1>API token</h1><div class="card"><p>This server requires its API token.</p>
    <form id="login" class="row"><input id="token" type="password" placeholder="token" size="40"><button>Continue</button></form></div>`;
  document.getElementById("login").onsubmit = (e) => {
    e.preventDefault();
    document.cookie = `lookalike_token=${encodeURIComponent(document.getElementById("token").value)}; path=/; SameSite=Strict`;
    route();
  };
}

function fail(err) {
  if (err instanceof ApiError && err.status === 401) return;
  main.insertAdjacentHTML("afterbegin", `<div class="error">${esc(err.message)}</div>`);
}

function statusCell(job) {
  return `<span class="status ${esc(job.status)}">${esc(job.status)}</span>`;
}

// --- pages -----------------------------------------------------------------------------
async function datasetsPage() {
  const [datasets, jobs, schemas] = await Promise.all([api("GET", "/api/datasets"), api("GET", "/api/jobs"), api("GET", "/api/schemas")]);
  main.innerHTML = `
    <h1>Datasets</h1>
    <div class="drop" id="drop" tabindex="0">
      <strong>Drop a CSV or Parquet file here</strong> or click to choose one<br>
      <span class="muted">${esc(info.upload_types.join(", "))} · up to ${mb(info.max_upload_bytes)}</span>
      <input type="file" id="file" hidden accept="${esc(info.upload_types.join(","))}">
    </div>
    <p id="upload-status" class="muted"></p>
    ${datasets.length ? `<table id="datasets"><tr><th>Name</th><th>Rows</th><th>Columns</th><th>Size</th><th>Uploaded</th><th></th></tr>
      ${datasets.map((d) => `<tr><td><a href="#/datasets/${d.id}">${esc(d.name)}</a></td><td>${d.rows}</td>
        <td>${d.columns.length}</td><td>${mb(d.size_bytes)}</td><td>${when(d.created_at)}</td>
        <td><a href="/api/datasets/${d.id}/download">download</a></td></tr>`).join("")}</table>`
      : `<p class="muted">No datasets yet: upload one to start.</p>`}
    <h2>Related tables</h2>
    <div class="card" id="related">
      <p class="muted" style="margin-top:0">Several files linked by keys (users and their purchases): pick them, check the keys lookalike proposes, train one model for all of them.</p>
      ${datasets.length >= 2 ? `<form id="link">
        <div class="row">${datasets.map((d) => `<label style="font-weight:400"><input type="checkbox" name="link" value="${d.id}"> ${esc(d.name)}</label>`).join("")}</div>
        <p class="row"><button>Link the selected tables</button><span id="link-status" class="muted"></span></p></form>`
        : `<p class="muted">Upload two or more datasets to link them.</p>`}
      ${schemas.length ? `<table id="schemas"><tr><th>Related tables</th><th>Tables</th><th>Changed</th></tr>
        ${schemas.map((sc) => `<tr><td><a href="#/schemas/${sc.id}">${esc(sc.name)}</a></td><td>${sc.tables.map((t) => esc(t.name)).join(", ")}</td>
          <td>${when(sc.updated_at || sc.created_at)}</td></tr>`).join("")}</table>` : ""}
    </div>
    ${jobs.length ? `<h2>Recent jobs</h2>${jobsTable(jobs.slice(0, 8))}` : ""}`;
  const link = document.getElementById("link");
  if (link) link.onsubmit = async (e) => {
    e.preventDefault();
    const picked = [...link.querySelectorAll("input[name=link]:checked")].map((c) => ({dataset_id: c.value}));
    const status = document.getElementById("link-status");
    if (picked.length < 2) { status.innerHTML = `<span class="error">pick two or more datasets</span>`; return; }
    status.textContent = "Reading the tables and proposing keys…";
    try { const sc = await api("POST", "/api/schemas", {tables: picked}); location.hash = `#/schemas/${sc.id}`; }
    catch (err) { status.innerHTML = `<span class="error">${esc(err.message)}</span>`; }
  };
  const drop = document.getElementById("drop"), input = document.getElementById("file");
  drop.onclick = () => input.click();
  drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]); };
  input.onchange = () => input.files[0] && upload(input.files[0]);
}

async function upload(file) {
  const status = document.getElementById("upload-status");
  if (file.size > info.max_upload_bytes) { status.innerHTML = `<span class="error">${esc(file.name)} is ${mb(file.size)}; the limit is ${mb(info.max_upload_bytes)}</span>`; return; }
  status.textContent = `Uploading ${file.name} (${mb(file.size)})…`;
  const form = new FormData();
  form.append("file", file);
  try {
    const d = await api("POST", "/api/datasets", form);
    location.hash = `#/datasets/${d.id}`;
  } catch (err) { status.innerHTML = `<span class="error">${esc(err.message)}</span>`; }
}

async function datasetPage(id) {
  const [d, models] = await Promise.all([api("GET", `/api/datasets/${id}`), api("GET", `/api/models?dataset_id=${id}`)]);
  const kinds = info.column_types.filter((k) => k !== "exclude");
  const names = d.columns.map((c) => c.name);
  main.innerHTML = `
    <h1>${esc(d.name)}</h1>
    <p class="muted">${d.rows} rows · ${d.columns.length} columns · ${mb(d.size_bytes)} · uploaded ${when(d.created_at)}</p>
    <h2>Preview</h2>
    <div class="scroll"><table><tr>${names.map((n) => `<th>${esc(n)}</th>`).join("")}</tr>
      ${d.preview.map((r) => `<tr>${names.map((n) => `<td>${r[n] === null ? '<span class="muted">null</span>' : esc(r[n])}</td>`).join("")}</tr>`).join("")}</table></div>
    <form id="settings">
    <h2>Data settings</h2>
    <table id="columns"><tr><th>Include</th><th>Column</th><th>Detected</th><th>Type</th><th>Nulls</th><th>Distinct</th></tr>
      ${d.columns.map((c, i) => `<tr><td><input type="checkbox" name="include" data-col="${i}" checked></td>
        <td>${esc(c.name)}</td><td class="kind">${esc(c.kind)}</td>
        <td><select name="kind" data-col="${i}"><option value="">as detected</option>${kinds.map((k) => `<option>${k}</option>`).join("")}</select></td>
        <td>${(100 * (c.null_share || 0)).toFixed(1)}%</td><td>${c.n_unique ?? ""}</td></tr>`).join("")}</table>
    <div class="grid" style="margin-top:.8rem">
      <div><label><input type="checkbox" id="rare" checked> Rare-category protection<small>categories held by fewer than ~5–7 rows never appear</small></label></div>
      <div><label><input type="checkbox" id="valprot" checked> Value protection<small>extremes never set numeric ranges</small></label></div>
      <div><label><input type="checkbox" id="dp"> Differential privacy<small>a mathematical guarantee per person, at some cost in accuracy</small></label></div>
      <div><label for="dpeps">Privacy budget ε<small>with differential privacy: 1 strong, 10 weak</small></label><input id="dpeps" type="number" min="0.01" step="any" value="5"></div>
    </div>
    <div id="text-options" hidden>
    <h2>Text columns</h2>
    <div class="grid">
      <div><label for="textmodel">Pretrained text model (local folder)<small>a Hugging Face causal language model folder on the server's machine, fine-tuned on the text columns; empty: the built-in text model</small></label><input id="textmodel" placeholder="/models/gpt2"></div>
    </div>
    </div>
    <h2>Training settings</h2>
    <div class="grid">
      <div><label for="size">Training size (rows)<small>empty: all ${d.rows} rows</small></label><input id="size" type="number" min="1"></div>
      <div><label for="time">Max training time (s)<small>empty: until it stops improving</small></label><input id="time" type="number" min="1" step="any" value="60"></div>
      <div><label for="epochs">Max epochs<small>empty: default (200)</small></label><input id="epochs" type="number" min="1"></div>
      <div><label for="patience">Patience (epochs)<small>stop after this many epochs without improvement; empty: 5</small></label><input id="patience" type="number" min="1"></div>
      <div><label for="seed">Seed<small>same seed, same model (CPU)</small></label><input id="seed" type="number" value="1"></div>
    </div>
    <p class="row" style="margin-top:1.2rem"><button id="create">Create synthetic dataset</button>
      <span class="muted">Training runs in the background; you can leave this page.</span></p>
    </form>
    ${models.length ? `<h2>Models trained on this dataset</h2>${modelsTable(models)}` : ""}
    <p><button class="danger" id="delete">Delete dataset</button></p>`;
  const textOptions = document.getElementById("text-options");
  const showText = () => {  // the text options, while an included column is (or is set to) text
    textOptions.hidden = !d.columns.some((c, i) => {
      const kind = main.querySelector(`select[name=kind][data-col="${i}"]`).value || c.kind;
      return main.querySelector(`input[name=include][data-col="${i}"]`).checked && kind === "text";
    });
  };
  main.querySelectorAll("select[name=kind], input[name=include]").forEach((el) => el.addEventListener("change", showText));
  showText();
  document.getElementById("settings").onsubmit = async (e) => {
    e.preventDefault();
    const types = {};
    main.querySelectorAll("select[name=kind]").forEach((s) => { if (s.value) types[names[s.dataset.col]] = s.value; });
    main.querySelectorAll("input[name=include]").forEach((c) => { if (!c.checked) types[names[c.dataset.col]] = "exclude"; });
    const options = {types, rare_category_protection: document.getElementById("rare").checked,
      value_protection: document.getElementById("valprot").checked};
    const num = (id) => document.getElementById(id).value === "" ? null : Number(document.getElementById(id).value);
    if (num("size") !== null) options.max_training_rows = num("size");
    if (num("time") !== null) options.max_training_time = num("time");
    if (num("epochs") !== null) options.max_epochs = num("epochs");
    if (num("patience") !== null) options.patience = num("patience");
    if (num("seed") !== null) options.seed = num("seed");
    if (document.getElementById("dp").checked) options.differential_privacy = num("dpeps") !== null ? {epsilon: num("dpeps")} : true;
    const textModel = document.getElementById("textmodel").value.trim();
    if (!textOptions.hidden && textModel) options.text_model = textModel;
    try {
      const job = await api("POST", `/api/datasets/${id}/train`, {options});
      location.hash = `#/jobs/${job.id}`;
    } catch (err) { fail(err); }
  };
  document.getElementById("delete").onclick = async () => {
    if (!confirm(`Delete ${d.name}? Models trained on it stay.`)) return;
    try { await api("DELETE", `/api/datasets/${id}`); location.hash = "#/"; } catch (err) { fail(err); }
  };
}

// --- related tables: a schema links datasets by keys ------------------------------------
function relationsList(tables) {
  const pk = Object.fromEntries(tables.map((t) => [t.name, t.primary_key]));
  const arrows = tables.flatMap((t) => t.foreign_keys.map((fk) => `<li><code>${esc(t.name)}.${esc(fk.column)}</code> → <code>${esc(fk.references)}.${esc(pk[fk.references] ?? "?")}</code>
    <span class="muted">${fk.context ? `(context: each ${esc(fk.references)} row owns its ${esc(t.name)} rows)` : "(a plain reference)"}</span></li>`));
  return arrows.length ? `<ul id="relations">${arrows.join("")}</ul>` : `<p id="relations" class="muted">No foreign keys: the tables are not linked yet. Add one below.</p>`;
}

function fkRow(fk, columns, names) {
  const opt = (v, sel) => `<option${v === sel ? " selected" : ""}>${esc(v)}</option>`;
  return `<tr class="fk"><td><select name="fk-column">${columns.map((c) => opt(c, fk.column)).join("")}</select></td>
    <td>→ <select name="fk-references">${names.map((n) => opt(n, fk.references)).join("")}</select></td>
    <td><label style="font-weight:400;margin:0"><input type="checkbox" name="fk-context"${fk.context ? " checked" : ""}> context</label></td>
    <td><button type="button" class="secondary" name="fk-remove">remove</button></td></tr>`;
}

function schemaTableCard(t, names, proposed) {
  const badge = (field) => proposed.includes(field) ? ` <span class="proposed">proposed</span>` : "";
  const opts = (sel, none) => `<option value="">${none}</option>` + t.columns.map((c) => `<option${c === sel ? " selected" : ""}>${esc(c)}</option>`).join("");
  return `<div class="card schema-table" data-table="${esc(t.name)}">
    <h3 style="margin:0 0 .3rem">${esc(t.name)} <span class="muted" style="font-weight:400">${t.rows} rows · ${t.columns.length} columns</span></h3>
    <div class="grid">
      <div><label>Primary key${badge("primary_key")}<small>unique per row; empty: lookalike proposes one</small></label><select name="pk">${opts(t.primary_key, "— (propose)")}</select></div>
      <div><label>Order by<small>orders each subject's events; empty: the first date column</small></label><select name="order">${opts(t.order_by, "auto")}</select></div>
    </div>
    <label>Foreign keys${badge("foreign_keys")}<small style="font-weight:400" class="muted">context: the referenced table owns these rows (a user's purchases); at most one per table</small></label>
    <table class="fks">${t.foreign_keys.map((fk) => fkRow(fk, t.columns, names)).join("")}</table>
    <p><button type="button" class="secondary" name="fk-add">Add foreign key</button></p>
  </div>`;
}

function schemaTables() {  // the keys as the form shows them, for PATCH
  return [...main.querySelectorAll(".schema-table")].map((card) => ({
    name: card.dataset.table,
    primary_key: card.querySelector("select[name=pk]").value || null,
    order_by: card.querySelector("select[name=order]").value || null,
    foreign_keys: [...card.querySelectorAll("tr.fk")].map((tr) => ({column: tr.querySelector("[name=fk-column]").value,
      references: tr.querySelector("[name=fk-references]").value, context: tr.querySelector("[name=fk-context]").checked})),
  }));
}

async function schemaPage(id) {
  const [sc, models] = await Promise.all([api("GET", `/api/schemas/${id}`), api("GET", `/api/models?schema_id=${id}`)]);
  const names = sc.tables.map((t) => t.name);
  main.innerHTML = `
    <h1>${esc(sc.name)}</h1>
    <p class="muted">Related tables: ${sc.tables.map((t) => `${esc(t.name)} (${t.rows} rows)`).join(", ")}. Keys marked <span class="proposed">proposed</span> were found by lookalike; check them.</p>
    <h2>Relationships</h2>
    ${relationsList(sc.tables)}
    ${Object.keys(sc.orphans).length ? `<p class="muted">Rows dropped because their keys do not resolve: ${Object.entries(sc.orphans).map(([t, n]) => `${esc(t)} ${n}`).join(", ")}</p>` : ""}
    <form id="keys">
      <h2>Keys</h2>
      ${sc.tables.map((t) => schemaTableCard(t, names, sc.proposed[t.name] || [])).join("")}
      <p class="row"><button class="secondary" id="save-keys">Save keys</button><span id="keys-status" class="muted"></span></p>
    </form>
    <form id="train-tables" class="card">
      <h2 style="margin-top:0">Train</h2>
      <div class="grid">
        <div><label for="rtime">Time budget (s)<small>for all tables together; empty: until they stop improving</small></label><input id="rtime" type="number" min="1" step="any" value="60"></div>
        <div><label for="repochs">Max epochs<small>empty: default (200)</small></label><input id="repochs" type="number" min="1"></div>
        <div><label for="rseed">Seed</label><input id="rseed" type="number" value="1"></div>
      </div>
      <p class="row"><button id="train-schema">Train on these tables</button><span class="muted">The keys above are saved first; training runs in the background.</span></p>
    </form>
    ${models.length ? `<h2>Models trained on these tables</h2>${modelsTable(models)}` : ""}
    <p><button class="danger" id="delete-schema">Delete these links</button> <span class="muted">(the datasets and models stay)</span></p>`;
  const status = document.getElementById("keys-status");
  const save = async () => {
    status.textContent = "Checking the keys…";
    try { await api("PATCH", `/api/schemas/${id}`, {tables: schemaTables()}); return true; }
    catch (err) { status.innerHTML = `<span class="error">${esc(err.message)}</span>`; return false; }
  };
  main.querySelectorAll("button[name=fk-add]").forEach((b) => b.onclick = () => {
    const t = sc.tables.find((x) => x.name === b.closest(".schema-table").dataset.table);
    b.closest(".schema-table").querySelector("table.fks").insertAdjacentHTML("beforeend",
      fkRow({column: t.columns[0], references: names.find((n) => n !== t.name), context: false}, t.columns, names));
  });
  document.getElementById("keys").addEventListener("click", (e) => { if (e.target.name === "fk-remove") e.target.closest("tr").remove(); });
  document.getElementById("keys").onsubmit = async (e) => {
    e.preventDefault();
    if (await save()) { await schemaPage(id); document.getElementById("keys-status").textContent = "Saved."; }
  };
  document.getElementById("train-tables").onsubmit = async (e) => {
    e.preventDefault();
    if (!await save()) return;
    const num = (i) => document.getElementById(i).value === "" ? null : Number(document.getElementById(i).value);
    const options = {};
    if (num("rtime") !== null) options.max_training_time = num("rtime");
    if (num("repochs") !== null) options.max_epochs = num("repochs");
    if (num("rseed") !== null) options.seed = num("rseed");
    try { const job = await api("POST", `/api/schemas/${id}/train`, {options}); location.hash = `#/jobs/${job.id}`; } catch (err) { fail(err); }
  };
  document.getElementById("delete-schema").onclick = async () => {
    if (!confirm(`Delete the links of ${sc.name}? The datasets and models stay.`)) return;
    try { await api("DELETE", `/api/schemas/${id}`); location.hash = "#/"; } catch (err) { fail(err); }
  };
}

function jobsTable(jobs) {
  return `<table id="jobs"><tr><th>Job</th><th>Kind</th><th>Status</th><th>Started</th><th>Result / error</th></tr>
    ${jobs.map((j) => `<tr><td><a href="#/jobs/${j.id}">${j.id}</a></td><td>${j.kind}</td><td>${statusCell(j)}</td>
      <td>${when(j.started_at || j.created_at)}</td><td>${j.error ? esc(j.error) : j.result_id ? resultLink(j) : ""}</td></tr>`).join("")}</table>`;
}

function resultLink(job) {
  const where = {train: "models", train_tables: "models", generate: "outputs", report: "reports"}[job.kind];
  if (where === "outputs") return `<a href="/api/outputs/${job.result_id}/download">download</a>`;
  return `<a href="#/${where}/${job.result_id}">open</a>`;
}

async function jobsPage() {
  main.innerHTML = `<h1>Jobs</h1>${jobsTable(await api("GET", "/api/jobs"))}`;
}

async function jobPage(id) {
  const job = await api("GET", `/api/jobs/${id}`);
  if (location.hash !== `#/jobs/${id}`) return;  // the user moved on while we fetched
  const p = job.progress || {};
  const active = job.status === "queued" || job.status === "running";
  let pct = null;
  if (p.phase === "training" && p.epoch) pct = p.eta != null ? p.elapsed / (p.elapsed + p.eta) : p.epoch / p.max_epochs;
  const perTable = p.tables ? Object.entries(p.tables) : [];  // related tables: each table's state
  if (p.phase === "training" && perTable.length) {
    pct = perTable.reduce((sum, [, t]) => sum + (t.state === "done" ? 1 : t.state === "training" ? 0.5 : 0), 0) / perTable.length;
  }
  if (job.status === "succeeded") pct = 1;
  const title = {train: "Training", train_tables: "Training related tables", generate: "Generating", report: "QA report"}[job.kind];
  main.innerHTML = `
    <h1>${title} <span class="status ${job.status}">${job.status}</span></h1>
    <div class="card" id="progress">
      <div class="bar ${active && pct === null ? "indeterminate" : ""}"><div style="width:${pct === null ? (active ? 30 : 0) : Math.round(100 * pct)}%"></div></div>
      <dl class="facts">
        <dt>Phase</dt><dd>${esc(active ? (p.phase || "waiting for the worker") : job.status)}</dd>
        ${p.epoch ? `<dt>Epoch</dt><dd>${p.epoch} of at most ${p.max_epochs}</dd>
          <dt>Loss</dt><dd>${p.train_loss == null ? "not measured (differential privacy)" : `train ${p.train_loss.toFixed(4)} · validation ${p.val_loss.toFixed(4)} (best ${p.best_val_loss.toFixed(4)})`}</dd>
          <dt>Elapsed</dt><dd>${secs(p.elapsed)}</dd><dt>Time left</dt><dd>${active ? secs(p.eta) : "–"}</dd>` : ""}
        <dt>Started</dt><dd>${when(job.started_at) || "queued"}</dd>
        ${job.finished_at ? `<dt>Finished</dt><dd>${when(job.finished_at)}</dd>` : ""}
      </dl>
      ${perTable.length ? `<table id="table-progress"><tr><th>Table</th><th>State</th><th>Training rows</th><th>Epochs</th><th>Time</th></tr>
        ${perTable.map(([name, t]) => `<tr data-table="${esc(name)}"><td>${esc(name)}</td><td class="state">${esc(t.state)}</td><td>${t.rows ?? ""}</td>
          <td>${t.epochs ?? ""}</td><td>${t.seconds != null ? secs(t.seconds) : ""}</td></tr>`).join("")}</table>` : ""}
      ${job.error ? `<div class="error">${esc(job.error)}</div>` : ""}
      <p class="row">${active ? `<button class="danger" id="cancel">Cancel</button>` : ""}
        ${job.status === "succeeded" ? nextStep(job) : ""}</p>
    </div>`;
  if (active) {
    document.getElementById("cancel").onclick = async () => { try { await api("POST", `/api/jobs/${id}/cancel`); jobPage(id); } catch (err) { fail(err); } };
    timer = setTimeout(() => jobPage(id).catch(fail), 700);
  } else if (job.status === "succeeded") {
    location.hash = {train: `#/models/${job.result_id}`, train_tables: `#/models/${job.result_id}`, generate: `#/models/${job.target_id}`, report: `#/reports/${job.result_id}`}[job.kind];
  }
}

function nextStep(job) {
  if (job.kind === "train" || job.kind === "train_tables") return `<a class="button" href="#/models/${job.result_id}">Generate data</a>`;
  if (job.kind === "generate") return `<a class="button" href="#/models/${job.target_id}">Back to the model</a>`;
  return `<a class="button" href="#/reports/${job.result_id}">Open the report</a>`;
}

function modelsTable(models) {
  return `<table id="models"><tr><th>Model</th><th>Columns</th><th>Trained on</th><th>Epochs</th><th>Created</th></tr>
    ${models.map((m) => `<tr><td><a href="#/models/${m.id}">${esc(m.name)}</a></td><td>${m.columns.length}</td>
      <td>${m.tables ? m.tables.map((t) => `${esc(t.name)} ${t.rows}`).join(", ") : m.training.rows ?? "?"} rows</td>
      <td>${m.tables ? "per table" : m.training.epochs ?? "?"}</td><td>${when(m.created_at)}</td></tr>`).join("")}</table>`;
}

async function modelsPage() {
  const models = await api("GET", "/api/models");
  main.innerHTML = `<h1>Models</h1>
    ${models.length ? modelsTable(models) : `<p class="muted">No models yet: upload a dataset and create a synthetic dataset.</p>`}
    <h2>Upload a model file</h2>
    <form id="model-upload" class="row"><input type="file" id="model-file" accept=".lookalike"><button>Upload</button></form>`;
  document.getElementById("model-upload").onsubmit = async (e) => {
    e.preventDefault();
    const f = document.getElementById("model-file").files[0];
    if (!f) return;
    const form = new FormData();
    form.append("file", f);
    try { const m = await api("POST", "/api/models", form); location.hash = `#/models/${m.id}`; } catch (err) { fail(err); }
  };
}

async function modelPage(id) {
  const [m, outputs, reports, datasets] = await Promise.all([api("GET", `/api/models/${id}`),
    api("GET", `/api/outputs?model_id=${id}`), api("GET", `/api/reports?model_id=${id}`), api("GET", "/api/datasets")]);
  if (m.kind === "relational") return relationalModelPage(m, outputs, reports);
  const controls = new Set(info.generation_controls);
  const cats = m.columns.filter((c) => c.kind === "categorical" || c.kind === "boolean");
  const reportOf = Object.fromEntries(reports.map((r) => [r.output_id, r]));
  main.innerHTML = `
    <h1>${esc(m.name)}</h1>
    <div class="tabs"><a class="active" href="#/models/${id}">Generate</a>
      ${reports.length ? `<a href="#/reports/${reports[0].id}">QA report</a>` : `<a class="muted" title="Generate data, then create its report">QA report</a>`}</div>
    <div class="card"><dl class="facts">
      <dt>Columns</dt><dd>${m.columns.map((c) => `${esc(c.name)} <span class="kind muted">${esc(c.kind)}</span>`).join(", ")}</dd>
      <dt>Training</dt><dd>${m.training.rows ?? "?"} rows, ${m.training.epochs ?? "?"} epochs, ${secs(m.training.seconds)}, stopped by ${esc(m.training.stopped_by ?? "?")}</dd>
      ${m.training.columns_stopped_early ? `<dt>Stopped early</dt><dd title="These columns began to overfit before the rest: their layers went back to their best epoch and stopped training while the others went on">${Object.entries(m.training.columns_stopped_early).map(([c, e]) => `${esc(c)} <span class="muted">(epoch ${e})</span>`).join(", ")}</dd>` : ""}
      ${m.training.text ? `<dt>Text model</dt><dd>${m.config.text_model ? `${esc(m.training.text.model ?? "pretrained")}, fine-tuned from ${esc(m.config.text_model)}` : "built-in"}</dd>` : ""}
      ${m.training.differential_privacy ? `<dt>Differential privacy</dt><dd>ε ${m.training.differential_privacy.epsilon_spent} spent (of ${m.training.differential_privacy.epsilon}), δ ${m.training.differential_privacy.delta_spent}</dd>` : ""}
      <dt>Model file</dt><dd><a href="/api/models/${id}/download">download .lookalike</a> <span class="muted">(no training rows in it)</span></dd>
    </dl></div>
    <form id="generate" class="card">
      <h2 style="margin-top:0">Generate</h2>
      <div class="grid">
        <div><label for="rows">Rows</label><input id="rows" type="number" min="1" value="${m.training.rows || 1000}"></div>
        <div><label for="gseed">Seed</label><input id="gseed" type="number" value="1"></div>
        <div><label for="temp">Temperature<small>&lt; 1 typical, &gt; 1 diverse</small></label><input id="temp" type="number" min="0.05" max="10" step="0.05" value="1"></div>
        <div><label for="format">Format</label><select id="format"><option value="csv">CSV</option><option value="parquet">Parquet</option></select></div>
        ${controls.has("seed_data") ? `<div><label for="seedfile">Seed file<small>one row per seed row; upload it as a dataset</small></label>
          <select id="seedfile"><option value="">none</option>${datasets.map((d) => `<option value="${d.id}">${esc(d.name)}</option>`).join("")}</select></div>` : ""}
        ${controls.has("rebalance") && cats.length ? `<div><label for="rebcol">Rebalance<small>column and category=share, e.g. female=0.5</small></label>
          <select id="rebcol"><option value="">none</option>${cats.map((c) => `<option>${esc(c.name)}</option>`).join("")}</select>
          <input id="rebshares" placeholder="category=share, …"></div>` : ""}
      </div>
      ${controls.has("impute") ? `<label>Smart imputation: never leave these columns empty</label>
        <div class="row">${m.columns.map((c) => `<label style="font-weight:400"><input type="checkbox" name="impute" value="${esc(c.name)}"> ${esc(c.name)}</label>`).join("")}</div>` : ""}
      <p><button id="gen">Generate</button></p>
    </form>
    <h2>Generated data</h2>
    ${outputs.length ? `<table id="outputs"><tr><th>Rows</th><th>Settings</th><th>Created</th><th>Download</th><th>QA</th></tr>
      ${outputs.map((o) => `<tr><td>${o.rows}</td><td class="muted">seed ${o.params.seed ?? "–"}, temperature ${o.params.temperature ?? 1}${o.params.rebalance ? ", rebalanced" : ""}${o.params.seed_dataset_id ? ", seeded" : ""}${o.params.impute ? ", imputed" : ""}</td>
        <td>${when(o.created_at)}</td>
        <td><a href="/api/outputs/${o.id}/download?format=csv" class="dl-csv">CSV</a> · <a href="/api/outputs/${o.id}/download?format=parquet">Parquet</a></td>
        <td>${reportOf[o.id] ? `<a href="#/reports/${reportOf[o.id].id}">open report</a>` : m.has_qa_data ? `<button class="secondary" data-report="${o.id}">Create QA report</button>` : `<span class="muted">uploaded model: no QA data</span>`}</td></tr>`).join("")}</table>`
      : `<p class="muted">Nothing generated yet.</p>`}`;
  document.getElementById("generate").onsubmit = async (e) => {
    e.preventDefault();
    const val = (i) => document.getElementById(i)?.value ?? "";
    const body = {rows: Number(val("rows")), temperature: Number(val("temp")), format: val("format")};
    if (val("gseed") !== "") body.seed = Number(val("gseed"));
    if (val("seedfile")) { body.seed_dataset_id = val("seedfile"); delete body.rows; }
    if (val("rebcol") && val("rebshares")) {
      const shares = {};
      for (const part of val("rebshares").split(",")) { const [k, v] = part.split("="); if (k && v) shares[k.trim()] = Number(v); }
      body.rebalance = {[val("rebcol")]: shares};
    }
    const imp = [...main.querySelectorAll("input[name=impute]:checked")].map((c) => c.value);
    if (imp.length) body.impute = imp;
    try { const job = await api("POST", `/api/models/${id}/generate`, body); location.hash = `#/jobs/${job.id}`; } catch (err) { fail(err); }
  };
  main.querySelectorAll("button[data-report]").forEach((b) => b.onclick = async () => {
    try { const job = await api("POST", `/api/outputs/${b.dataset.report}/report`, {}); location.hash = `#/jobs/${job.id}`; } catch (err) { fail(err); }
  });
}

function relationalModelPage(m, outputs, reports) {
  const id = m.id;
  const reportOf = Object.fromEntries(reports.map((r) => [r.output_id, r]));
  const subjects = m.tables.filter((t) => t.parent === null);
  const children = (name) => m.tables.filter((t) => t.parent === name).map((t) => esc(t.name)).join(" and ");
  const describe = (t) => t.parent === null ? `subject table, ${t.rows} rows${t.primary_key ? `, key ${esc(t.primary_key)}` : ""}`
    : `rows of ${esc(t.parent)} (via ${esc(t.parent_fk)})${t.order_by ? `, ordered by ${esc(t.order_by)}` : ""}, ${t.rows} rows`;
  const fileOf = {zip: "zip", sqlite: "SQLite"};
  main.innerHTML = `
    <h1>${esc(m.name)}</h1>
    <div class="tabs"><a class="active" href="#/models/${id}">Generate</a>
      ${reports.length ? `<a href="#/reports/${reports[0].id}">QA report</a>` : `<a class="muted" title="Generate data, then create its report">QA report</a>`}</div>
    <div class="card"><dl class="facts">
      <dt>Related tables</dt><dd>${m.tables.map((t) => `<b>${esc(t.name)}</b> <span class="muted">${describe(t)}</span>`).join("<br>")}</dd>
      <dt>Training</dt><dd>${secs(m.training.seconds)} for all tables</dd>
      <dt>Model file</dt><dd><a href="/api/models/${id}/download">download .lookalike</a> <span class="muted">(no training rows in it)</span></dd>
    </dl></div>
    <form id="generate" class="card">
      <h2 style="margin-top:0">Generate</h2>
      <div class="grid">
        ${subjects.map((t) => `<div><label>${esc(t.name)} rows<small>${children(t.name) ? `their ${children(t.name)} follow from the model` : "subject table"}</small></label>
          <input name="size" data-table="${esc(t.name)}" type="number" min="1" value="${t.rows}"></div>`).join("")}
        <div><label for="gseed">Seed</label><input id="gseed" type="number" value="1"></div>
        <div><label for="temp">Temperature<small>&lt; 1 typical, &gt; 1 diverse</small></label><input id="temp" type="number" min="0.05" max="10" step="0.05" value="1"></div>
        <div><label for="format">Format</label><select id="format"><option value="csv">zip of CSV files</option><option value="parquet">zip of Parquet files</option><option value="sqlite">SQLite file</option></select></div>
      </div>
      <p><button id="gen">Generate</button></p>
    </form>
    <h2>Generated data</h2>
    ${outputs.length ? `<table id="outputs"><tr><th>Rows</th><th>Settings</th><th>Created</th><th>Download</th><th>QA</th></tr>
      ${outputs.map((o) => `<tr><td>${Object.entries(o.tables || {}).map(([t, n]) => `${esc(t)} ${n}`).join(" · ")}</td>
        <td class="muted">seed ${o.params.seed ?? "–"}, temperature ${o.params.temperature ?? 1}</td><td>${when(o.created_at)}</td>
        <td><a href="/api/outputs/${o.id}/download" class="dl-tables">${o.file.endsWith(".sqlite") ? fileOf.sqlite : `${fileOf.zip} (${esc(o.params.format || "csv")})`}</a></td>
        <td>${reportOf[o.id] ? `<a href="#/reports/${reportOf[o.id].id}">open report</a>` : m.has_qa_data ? `<button class="secondary" data-report="${o.id}">Create QA report</button>` : `<span class="muted">uploaded model: no QA data</span>`}</td></tr>`).join("")}</table>`
      : `<p class="muted">Nothing generated yet.</p>`}`;
  document.getElementById("generate").onsubmit = async (e) => {
    e.preventDefault();
    const sizes = Object.fromEntries([...main.querySelectorAll("input[name=size]")].filter((i) => i.value !== "").map((i) => [i.dataset.table, Number(i.value)]));
    const body = {sizes, temperature: Number(document.getElementById("temp").value), format: document.getElementById("format").value};
    if (document.getElementById("gseed").value !== "") body.seed = Number(document.getElementById("gseed").value);
    try { const job = await api("POST", `/api/models/${id}/generate`, body); location.hash = `#/jobs/${job.id}`; } catch (err) { fail(err); }
  };
  main.querySelectorAll("button[data-report]").forEach((b) => b.onclick = async () => {
    try { const job = await api("POST", `/api/outputs/${b.dataset.report}/report`, {}); location.hash = `#/jobs/${job.id}`; } catch (err) { fail(err); }
  });
}

async function reportPage(id) {
  const r = await api("GET", `/api/reports/${id}`);
  const s = r.summary;
  const fmt = (v) => v == null ? "–" : typeof v === "number" ? v.toFixed(3) : esc(v);
  if (s.kind === "relational") {
    const figures = [["sequence_lengths", "events per subject"], ["univariate", "univariate"], ["bivariate", "bivariate"],
      ["parent_child", "parent × child"], ["coherence", "coherence"]];
    main.innerHTML = `
      <h1>Related-tables QA report</h1>
      <div class="tabs"><a href="#/models/${r.model_id}">Generate</a><a class="active" href="#/reports/${id}">QA report</a></div>
      <div class="card"><dl class="facts">
        ${Object.entries(s.tables).map(([t, e]) => `<dt>${esc(t)}</dt><dd>${figures.filter(([k]) => e.synthetic[k] != null).map(([k, label]) =>
          `${label} ${fmt(e.synthetic[k])}${e.holdout ? ` <span class="muted">(holdout ${fmt(e.holdout[k])})</span>` : ""}`).join(" · ")}</dd>`).join("")}
        <dt>Keys</dt><dd>${s.key_problems === 0 ? "every key unique and new, every foreign key resolves" : `<span class="status failed">${s.key_problems} key problem(s)</span>`}</dd>
        <dt>Files</dt><dd><a href="/api/reports/${id}/html?download=true">HTML</a> · <a href="/api/reports/${id}/json">JSON</a></dd>
      </dl></div>
      <iframe class="report" src="/api/reports/${id}/html" title="QA report"></iframe>`;
    return;
  }
  main.innerHTML = `
    <h1>QA report</h1>
    <div class="tabs"><a href="#/models/${r.model_id}">Generate</a><a class="active" href="#/reports/${id}">QA report</a></div>
    <div class="card"><dl class="facts">
      <dt>Accuracy</dt><dd>${fmt(s.accuracy)} <span class="muted">(holdout vs training: ${fmt(s.reference_accuracy)})</span></dd>
      <dt>DCR share</dt><dd>${fmt(s.dcr_share)} <span class="muted">(0.5 is ideal)</span></dd>
      <dt>Discriminator AUC</dt><dd>${fmt(s.discriminator_auc)} <span class="muted">(0.5 is ideal)</span>${s.discriminator_top_column ? ` · most telling column: <b>${esc(s.discriminator_top_column.column)}</b> (${fmt(s.discriminator_top_column.auc)} alone)` : ""}</dd>
      <dt>Files</dt><dd><a href="/api/reports/${id}/html?download=true">HTML</a> · <a href="/api/reports/${id}/json">JSON</a>${s.model_qa ? " · includes Model QA and Data QA" : ""}</dd>
    </dl></div>
    <iframe class="report" src="/api/reports/${id}/html" title="QA report"></iframe>`;
}

// --- router ----------------------------------------------------------------------------
const routes = [
  [/^#?\/?$/, datasetsPage], [/^#\/datasets\/([0-9a-f]{12})$/, datasetPage], [/^#\/jobs$/, jobsPage],
  [/^#\/jobs\/([0-9a-f]{12})$/, jobPage], [/^#\/models$/, modelsPage], [/^#\/models\/([0-9a-f]{12})$/, modelPage],
  [/^#\/reports\/([0-9a-f]{12})$/, reportPage], [/^#\/schemas\/([0-9a-f]{12})$/, schemaPage],
];

async function route() {
  clearTimeout(timer);
  try {
    info = info || await api("GET", "/api/info");
    for (const [re, page] of routes) {
      const m = location.hash.match(re);
      if (m) { await page(...m.slice(1)); return; }
    }
    main.innerHTML = `<p class="error">No such page.</p>`;
  } catch (err) { fail(err); }
}

window.addEventListener("hashchange", route);
route();

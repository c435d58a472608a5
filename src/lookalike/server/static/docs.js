// Renders the app's own OpenAPI description (/openapi.json) as a readable page, offline.
"use strict";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) return spec.components.schemas[schema.$ref.split("/").pop()];
  return schema;
}

function example(spec, schema, depth = 0) {
  schema = resolve(spec, schema);
  if (!schema || depth > 4) return null;
  if (schema.anyOf) return example(spec, schema.anyOf.find((s) => s.type !== "null") || schema.anyOf[0], depth + 1);
  if (schema.type === "object" || schema.properties) {
    const out = {};
    for (const [k, v] of Object.entries(schema.properties || {})) out[k] = example(spec, v, depth + 1);
    return out;
  }
  if (schema.type === "array") return [example(spec, schema.items, depth + 1)];
  if (schema.default !== undefined) return schema.default;
  return { string: "…", integer: 0, number: 0.0, boolean: false }[schema.type] ?? null;
}

function operation(spec, path, method, op) {
  const body = el("div", { class: "body" });
  if (op.description || op.summary) body.append(el("p", {}, op.description || op.summary));
  const params = op.parameters || [];
  if (params.length) {
    const t = el("table", { class: "params" }, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"),
      el("th", {}, "type"), el("th", {}, "required")));
    for (const p of params) {
      const s = resolve(spec, p.schema) || {};
      t.append(el("tr", {}, el("td", {}, p.name), el("td", {}, p.in), el("td", {}, s.type || (s.anyOf ? "optional" : "")),
        el("td", {}, p.required ? "yes" : "no")));
    }
    body.append(t);
  }
  const req = op.requestBody && op.requestBody.content;
  if (req) {
    const [type, media] = Object.entries(req)[0];
    body.append(el("p", {}, `Request body (${type}):`));
    body.append(el("pre", {}, JSON.stringify(example(spec, media.schema), null, 2)));
  }
  for (const [code, r] of Object.entries(op.responses || {})) {
    const media = r.content && r.content["application/json"];
    body.append(el("p", {}, `${code}: ${r.description || ""}`));
    if (media && media.schema && code.startsWith("2")) body.append(el("pre", {}, JSON.stringify(example(spec, media.schema), null, 2)));
  }
  return el("details", { class: "op" },
    el("summary", {}, el("span", { class: `verb ${method}` }, method.toUpperCase()), path, "  ", op.summary || ""), body);
}

fetch("/openapi.json", { credentials: "same-origin" })
  .then((r) => { if (!r.ok) throw new Error(`${r.status} ${r.statusText}`); return r.json(); })
  .then((spec) => {
    document.getElementById("intro").textContent = `${spec.info.title} ${spec.info.version}. ${spec.info.description || ""}`;
    const ops = document.getElementById("ops");
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) ops.append(operation(spec, path, method, op));
    }
  })
  .catch((err) => { document.getElementById("intro").textContent = `Could not load /openapi.json: ${err.message}`; });

// rxpolicy workbench: plain JavaScript against the service's own API (no build step, no network but the service).
"use strict";

const KEYWORDS = new Set(["according", "and", "applicable", "at", "built", "code", "course", "decides", "decision",
  "define", "else", "end", "exception", "explain", "fits", "force", "from", "if", "in", "interpretation", "is", "kind",
  "known", "layer", "matches", "most", "no", "not", "of", "on", "one", "or", "pack", "parameter", "plans", "policy",
  "rejection", "rounded", "row", "rule", "smallest", "source", "table", "the", "then", "title", "to", "unknown",
  "until", "value", "when", "within", "yes"]);

// A case to start from: three months of oxazepam for a chronic condition (examples/hollandzorg).
const START_CASE = {
  dispensed_on: "2025-03-14",
  insured: { born_on: "1970-05-01" },
  prescription: { prescriber: "gp", chronic: true },
  medicine: { name: "oxazepam 10 mg tablet", atc: "N05BA04", route: "oral", price: "4.00", appendix_2: true },
  dispensing: { supply_days: 90, fees: { dispensing: "7.50" }, months_in_use: 8, adjusted: true },
};

const state = { schema: null, policies: [], mode: "form", files: {}, edits: {}, file: null, diagnostics: [],
  fields: {}, yamlText: "", evaluating: 0 };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

async function api(method, path, body, contentType = "application/json") {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.body = typeof body === "string" ? body : JSON.stringify(body);
    options.headers["Content-Type"] = contentType;
  }
  const response = await fetch(path, options);
  const data = await response.json();
  const engine = response.headers.get("RxPolicy-Engine-Version");
  const fingerprint = response.headers.get("RxPolicy-Rules-Fingerprint");
  if (engine && fingerprint) $("receipt").textContent = `engine ${engine} · rules ${fingerprint.slice(0, 12)}`;
  return { ok: response.ok, status: response.status, data };
}

// ------------------------------------------------------------------------------------------- the case form

// The case schema is `rxpolicy schema case`'s: a value that may be unknown is `anyOf: [value, null]`.
function core(schema) {
  let s = schema;
  while (s.anyOf) {
    const values = s.anyOf.filter((a) => a.type !== "null");
    if (values.length !== 1) break;
    s = values[0];
  }
  return s;
}

function fieldKind(schema) {
  const s = core(schema);
  if (s.anyOf) return "money";  // a number or a string with at most two decimals
  if (s.type === "boolean") return "bool";
  if (s.type === "integer" || s.type === "number") return "number";
  if (s.type === "array") return "list";
  if (s.enum) return "choice";
  if (s.format === "date") return "date";
  return "text";
}

function labelOf(name, schema) {
  const words = schema.title && !schema.title.includes(".") ? schema.title : (schema.description || name);
  return words.replace(/\s*\(\[choices\]\(#choices\)\)/, "");
}

function buildForm(schema) {
  const form = $("case-form");
  form.replaceChildren();
  state.fields = {};
  const addFields = (container, properties, required, prefix) => {
    for (const [name, sub] of Object.entries(properties)) {
      const path = prefix ? `${prefix}.${name}` : name;
      const object = core(sub).type === "object" ? core(sub) : null;
      if (object) {
        const fieldset = el("fieldset", { "data-section": path }, el("legend", {}, sub.title || path.replace(".", " › ")));
        addFields(fieldset, object.properties, object.required || [], path);
        container.append(fieldset);
        continue;
      }
      const kind = fieldKind(sub);
      const value = core(sub);
      const id = `f-${path.replaceAll(".", "-")}`;
      let input;
      if (kind === "bool") {
        input = el("select", { id }, el("option", { value: "" }, "—"), el("option", { value: "true" }, "yes"),
          el("option", { value: "false" }, "no"));
      } else if (kind === "choice") {
        input = el("select", { id }, el("option", { value: "" }, "—"), value.enum.map((c) => el("option", { value: c }, c)));
      } else if (kind === "date") {
        input = el("input", { id, type: "date" });
      } else {
        const hint = kind === "list" ? "comma-separated" : (kind === "money" ? "euros, e.g. 12.40" : "");
        input = el("input", { id, type: "text", placeholder: hint, inputmode: kind === "text" ? undefined : "decimal" });
        if (value.examples) {
          const list = el("datalist", { id: `${id}-list` }, value.examples.map((e) => el("option", { value: e })));
          input.setAttribute("list", `${id}-list`);
          container.append(list);
        }
      }
      input.dataset.path = path;
      input.dataset.kind = kind;
      input.addEventListener("input", evaluateSoon);
      input.addEventListener("change", evaluateSoon);
      const label = el("label", { for: id, title: `${path}: ${sub.description || ""}` }, labelOf(name, sub));
      container.append(el("div", { class: `field${required.includes(name) ? " required" : ""}`, "data-field": path }, label, input));
      state.fields[path] = input;
    }
  };
  addFields(form, schema.properties, schema.required || [], "");
}

function setCase(data) {
  for (const [path, input] of Object.entries(state.fields)) {
    let value = path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), data);
    if (value === undefined || value === null) value = "";
    if (Array.isArray(value)) value = value.join(", ");
    input.value = String(value);
  }
}

function caseFromForm() {
  const out = {};
  for (const [path, input] of Object.entries(state.fields)) {
    const text = input.value.trim();
    if (text === "") continue;
    let value = text;
    const kind = input.dataset.kind;
    if (kind === "bool") value = text === "true";
    else if (kind === "number" && /^\d+(\.\d+)?$/.test(text)) value = Number(text);
    else if (kind === "list") value = text.split(",").map((s) => s.trim()).filter(Boolean);
    const keys = path.split(".");
    let node = out;
    for (const key of keys.slice(0, -1)) node = node[key] = node[key] || {};
    node[keys[keys.length - 1]] = value;
  }
  return out;
}

function toYaml(value, indent = "") {
  const lines = [];
  for (const [key, item] of Object.entries(value)) {
    if (item && typeof item === "object" && !Array.isArray(item)) {
      lines.push(`${indent}${key}:`, toYaml(item, indent + "  "));
    } else if (Array.isArray(item)) {
      lines.push(`${indent}${key}: [${item.join(", ")}]`);
    } else {
      const plain = typeof item !== "string" || /^[\w .,'()-]+$/.test(item) && !/^(yes|no|true|false|null|on|off)$/i.test(item);
      lines.push(`${indent}${key}: ${plain ? item : JSON.stringify(item)}`);
    }
  }
  return lines.join("\n");
}

function setMode(mode) {
  if (mode === state.mode) return;
  if (mode === "yaml") $("case-yaml").value = toYaml(caseFromForm()) + "\n";
  state.mode = mode;
  $("case-form").hidden = mode !== "form";
  $("case-yaml").hidden = mode !== "yaml";
  $("mode-form").classList.toggle("active", mode === "form");
  $("mode-yaml").classList.toggle("active", mode === "yaml");
  evaluateSoon();
}

// ------------------------------------------------------------------------------------------- evaluating

function showCaseProblems(diagnostics) {
  for (const field of document.querySelectorAll(".field.bad")) field.classList.remove("bad");
  $("case-problems").replaceChildren(...diagnostics.map((d) => el("div", { class: "problem" }, d.text)));
  for (const d of diagnostics) {
    const field = d.field && document.querySelector(`[data-field="${d.field}"]`);
    if (field) field.classList.add("bad");
  }
}

async function evaluateNow() {
  const ticket = ++state.evaluating;
  const policy = $("policy").value;
  const lang = $("lang").value;
  const edited = Object.keys(state.edits).length > 0;
  let answer;
  if (edited) {
    const body = { policy, lang, files: state.edits };
    if (state.mode === "yaml") body.case_yaml = $("case-yaml").value; else body.case = caseFromForm();
    answer = await api("POST", "/v1/check", body);
    if (ticket !== state.evaluating) return;
    showDiagnostics(answer.data.diagnostics || []);
    if (answer.ok && answer.data.case_diagnostics) answer = { ok: false, data: { diagnostics: answer.data.case_diagnostics } };
    else if (answer.ok && !answer.data.ok) {
      // The decision shown stays the one the last rules that checked made, marked as such.
      showCaseProblems([]);
      $("notice").hidden = false;
      $("notice").textContent = "The edited rules do not check (see the diagnostics beside them): the decision below "
        + "is the one the last rules that checked made.";
      return;
    } else if (answer.ok) answer = { ok: true, data: answer.data.decision };
  } else {
    const query = `policy=${encodeURIComponent(policy)}&lang=${lang}&explain=true&why_not=true`;
    answer = state.mode === "yaml"
      ? await api("POST", `/v1/evaluate?${query}`, $("case-yaml").value, "application/yaml")
      : await api("POST", `/v1/evaluate?${query}`, caseFromForm());
    if (ticket !== state.evaluating) return;
  }
  $("rules-origin").hidden = !edited;
  $("notice").hidden = true;
  if (!answer.ok) {
    const diagnostics = answer.data.diagnostics || [];
    showCaseProblems(diagnostics);
    renderError(diagnostics.map((d) => d.text).join("\n") || "The service refused the request.");
    return;
  }
  showCaseProblems([]);
  renderDecision(answer.data, lang);
}
const evaluateSoon = debounce(evaluateNow, 250);

const WORDS = {
  en: { covered: "COVERED", not_covered: "NOT COVERED", reasons: "Why not", change: "What would change it",
    decisions: "Every decision", rule: "rule", source: "source", because: "because", meaning: "meaning" },
  nl: { covered: "VERGOED", not_covered: "NIET VERGOED", reasons: "Waarom niet", change: "Wat het zou veranderen",
    decisions: "Alle beslissingen", rule: "regel", source: "bron", because: "omdat", meaning: "betekenis" },
};

function renderError(text) {
  $("outcome").className = "outcome error";
  $("outcome").textContent = text;
  $("why-not").replaceChildren();
  $("reasons").replaceChildren();
  $("decisions").replaceChildren();
}

function renderDecision(decision, lang) {
  const w = WORDS[lang] || WORDS.en;
  const outcome = $("outcome");
  outcome.className = `outcome ${decision.outcome || ""}`;
  outcome.textContent = `${w[decision.outcome] || decision.outcome || "—"} · ${decision.policy} · ${decision.dispensed_on}`;
  $("reasons").replaceChildren(...(decision.reasons || []).length ? [el("h3", {}, w.reasons),
    ...decision.reasons.map((r) => el("div", { class: "reason" }, el("div", {}, r.explanation || r.rule),
      el("div", { class: "meta muted" }, `${w.rule}: ${r.rule}${r.rejection_code ? ` [${r.rejection_code}]` : ""} · ${r.source}`),
      el("ul", {}, (r.because || []).map((b) => el("li", {}, b)))))] : []);
  const changes = decision.what_would_change || [];
  $("why-not").replaceChildren(...changes.length ? [el("h3", {}, w.change),
    ...changes.map((c) => el("div", { class: "change" }, c.sentence))] : []);
  $("decisions").replaceChildren(el("h3", {}, w.decisions), ...Object.entries(decision.decisions).map(([name, d]) =>
    el("div", { class: "decision", "data-decision": name },
      el("div", { class: "head" }, `${name} = `, el("span", { class: "value" }, JSON.stringify(d.value))),
      d.explanation ? el("div", {}, d.explanation) : null,
      el("div", { class: "meta" }, `${w.rule}: ${d.rule} (${d.layer}) · ${w.source}: ${d.source}`),
      (d.because || []).length ? el("ul", {}, d.because.map((b) => el("li", {}, b))) : null)));
}

// ------------------------------------------------------------------------------------------- the rule editor

function escapeHtml(text) {
  return text.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" }[c]));
}

function highlightLine(line) {
  // Comments, strings, numbers and keywords; the rest as written.
  const pattern = /(#.*$)|("(?:[^"\\]|\\.)*"?)|(\b\d[\d.,]*\b)|([A-Za-z_][\w-]*)/g;
  let out = "", last = 0, match;
  while ((match = pattern.exec(line)) !== null) {
    out += escapeHtml(line.slice(last, match.index));
    const [text, comment, string, number, word] = match;
    if (comment) out += `<span class="com">${escapeHtml(text)}</span>`;
    else if (string) out += `<span class="str">${escapeHtml(text)}</span>`;
    else if (number) out += `<span class="num">${escapeHtml(text)}</span>`;
    else if (word && KEYWORDS.has(word)) out += `<span class="kw">${text}</span>`;
    else out += escapeHtml(text);
    last = match.index + text.length;
  }
  return out + escapeHtml(line.slice(last));
}

function renderEditor() {
  const text = $("rule-text").value;
  const lines = text.split("\n");
  const marks = {};
  for (const d of state.diagnostics) {
    if (d.file === state.file && d.line) marks[d.line] = marks[d.line] === "error" ? "error" : d.severity;
  }
  $("highlight").innerHTML = lines.map((line, i) => {
    const html = highlightLine(line);
    return marks[i + 1] ? `<span class="bad">${html || " "}</span>` : html;
  }).join("\n") + "\n";
  $("gutter").replaceChildren(...lines.map((_, i) => el("div", {
    class: marks[i + 1] || "", "data-line": i + 1,
    title: state.diagnostics.filter((d) => d.file === state.file && d.line === i + 1).map((d) => d.text).join("\n") || undefined,
  }, i + 1)));
  syncScroll();
}

function syncScroll() {
  const area = $("rule-text");
  $("highlight").scrollTop = area.scrollTop;
  $("highlight").scrollLeft = area.scrollLeft;
  $("gutter").scrollTop = area.scrollTop;
}

function showDiagnostics(diagnostics) {
  // Drawn again only when they change, so the list does not flicker while the expert types.
  if (JSON.stringify(diagnostics) === JSON.stringify(state.diagnostics) && $("diagnostics").childElementCount === diagnostics.length) return;
  state.diagnostics = diagnostics;
  $("diagnostics").replaceChildren(...diagnostics.map((d) => el("li", {
    class: d.severity, "data-code": d.code, "data-file": d.file || "", "data-line": d.line || "",
    onclick: () => d.file && openFile(d.file, d.line),
  }, d.text)));
  renderEditor();
}

function openFile(path, line) {
  if (state.file !== path) {
    state.file = path;
    $("rule-file").value = path;
    $("rule-text").value = state.edits[path] ?? state.files[path] ?? "";
  }
  renderEditor();
  if (line) $("rule-text").scrollTop = Math.max(0, (line - 5) * 18);
  syncScroll();
}

const checkSoon = debounce(async () => {
  if (Object.keys(state.edits).length === 0) {
    showDiagnostics([]);
  }
  await evaluateNow();
}, 300);

function onRuleInput() {
  const text = $("rule-text").value;
  if (text === state.files[state.file]) delete state.edits[state.file]; else state.edits[state.file] = text;
  for (const option of $("rule-file").options) {
    option.textContent = option.value + (option.value in state.edits ? " (edited)" : "");
  }
  renderEditor();
  checkSoon();
}

async function loadFiles(policy) {
  const answer = await api("GET", `/v1/policies/${encodeURIComponent(policy)}/files`);
  state.files = answer.data.files;
  state.edits = {};
  const paths = Object.keys(state.files);
  $("rule-file").replaceChildren(...paths.map((p) => el("option", { value: p }, p)));
  const own = paths.filter((p) => p.includes(`/${policy}/`));
  state.file = null;
  showDiagnostics([]);
  openFile(own[0] || paths[0]);
}

// ------------------------------------------------------------------------------------------- comparing

function side(policyId, dateId) {
  const caseDate = state.mode === "form" ? ($("f-dispensed_on").value || START_CASE.dispensed_on) : null;
  const date = $(dateId).value || caseDate;
  return date ? `${$(policyId).value}@${date}` : $(policyId).value;
}

function renderDifferences(container, report) {
  const items = report.differences || [];
  if (!items.length) {
    container.replaceChildren(el("p", { class: "muted" }, "No decision differs."));
    return;
  }
  container.replaceChildren(el("p", { class: "muted" }, `${report.old.spec} → ${report.new.spec}`),
    ...items.map((d) => el("div", { class: "difference" },
      el("div", { class: "head" }, `${d.decision}: ${valueOf(d.old)} → ${valueOf(d.new)}`),
      el("div", { class: "side" }, `old: ${rulesOf(d.old)}`),
      el("div", { class: "side" }, `new: ${rulesOf(d.new)}`),
      (d.why || []).length ? el("div", { class: "side" }, d.why.join("; ")) : null,
      report.cases === "explored" ? el("pre", {}, toYaml(d.witness)) : null)));
}
const valueOf = (v) => (v.error ? `${v.error.code}` : JSON.stringify(v.value));
const rulesOf = (v) => (v.error ? v.error.message : v.rules.map((r) => `${r.rule} (${r.layer})`).join(", "));

async function compare() {
  const oldSpec = side("old-policy", "old-date");
  const newSpec = side("new-policy", "new-date");
  const query = `old=${encodeURIComponent(oldSpec)}&new=${encodeURIComponent(newSpec)}`;
  $("case-diff").textContent = "…";
  $("rules-diff").textContent = "…";
  const onCase = state.mode === "yaml"
    ? await api("POST", `/v1/diff?${query}`, $("case-yaml").value, "application/yaml")
    : await api("POST", `/v1/diff?${query}`, caseFromForm());
  if (onCase.ok) renderDifferences($("case-diff"), onCase.data);
  else $("case-diff").replaceChildren(el("div", { class: "problem" }, onCase.data.error));
  const general = await api("GET", `/v1/diff?${query}`);
  if (general.ok) renderDifferences($("rules-diff"), general.data);
  else $("rules-diff").replaceChildren(el("div", { class: "problem" }, general.data.error));
}

// ------------------------------------------------------------------------------------------- start

async function start() {
  const [policies, schema] = await Promise.all([api("GET", "/v1/policies"), api("GET", "/v1/schemas/case")]);  // the default policy's
  state.policies = policies.data.policies;
  state.schema = schema.data;
  for (const id of ["policy", "old-policy", "new-policy"]) {
    $(id).replaceChildren(...state.policies.map((p) => el("option", { value: p.name }, `${p.name} — ${p.title}`)));
    $(id).value = policies.data.default;
  }
  buildForm(state.schema);
  setCase(START_CASE);
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
      for (const p of document.querySelectorAll(".panel")) p.classList.toggle("active", p.id === `panel-${tab.dataset.panel}`);
    });
  }
  $("mode-form").addEventListener("click", () => setMode("form"));
  $("mode-yaml").addEventListener("click", () => setMode("yaml"));
  $("case-yaml").addEventListener("input", evaluateSoon);
  $("lang").addEventListener("change", evaluateNow);
  $("policy").addEventListener("change", async () => {
    // Each policy declares its facts: the form follows its case schema, keeping the values it can.
    const kept = caseFromForm();
    buildForm((await api("GET", `/v1/schemas/case?policy=${encodeURIComponent($("policy").value)}`)).data);
    setCase(kept);
    await loadFiles($("policy").value);
    evaluateNow();
  });
  $("rule-file").addEventListener("change", () => openFile($("rule-file").value));
  $("rule-text").addEventListener("input", onRuleInput);
  $("rule-text").addEventListener("scroll", syncScroll);
  $("reset-rules").addEventListener("click", async () => { await loadFiles($("policy").value); evaluateNow(); });
  $("compare").addEventListener("click", compare);
  $("old-date").value = "2024-06-01";
  await loadFiles($("policy").value);
  await evaluateNow();
  document.body.dataset.ready = "true";
}

start();

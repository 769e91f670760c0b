"use strict";
// The page: library, search, refine, viewer, upload. Its state lives in the URL (see
// readUrl/writeUrl) so a view can be reloaded, bookmarked, shared, and left with Back.

const DEBOUNCE_MS = 400;
const TOP_K = 24;
// `page_size` in the URL overrides it (tests page through a small library with it).
const PAGE = Number(new URLSearchParams(location.search).get("page_size")) || 48;

const state = {
  models: [], model: null, sort: "score", cutoff: true, group: true,
  facets: {}, takenFrom: "", takenTo: "", addedFrom: "", addedTo: "",
  query: null, view: null, librarySort: "taken",
  controller: null, hits: [], library: [], libraryCursor: null, libraryLoading: false,
};

/* ---------- the URL ---------- */

function readUrl() {
  const p = new URLSearchParams(location.search);
  state.sort = p.get("sort") || "score";
  state.cutoff = p.get("cutoff") !== "off";
  state.group = p.get("group") !== "off";
  state.takenFrom = p.get("taken_from") || ""; state.takenTo = p.get("taken_to") || "";
  state.addedFrom = p.get("added_from") || ""; state.addedTo = p.get("added_to") || "";
  state.librarySort = p.get("library") === "indexed" ? "indexed" : "taken";
  state.facets = {};
  for (const [k, v] of p) if (k.startsWith("f.")) state.facets[k.slice(2)] = v;
  if (p.get("model")) state.model = p.get("model");
  state.view = p.get("view");
  if (p.get("q")) state.query = { kind: "text", q: p.get("q") };
  else if (p.get("similar")) state.query = { kind: "similar", id: p.get("similar") };
  else if (!state.query || state.query.kind !== "image") state.query = null;
}

function urlFor() {
  const p = new URLSearchParams();
  const q = state.query;
  if (q && q.kind === "text") p.set("q", q.q);
  if (q && q.kind === "similar") p.set("similar", q.id);
  // An uploaded query image stays out of the URL: it exists only in this tab.
  if (state.model) p.set("model", state.model);
  if (state.sort !== "score") p.set("sort", state.sort);
  if (!state.cutoff) p.set("cutoff", "off");
  if (!state.group) p.set("group", "off");
  for (const [k, v] of Object.entries(state.facets)) p.set(`f.${k}`, v);
  for (const [name, value] of [["taken_from", state.takenFrom], ["taken_to", state.takenTo],
    ["added_from", state.addedFrom], ["added_to", state.addedTo]]) if (value) p.set(name, value);
  if (state.librarySort !== "taken") p.set("library", state.librarySort);
  if (state.view) p.set("view", state.view);
  if (PAGE !== 48) p.set("page_size", String(PAGE));
  const s = p.toString();
  return s ? `?${s}` : location.pathname;
}

// push: a new entry (a new search, a filter); otherwise replace (the viewer moving on).
function writeUrl(push) {
  const url = urlFor();
  if (url === location.search || (url === location.pathname && !location.search)) return;
  history[push ? "pushState" : "replaceState"](null, "", url);
}

window.addEventListener("popstate", () => {
  readUrl();
  syncControls();
  refresh();
  if (state.view) openViewerById(state.view, false); else closeViewer(false);
});

function syncControls() {
  $("#sort").value = state.sort;
  $("#cutoff").checked = state.cutoff;
  $("#group").checked = state.group;
  $("#taken-from").value = state.takenFrom; $("#taken-to").value = state.takenTo;
  $("#added-from").value = state.addedFrom; $("#added-to").value = state.addedTo;
  $("#library-sort").value = state.librarySort;
  $("#q").value = state.query && state.query.kind === "text" ? state.query.q : "";
  for (const radio of document.querySelectorAll("input[name=model]")) radio.checked = radio.value === state.model;
  renderFacetPressed();
}

/* ---------- filters ---------- */

function nextDay(date) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

function filterObject() {
  const filter = { ...state.facets };
  const taken = {};
  if (state.takenFrom) taken.after = `${state.takenFrom}T00:00:00`;
  if (state.takenTo) taken.before = `${nextDay(state.takenTo)}T00:00:00`;
  if (Object.keys(taken).length) filter.taken = taken;
  const added = {};
  if (state.addedFrom) added.after = `${state.addedFrom}T00:00:00Z`;
  if (state.addedTo) added.before = `${nextDay(state.addedTo)}T00:00:00Z`;
  if (Object.keys(added).length) filter.created_at = added;
  return Object.keys(filter).length ? filter : null;
}

async function loadFacets() {
  let body;
  try { body = await api("/v1/facets"); } catch { return; }
  const box = $("#facets");
  box.replaceChildren(...body.keys.filter((k) => k.key !== "tags").map((key) => el("fieldset", { className: "chips" },
    el("legend", { textContent: key.key }),
    ...key.values.map((v) => {
      const chip = el("button", { type: "button", className: "chip",
        dataset: { testid: "facet-chip", key: key.key, value: v.value },
        attrs: { "aria-pressed": "false" } },
        v.value, el("small", { textContent: ` ${v.count}` }));
      chip.addEventListener("click", () => {
        if (state.facets[key.key] === v.value) delete state.facets[key.key];
        else state.facets[key.key] = v.value;
        changed();
      });
      return chip;
    }))));
  renderFacetPressed();
}

function renderFacetPressed() {
  for (const chip of document.querySelectorAll("[data-testid=facet-chip]")) {
    chip.setAttribute("aria-pressed", String(state.facets[chip.dataset.key] === chip.dataset.value));
  }
}

// A refine control changed: a new history entry, then the results and the library follow.
function changed() {
  renderFacetPressed();
  writeUrl(true);
  refresh();
}

function refresh() {
  if (state.query) runSearch(state.query); else showResultsPanel(false);
  loadLibrary(true);
}

/* ---------- status and errors ---------- */

function setStatus(text) { $("#status").textContent = text; }

function showError(target, err) {
  const box = $(target);
  if (!err) { box.hidden = true; box.replaceChildren(); return; }
  const code = err.code ? el("code", { textContent: err.code }) : "";
  box.replaceChildren(code, code ? ": " : "", err.message || String(err));
  box.hidden = false;
}

function showNotice(text) {
  const box = $("#notice");
  box.replaceChildren(...(text || "").split("`").map((part, i) =>
    i % 2 ? el("code", { textContent: part }) : part));
  box.hidden = !text;
}

/* ---------- searching ---------- */

function describe(query) {
  if (query.kind === "text") return `“${query.q}”`;
  if (query.kind === "image") return query.name;
  return "the chosen photo";
}

function modelInfo(name) { return state.models.find((m) => m.name === name); }
function modelTitle(name) { const m = modelInfo(name); return m ? m.title : name; }

function showQuery(query) {
  const box = $("#query");
  if (query.kind === "text") {
    box.replaceChildren(el("div", { className: "what" }, el("small", { textContent: "Text search" }),
      el("strong", { textContent: `“${query.q}”` })));
  } else {
    const src = query.kind === "image" ? query.preview : `/v1/images/${query.id}/thumbnail`;
    const name = query.kind === "image" ? query.name : (query.name || "an indexed photo");
    const what = el("div", { className: "what" },
      el("small", { textContent: `${query.kind === "image" ? "Your photo" : "Photos like"} · ${modelTitle(state.model)}` }),
      el("strong", { textContent: name, dataset: { testid: "query-name" } }));
    if (query.kind === "similar") {
      what.append(" ", el("a", { href: `/v1/images/${query.id}/content`, target: "_blank", rel: "noopener",
        textContent: "Open original", dataset: { testid: "query-original" } }));
    }
    box.replaceChildren(el("img", { src, alt: "", width: 56, height: 56 }), what);
  }
  box.hidden = false;
}

function showResultsPanel(shown) { $("#results-panel").hidden = !shown; }

function searchOptions() {
  const options = { top_k: TOP_K, sort: state.sort, group: state.group };
  if (state.cutoff) options.cutoff = "auto";
  const filter = filterObject();
  if (filter) options.filter = filter;
  return options;
}

async function runSearch(query, { focus = false } = {}) {
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  state.query = query;
  const panel = $("#results-panel");
  showResultsPanel(true);
  panel.setAttribute("aria-busy", "true");
  showQuery(query);
  showError("#error", null);
  setStatus(`Searching for ${describe(query)}…`);
  const options = searchOptions();
  const signal = controller.signal;
  try {
    let body;
    if (query.kind === "text") {
      const model = modelInfo(state.model);
      const json = { q: query.q, ...options };
      if (model && model.text) json.model = model.name;
      body = await api("/v1/search/text", { method: "POST", json, signal });
    } else if (query.kind === "image") {
      const form = new FormData();
      form.append("file", query.file, query.name);
      if (imageModel()) form.append("model", imageModel());
      for (const [k, v] of Object.entries(options)) form.append(k, k === "filter" ? JSON.stringify(v) : String(v));
      body = await api("/v1/search/image", { method: "POST", form, signal });
    } else {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(options)) params.set(k, k === "filter" ? JSON.stringify(v) : String(v));
      if (imageModel()) params.set("model", imageModel());
      body = await api(`/v1/images/${encodeURIComponent(query.id)}/similar?${params}`, { signal });
      api(`/v1/images/${encodeURIComponent(query.id)}`).then((record) => {
        if (state.query === query) { query.name = record.filename; showQuery(query); }
      }).catch(() => {});
    }
    if (controller !== state.controller) return;
    renderResults(query, body);
    if (focus || matchMedia("(max-width: 820px)").matches) {
      panel.scrollIntoView({ block: "start" });
      if (focus) $("#results-heading").focus({ preventScroll: true });
    }
  } catch (err) {
    if (err.name === "AbortError" || controller !== state.controller) return;
    $("#results").replaceChildren();
    $("#results").dataset.query = "";
    $("#hidden-note").hidden = true;
    showNotice(null);
    setStatus("The search failed.");
    showError("#error", err);
  } finally {
    if (controller === state.controller) { panel.setAttribute("aria-busy", "false"); state.controller = null; }
  }
}

function queryKey(query) {
  if (query.kind === "text") return `text:${query.q}`;
  if (query.kind === "image") return `image:${query.name}`;
  return `similar:${query.id}`;
}

function renderResults(query, body) {
  const grid = $("#results");
  const hits = body.results || [];
  state.hits = hits;
  const scores = !body.random_weights;  // a random model's scores rank copies, nothing else
  grid.classList.toggle("no-scores", !scores);
  grid.replaceChildren(...hits.map((hit, i) => card(hit, i, "result", scores)));
  if (!hits.length) grid.append(el("li", { className: "empty", textContent: "No photos match." }));
  grid.dataset.query = queryKey(query);
  grid.dataset.model = body.model;
  let notice = body.notice;
  if (body.random_weights && !notice) {
    notice = `${modelTitle(body.model)} holds random weights: only copies and near-copies of a photo are found; other results are arbitrary.`;
  }
  showNotice(notice);
  const cut = body.cut || 0;
  $("#hidden-count").textContent = `${cut} weaker result${cut === 1 ? "" : "s"} hidden:`;
  $("#hidden-note").hidden = !cut;
  const n = hits.length;
  setStatus(`${n} result${n === 1 ? "" : "s"} for ${describe(query)} · ${body.model.toUpperCase()} · ${Math.round(body.took_ms)} ms`);
  renderTagChips(hits);
}

// Tags (the auto-tags issue) show as chips once hits carry them; nothing to show until then.
function renderTagChips(hits) {
  const tags = new Set(hits.flatMap((h) => Array.isArray(h.tags) ? h.tags.map((t) => t.name || t) : []));
  const box = $("#tag-chips");
  box.replaceChildren(...[...tags].slice(0, 20).map((t) => el("span", { className: "chip", textContent: t })));
  box.hidden = tags.size === 0;
}

function fileName(item) { return item.filename || item.id.slice(0, 8); }

function card(item, index, kind, scores) {
  const name = fileName(item);
  const label = kind === "result"
    ? `Result ${index + 1}, ${name}${scores ? `, score ${Number(item.score).toFixed(3)}` : ""}: open`
    : `${name}: open`;
  const button = el("button", { type: "button", className: "hit",
    dataset: { testid: kind === "result" ? "result" : "library-item", id: item.id,
      ...(kind === "result" ? { score: String(item.score) } : {}) },
    attrs: { "aria-label": label } },
  el("img", { src: item.thumbnail_url, alt: "", loading: "lazy", decoding: "async", width: 200, height: 200 }));
  const copies = (item.copies || []).length;
  if (copies) {
    button.append(el("span", { className: "copies", textContent: `+${copies} ${copies === 1 ? "copy" : "copies"}`,
      dataset: { testid: "copies" } }));
  }
  button.addEventListener("click", () => openViewer(kind === "result" ? state.hits : state.library, index, true));
  const li = el("li", { className: "card" }, button,
    el("span", { className: "name", textContent: name, title: item.path || name, dataset: { testid: `${kind === "result" ? "result" : "library"}-name` } }));
  if (kind === "result" && scores) {
    const score = Number(item.score);
    li.append(el("div", { className: "meta" },
      el("span", { className: "score", textContent: score.toFixed(3), dataset: { testid: "result-score" } }),
      el("span", { className: "bar", dataset: { testid: "score-bar" }, attrs: { "aria-hidden": "true" } },
        el("i", { style: `width:${Math.max(0, Math.min(1, score)) * 100}%` }))));
  }
  return li;
}

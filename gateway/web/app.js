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

/* ---------- text box and model picker ---------- */

let debounce = 0;
$("#q").addEventListener("input", (event) => {
  clearTimeout(debounce);
  const q = event.target.value.trim();
  if (q.length < 2) return;
  debounce = setTimeout(() => searchText(q), DEBOUNCE_MS);
});
$("#text-form").addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(debounce);
  const q = $("#q").value.trim();
  if (!q) { showResultsPanel(true); showError("#error", { code: "empty_query", message: "type something to search for" }); return; }
  searchText(q);
});

function searchText(q) {
  if (state.query && state.query.kind === "text" && state.query.q === q && state.controller) return;
  state.query = { kind: "text", q };
  state.view = null;
  writeUrl(true);
  runSearch(state.query);
}

function searchFile(file) {
  if (!file) return;
  if (state.query && state.query.kind === "image") URL.revokeObjectURL(state.query.preview);
  state.query = { kind: "image", file, name: file.name || "pasted image", preview: URL.createObjectURL(file) };
  writeUrl(true);
  runSearch(state.query);
}

function searchSimilar(id, name) {
  state.query = { kind: "similar", id, name };
  state.view = null;
  writeUrl(true);
  runSearch(state.query, { focus: true });
}

// Words go to the chosen model when it reads text, else to the gateway's text default: a
// text tower, or the auto-tags (`tags`) when no tower holds real weights.
function textModel() {
  const chosen = modelInfo(state.model);
  if (chosen && chosen.text) return chosen;
  return state.models.find((m) => m.text_default) || state.models.find((m) => m.text);
}

// The model a photo search uses: the chosen one, unless it reads words only (tags).
function imageModel() {
  const chosen = modelInfo(state.model);
  return chosen && chosen.dimension > 0 ? chosen.name : null;
}

function textHint() {
  const chosen = modelInfo(state.model);
  const text = textModel();
  if (!text) return "No enabled model reads text: search by a photo instead.";
  if (text.name === "tags") {
    const towers = state.models.filter((m) => m.text && m.dimension > 0 && m.random_weights).map((m) => m.title);
    const why = towers.length ? ` (${towers.join(", ")} holds random weights, so its text search cannot find meaning)` : "";
    return `Words find photos through their tags, from ${text.title.replace(/^Tags \((.*)\)$/, "$1")}${why}.`;
  }
  if (text.random_weights) {
    return `Text search cannot find meaning here: ${text.title} holds random weights (build it with pretrained weights). Search by a photo to find its copies.`;
  }
  if (!chosen || chosen.text) return `Text search uses ${text.title}.`;
  return `${chosen.title} reads no text: text searches use ${text.title}, photo searches ${chosen.title}.`;
}

async function loadModels() {
  try { state.models = (await api("/v1/models")).models; } catch (err) {
    $("#model-options").textContent = `Models unavailable (${err.message}).`;
    return;
  }
  const chosen = modelInfo(state.model) || state.models.find((m) => m.default);
  state.model = chosen ? chosen.name : null;
  $("#model-options").replaceChildren(...state.models.map((m) => {
    const radio = el("input", { type: "radio", name: "model", value: m.name, checked: m.name === state.model,
      dataset: { testid: `model-${m.name}` } });
    radio.addEventListener("change", (event) => {
      state.model = event.target.value;
      $("#q-hint").textContent = textHint();
      writeUrl(true);
      if (state.query) runSearch(state.query);
    });
    return el("label", {}, radio, el("span", { textContent: m.title }),
      el("small", { textContent: m.random_weights ? "random weights" : (!m.dimension ? "words, through tags" : (m.text ? "meaning; also text" : "photo features")) }));
  }));
  $("#q-hint").textContent = textHint();
  const random = state.models.filter((m) => m.random_weights).map((m) => m.title);
  const real = state.models.filter((m) => !m.random_weights && m.dimension > 0).map((m) => m.title);
  $("[data-testid=random-models]").textContent = random.join(", ");
  $("[data-testid=real-models]").textContent = real.length ? `Real pretrained weights: ${real.join(", ")}.` : "No model holds real weights.";
  $("[data-testid=random-weights-banner]").hidden = random.length === 0;
}

/* ---------- refine controls ---------- */

$("#sort").addEventListener("change", (e) => { state.sort = e.target.value; changed(); });
$("#cutoff").addEventListener("change", (e) => { state.cutoff = e.target.checked; changed(); });
$("#group").addEventListener("change", (e) => { state.group = e.target.checked; changed(); });
for (const [id, key] of [["#taken-from", "takenFrom"], ["#taken-to", "takenTo"], ["#added-from", "addedFrom"], ["#added-to", "addedTo"]]) {
  $(id).addEventListener("change", (e) => { state[key] = e.target.value; changed(); });
}
$("#library-sort").addEventListener("change", (e) => { state.librarySort = e.target.value; writeUrl(false); loadLibrary(true); });
$("#show-hidden").addEventListener("click", () => { state.cutoff = false; $("#cutoff").checked = false; changed(); });
$("#clear-filters").addEventListener("click", () => {
  state.facets = {}; state.takenFrom = state.takenTo = state.addedFrom = state.addedTo = "";
  syncControls();
  changed();
});

/* ---------- the library ---------- */

let libraryRequest = 0;

async function loadLibrary(reset) {
  if (!reset && (state.libraryLoading || !state.libraryCursor)) return;
  const request = ++libraryRequest;
  state.libraryLoading = true;
  const params = new URLSearchParams({ limit: String(PAGE), sort: state.librarySort });
  const filter = filterObject();
  if (filter) params.set("filter", JSON.stringify(filter));
  if (!reset) params.set("cursor", state.libraryCursor);
  try {
    const page = await api(`/v1/images?${params}`);
    if (request !== libraryRequest) return;
    if (reset) { state.library = []; $("#library").replaceChildren(); }
    const start = state.library.length;
    state.library.push(...page.items);
    $("#library").append(...page.items.map((item, i) => card(item, start + i, "library", false)));
    state.libraryCursor = page.next_cursor;
    $("#library-more").hidden = !page.next_cursor;
    $("#library-empty").hidden = state.library.length > 0 || Boolean(filter);
    $("#library").dataset.count = String(state.library.length);
    if (page.next_cursor) requestAnimationFrame(watchTheEnd);
  } catch (err) {
    if (request === libraryRequest) $("#library-count").textContent = `Library unavailable (${err.message}).`;
  } finally {
    if (request === libraryRequest) state.libraryLoading = false;
  }
}

$("#library-more").addEventListener("click", () => loadLibrary(false));
// Scrolling near the end loads the next page by itself; so does a page that leaves the end
// in sight (observing anew reports where the button is now, not only changes).
const nearTheEnd = new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) loadLibrary(false);
}, { rootMargin: "600px" });
function watchTheEnd() {
  nearTheEnd.unobserve($("#library-more"));
  nearTheEnd.observe($("#library-more"));
}
watchTheEnd();

async function loadStats() {
  const box = $("[data-testid=stats]");
  try {
    const stats = await api("/v1/stats");
    const counts = Object.values(stats.collections).map((c) =>
      el("span", { dataset: { testid: `count-${c.model}` } }, el("b", { textContent: String(c.count) }), ` in ${c.model.toUpperCase()}`));
    box.replaceChildren(...counts);
    const total = Math.max(0, ...Object.values(stats.collections).map((c) => c.count));
    $("#library-count").textContent = `${total} photo${total === 1 ? "" : "s"}`;
    // Provenance is for the curious: it sits in "About these models", not in the header.
    const lines = Object.entries(stats.models).map(([name, m]) => el("li", {}, el("b", { textContent: name }), `: ${m.weights}`));
    $("#about-body").replaceChildren(el("ul", { dataset: { testid: "weights" } }, ...lines));
  } catch (err) {
    box.textContent = `Statistics unavailable (${err.message}).`;
  }
}

/* ---------- the viewer ---------- */

const viewer = { list: [], index: 0, opener: null, record: null };

function openViewer(list, index, push) {
  viewer.list = list;
  viewer.index = index;
  const dialog = $("#viewer");
  if (!dialog.open) {
    viewer.opener = document.activeElement;
    dialog.showModal();
  }
  showInViewer(list[index], push);
  // Inside the dialog, on a control that stays enabled (showModal may pick "previous").
  if (!dialog.contains(document.activeElement) || document.activeElement.disabled) $("#viewer-close").focus();
}

async function openViewerById(id, push) {
  const found = state.hits.findIndex((h) => h.id === id);
  if (found >= 0) return openViewer(state.hits, found, push);
  const inLibrary = state.library.findIndex((h) => h.id === id);
  if (inLibrary >= 0) return openViewer(state.library, inLibrary, push);
  try { openViewer([await api(`/v1/images/${encodeURIComponent(id)}`)], 0, push); } catch (err) { showError("#error", err); }
}

async function showInViewer(item, push) {
  state.view = item.id;
  writeUrl(push);
  const img = $("#viewer-img");
  img.src = item.display_url || `/v1/images/${item.id}/display`;
  $("#viewer-title").textContent = fileName(item);
  $("#viewer").dataset.id = item.id;
  $("#viewer-download").href = `${item.content_url || `/v1/images/${item.id}/content`}?download=1`;
  $("#viewer-prev").disabled = viewer.index <= 0;
  $("#viewer-next").disabled = viewer.index >= viewer.list.length - 1;
  $("#delete-confirm").hidden = true;
  $("#meta-status").textContent = "";
  showError("#viewer-error", null);
  const copies = item.copies || [];
  $("#viewer-copies").hidden = !copies.length;
  $("#viewer-copies").replaceChildren(el("small", { textContent: `${copies.length} near-cop${copies.length === 1 ? "y" : "ies"}: ` }),
    ...copies.map((c) => {
      const b = el("button", { type: "button", className: "mini", attrs: { "aria-label": `Open copy ${c.id.slice(0, 8)}` } },
        el("img", { src: `/v1/images/${c.id}/thumbnail`, alt: "", width: 48, height: 48 }));
      b.addEventListener("click", () => openViewerById(c.id, false));
      return b;
    }));
  renderFacts(item);
  try {
    const record = await api(`/v1/images/${encodeURIComponent(item.id)}`);
    if (state.view !== item.id) return;
    viewer.record = record;
    renderFacts(record);
  } catch (err) { showError("#viewer-error", err); }
}

function renderFacts(item) {
  const facts = [
    ["Path", item.path], ["Taken", item.taken ? item.taken.replace("T", " ") : "unknown"],
    ["Camera", item.camera ? [item.camera.make, item.camera.model].filter(Boolean).join(" ") : ""],
    ["Lens", item.lens], ["Size", item.width ? `${item.width} × ${item.height}${item.bytes ? ` · ${(item.bytes / 1e6).toFixed(1)} MB` : ""}` : ""],
    ["Format", item.format], ["Indexed", item.created_at ? new Date(item.created_at / 1000).toLocaleString() : ""],
  ].filter(([, v]) => v);
  $("#viewer-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v, dataset: { testid: `fact-${k.toLowerCase()}` } })]));
  const meta = item.metadata || {};
  $("#meta-edit").value = Object.entries(meta).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join("\n");
  const tags = Array.isArray(item.tags) ? item.tags.map((t) => t.name || t) : [];
  $("#viewer-tags").replaceChildren(...tags.map((t) => el("span", { className: "chip", textContent: t })));
  $("#viewer-tags").hidden = !tags.length;
}

function closeViewer(push = true) {
  const dialog = $("#viewer");
  if (dialog.open) dialog.close();
  else if (state.view) { state.view = null; if (push) writeUrl(false); }
}

$("#viewer").addEventListener("close", () => {
  state.view = null;
  writeUrl(false);
  if (viewer.opener && document.contains(viewer.opener)) viewer.opener.focus();
});
$("#viewer-close").addEventListener("click", () => closeViewer());
$("#viewer").addEventListener("click", (e) => { if (e.target === $("#viewer")) closeViewer(); });
function step(delta) {
  const next = viewer.index + delta;
  if (next < 0 || next >= viewer.list.length) return;
  viewer.index = next;
  showInViewer(viewer.list[next], false);
}
$("#viewer-prev").addEventListener("click", () => step(-1));
$("#viewer-next").addEventListener("click", () => step(1));
// On the document: focus may sit on a nav button the viewer just disabled (then on <body>).
document.addEventListener("keydown", (e) => {
  if (!$("#viewer").open || e.target.matches("input, textarea, select")) return;
  if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
  if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
});
$("#viewer-similar").addEventListener("click", () => {
  const id = state.view, name = $("#viewer-title").textContent;
  $("#viewer").close();
  searchSimilar(id, name);
});
$("#viewer-delete").addEventListener("click", () => { $("#delete-confirm").hidden = false; $("#delete-no").focus(); });
$("#delete-no").addEventListener("click", () => { $("#delete-confirm").hidden = true; $("#viewer-delete").focus(); });
$("#delete-yes").addEventListener("click", async () => {
  const id = state.view;
  try { await api(`/v1/images/${encodeURIComponent(id)}`, { method: "DELETE" }); } catch (err) { showError("#viewer-error", err); return; }
  viewer.opener = null;
  $("#viewer").close();
  for (const node of document.querySelectorAll(`[data-id="${id}"]`)) node.closest("li")?.remove();
  state.hits = state.hits.filter((h) => h.id !== id);
  state.library = state.library.filter((h) => h.id !== id);
  loadStats(); loadFacets();
});

function parsePairs(text) {
  const pairs = {};
  for (const line of text.split(/\n|,(?=[^,=]+=)/)) {
    const at = line.indexOf("=");
    if (at < 1) continue;
    pairs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return pairs;
}

$("#meta-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const before = (viewer.record && viewer.record.metadata) || {};
  const after = parsePairs($("#meta-edit").value);
  const patch = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (old === undefined || (typeof old === "string" ? old : JSON.stringify(old)) !== value) patch[key] = value;
  }
  if (!Object.keys(patch).length) { $("#meta-status").textContent = "Nothing changed."; return; }
  try {
    const record = await api(`/v1/images/${encodeURIComponent(state.view)}`, { method: "PATCH", json: patch,
      headers: { "Content-Type": "application/merge-patch+json" } });
    viewer.record = record;
    renderFacts(record);
    $("#meta-status").textContent = "Saved.";
    loadFacets();
  } catch (err) { showError("#viewer-error", err); }
});

/* ---------- search by a photo: pick, paste, drop ---------- */

$("#search-file").addEventListener("change", (event) => {
  searchFile(event.target.files[0]);
  event.target.value = "";  // so choosing the same file again still fires "change"
});
document.addEventListener("paste", (event) => {
  if (event.target.matches && event.target.matches("textarea, input[type=text]")) return;
  const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
  if (file) { event.preventDefault(); searchFile(file); }
});

function dropZone(zone, onFiles) {
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", (event) => { if (!zone.contains(event.relatedTarget)) zone.classList.remove("over"); });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    event.stopPropagation();
    zone.classList.remove("over");
    const files = [...event.dataTransfer.files];
    if (files.length) onFiles(files);
  });
}
// A file dropped beside a zone would otherwise replace the page with the image.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());
dropZone($("#search-drop"), (files) => searchFile(files[0]));
dropZone($("#text-form"), (files) => searchFile(files[0]));
dropZone($("#upload-drop"), (files) => indexFiles(files));

/* ---------- indexing ---------- */

function uploadMetadata() {
  const meta = parsePairs($("#upload-meta").value);
  const album = $("#upload-album").value.trim();
  if (album) meta.album = album;
  return meta;
}

// XMLHttpRequest rather than fetch: only it reports upload progress.
function postImages(files, metadata, onProgress) {
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  if (Object.keys(metadata).length) form.append("metadata", JSON.stringify(metadata));
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/images");
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.upload.addEventListener("load", () => onProgress(null));  // sent; now the models work
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON: errorFrom copes */ }
      resolve({ status: xhr.status, body, statusText: xhr.statusText });
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network_error", "the upload did not reach the gateway")));
    xhr.send(form);
  });
}

let indexing = false;

async function indexFiles(fileList) {
  const files = [...fileList];
  if (!files.length) return;
  if (indexing) { $("#upload-label").textContent = "An upload is still running; drop the next files when it has finished."; return; }
  indexing = true;
  const wrap = $("#upload-progress"), bar = $("#upload-bar"), label = $("#upload-label");
  const onProgress = (fraction) => {
    if (fraction === null) {
      bar.removeAttribute("value");  // indeterminate while the gateway embeds the images
      label.textContent = `Indexing ${files.length} photo${files.length === 1 ? "" : "s"}…`;
    } else {
      bar.value = fraction;
      label.textContent = `Uploading ${files.length} file${files.length === 1 ? "" : "s"}: ${Math.round(fraction * 100)}%`;
    }
  };
  showError("#upload-error", null);
  $("#upload-totals").hidden = true;
  $("#upload-summary").replaceChildren();
  wrap.hidden = false;
  wrap.dataset.state = "uploading";
  try {
    const metadata = uploadMetadata();
    for (;;) {
      bar.value = 0;
      onProgress(0);
      const { status, body, statusText } = await postImages(files, metadata, onProgress);
      if (status === 401) {
        label.textContent = "Waiting for an API key…";
        if (await askForKey(errorFrom(status, body, statusText))) continue;
        throw new ApiError(401, "missing_api_key", "no API key given; nothing was uploaded");
      }
      bar.value = 1;
      if (body && Array.isArray(body.results)) renderSummary(body);
      if (status >= 400) throw errorFrom(status, body, statusText);
      label.textContent = "Done.";
      break;
    }
    wrap.dataset.state = "done";
    loadStats(); loadFacets(); loadLibrary(true);
  } catch (err) {
    wrap.dataset.state = "failed";
    bar.value = 0;
    label.textContent = "Upload failed.";
    showError("#upload-error", err);
  } finally {
    indexing = false;
  }
}

function renderSummary(body) {
  $("#upload-summary").replaceChildren(...body.results.map((result) => {
    const li = el("li", { dataset: { testid: "upload-result", status: result.status, filename: result.filename } },
      el("span", { className: `badge ${result.status}`, textContent: result.status }),
      el("span", { className: "name", textContent: result.filename }));
    if (result.id) li.dataset.id = result.id;
    if (result.status === "rejected") {
      li.append(el("span", { className: "reason", dataset: { testid: "upload-reason" },
        textContent: `${result.code || "rejected"}: ${result.message || "no reason given"}` }));
    }
    return li;
  }));
  const totals = $("#upload-totals");
  totals.textContent = `${body.created} created · ${body.duplicates} duplicate${body.duplicates === 1 ? "" : "s"} · ${body.rejected} rejected`;
  totals.hidden = false;
}

$("#upload-file").addEventListener("change", (event) => {
  const files = [...event.target.files];
  event.target.value = "";
  indexFiles(files);
});

/* ---------- start ---------- */

readUrl();
syncControls();
loadStats();
loadFacets();
loadModels().then(() => {
  syncControls();
  if (state.query) runSearch(state.query);
  if (state.view) openViewerById(state.view, false);
});
loadLibrary(true);

"use strict";
// The controls around a search: the text box, the model picker and its hints, and the
// refine panel (sort, cutoff, grouping, date ranges, filters).

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

"use strict";
// The library: every indexed photo, newest first, paged as it scrolls; counts.

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

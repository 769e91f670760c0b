"use strict";
// Runs last (the scripts load in order): the page as the URL describes it.

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

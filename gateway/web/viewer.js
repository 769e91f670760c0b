"use strict";
// The viewer dialog: a large rendition, facts, metadata edit, download, delete, and
// arrow keys between photos; its state is in the URL too (`?view=`).

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

"use strict";
// Indexing from the page: drop, pick or paste files, with metadata, progress and a
// per-file summary.

/* ---------- upload ---------- */

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

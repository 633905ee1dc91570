// Uploading photos: several at once, picked or dropped, each checked here first (type and
// size, as Dropzone does for Albumy; the server checks again by content), then sent whole
// with XMLHttpRequest, which reports progress; each shows its thumbnail when done.
"use strict";

(function () {
  const form = document.getElementById("photo-upload");
  if (!form || !window.Youku) return;
  const { humanBytes, uploadRow, dropInto } = window.Youku;
  const input = document.getElementById("photo-picker");
  const maxBytes = Number(form.dataset.max);
  const TYPES = ["image/jpeg", "image/png", "image/webp"];

  // Why `file` cannot be a photo here, or null.
  function problem(file) {
    if (!TYPES.includes(file.type)) return "not a JPEG, PNG or WebP picture";
    if (file.size === 0) return "the file is empty";
    if (file.size > maxBytes) return humanBytes(file.size) + " is over the limit of " + humanBytes(maxBytes);
    return null;
  }

  function send(file, row) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("POST", "/api/photos");
      request.setRequestHeader("Content-Type", file.type);
      request.upload.onprogress = (event) => {
        const percent = event.total ? (100 * event.loaded) / event.total : 0;
        row.progress(percent, Math.floor(percent) + " % of " + humanBytes(file.size));
      };
      request.upload.onload = () => row.progress(100, "Making the small pictures…");
      request.onload = () => {
        let answer = {};
        try { answer = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
        if (request.status === 201) resolve(answer);
        else reject(new Error(answer.message || request.responseText || "the server refused the photo"));
      };
      request.onerror = () => reject(new Error("the connection dropped"));
      request.send(file);
    });
  }

  function shown(row, photo) {
    row.done("");
    const link = document.createElement("a");
    link.href = photo.urls.page;
    link.className = "thumb";
    const img = document.createElement("img");
    img.src = photo.urls.small;
    img.alt = "";
    img.width = photo.small.width;
    img.height = photo.small.height;
    link.append(img);
    row.item.prepend(link);
    row.item.classList.add("has-thumb");
    const status = row.item.querySelector(".status");
    const open = document.createElement("a");
    open.href = photo.urls.page;
    open.textContent = "Uploaded: open the photo";
    status.append(open);
  }

  async function uploadAll(files) {
    await Promise.all(files.map(async (file) => {
      const row = uploadRow(file.name);
      const refused = problem(file);
      if (refused) { row.failed(refused); return; }
      try {
        shown(row, await send(file, row));
      } catch (error) {
        row.failed(error.message);
      }
    }));
  }

  dropInto(form, input);
  input.addEventListener("change", () => {
    const files = Array.from(input.files);
    input.value = "";
    uploadAll(files);
  });
})();

// The photo site's pages: uploading photos, several at once, picked or dropped, each checked
// here first (type and size, as Dropzone does for Albumy; the server checks again by content),
// then sent whole with XMLHttpRequest, which reports progress; each shows its thumbnail when
// done. And hover cards: resting on a person's link fetches their card (avatar, counts, a
// follow button) as JSON, as Albumy's pop-up does.
"use strict";

(function () {
  const card = document.createElement("div");
  card.className = "hover-card";
  card.hidden = true;
  card.setAttribute("role", "dialog");
  document.body.append(card);
  let showing = null;
  let timer = null;

  async function follow(name, button, following) {
    button.disabled = true;
    const response = await fetch("/api/people/" + encodeURIComponent(name) + "/follow", {
      method: following ? "DELETE" : "POST",
      credentials: "same-origin",
    });
    button.disabled = false;
    if (response.ok) show(showing.link, name);
  }

  async function show(link, name) {
    const response = await fetch("/api/people/" + encodeURIComponent(name) + "/card", { credentials: "same-origin" });
    if (!response.ok || showing === null || showing.link !== link) return;
    const person = await response.json();
    card.replaceChildren();
    const avatar = document.createElement("img");
    avatar.src = "/avatars/" + encodeURIComponent(person.name);
    avatar.alt = "";
    avatar.className = "avatar";
    const title = document.createElement("a");
    title.href = "/people/" + encodeURIComponent(person.name);
    title.className = "name";
    title.textContent = person.name;
    const counts = document.createElement("p");
    counts.className = "muted small counts";
    const some = (n, one) => n + " " + one + (n === 1 ? "" : "s");
    counts.textContent = some(person.photos, "photo") + " · " + some(person.followers, "follower") + " · following " + person.following;
    card.append(avatar, title, counts);
    if (document.body.dataset.live && !person.is_you) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = person.followed_by_you ? "quiet small" : "accent small";
      button.textContent = person.followed_by_you ? "Following ✓" : "Follow";
      button.addEventListener("click", () => follow(person.name, button, person.followed_by_you));
      card.append(button);
    }
    const place = link.getBoundingClientRect();
    card.style.left = Math.max(8, Math.min(window.scrollX + place.left, window.scrollX + innerWidth - 260)) + "px";
    card.style.top = window.scrollY + place.bottom + 6 + "px";
    card.hidden = false;
  }

  document.addEventListener("mouseover", (event) => {
    const link = event.target.closest && event.target.closest("a[data-person]");
    if (link && (!showing || showing.link !== link)) {
      clearTimeout(timer);
      showing = { link };
      timer = setTimeout(() => show(link, link.dataset.person), 350);
    } else if (!link && !card.contains(event.target)) {
      clearTimeout(timer);
      timer = setTimeout(() => { card.hidden = true; showing = null; }, 300);
    }
  });

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

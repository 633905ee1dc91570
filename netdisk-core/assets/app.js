// The little JavaScript the pages need: notices and notifications that arrive while a page is open, the movie
// player's wait, and uploads with progress that resume after a cut connection. Everything a
// user typed is put into the page as text, never as HTML.
"use strict";

(function () {
  const $ = (selector, root = document) => root.querySelector(selector);

  // ---- Forms that ask first -------------------------------------------------------------
  document.addEventListener("submit", (event) => {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // ---- Live notices ---------------------------------------------------------------------
  // The toast at the top of the page: `label` in bold, then `text`, linked to `href` if given.
  function toast(label, text, href) {
    const box = $("#live-notice");
    if (!box) return;
    box.replaceChildren();
    const strong = document.createElement("strong");
    strong.textContent = label;
    const body = document.createElement(href ? "a" : "span");
    body.textContent = text;
    if (href) body.href = href;
    box.append(strong, body);
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 8000);
  }

  function showNotice(notice) {
    toast("New notice: ", notice.title);
    const list = $("#notice-list");
    if (list) {
      const item = document.createElement("li");
      item.className = "notice fresh";
      const heading = document.createElement("h3");
      heading.textContent = notice.title;
      const text = document.createElement("p");
      text.textContent = notice.content;
      const time = document.createElement("time");
      time.textContent = notice.create_time;
      item.append(heading, text, time);
      list.prepend(item);
      const empty = $("#no-notices");
      if (empty) empty.remove();
    }
  }

  // ---- Notifications (a new follower, a comment, a photo collected) ------------------------
  function showUnread(count) {
    const badge = $("#unread");
    if (!badge) return;
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count === 0;
  }

  function showNotification(told) {
    const href = told.photo_id ? "/photos/" + told.photo_id : "/people/" + encodeURIComponent(told.actor);
    toast("🔔 ", told.text, href);
    const badge = $("#unread");
    if (badge) showUnread((Number(badge.textContent) || 0) + 1);
    const list = $("#notification-list");
    if (list) {
      const item = document.createElement("li");
      item.className = "unread fresh";
      const avatar = document.createElement("img");
      avatar.className = "avatar";
      avatar.src = "/avatars/" + encodeURIComponent(told.actor);
      avatar.alt = "";
      const text = document.createElement("span");
      const link = document.createElement("a");
      link.href = href;
      link.textContent = told.text;
      text.append(link);
      const time = document.createElement("span");
      time.className = "muted small";
      time.textContent = told.created_at;
      item.append(avatar, text, time);
      list.prepend(item);
      list.hidden = false;
      const empty = $("#no-notifications");
      if (empty) empty.remove();
    }
  }

  if (document.body.dataset.live === "notices") {
    fetch("/api/notifications/unread", { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .then((answer) => { if (answer) showUnread(answer.unread); })
      .catch(() => {});
  }

  // One stream per page carries both notices and notifications.
  if (document.body.dataset.live === "notices" && window.EventSource) {
    const events = new EventSource("/notices/events");
    events.addEventListener("notice", (event) => showNotice(JSON.parse(event.data)));
    events.addEventListener("notification", (event) => showNotification(JSON.parse(event.data)));
  }

  // ---- Watching and downloading ---------------------------------------------------------
  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(answer.message || response.statusText);
      error.status = response.status;
      throw error;
    }
    return answer;
  }

  function countdown(seconds, show) {
    return new Promise((resolve) => {
      let left = seconds;
      const tick = () => {
        if (left <= 0) { show(""); resolve(); return; }
        show("Starts in " + left + " s");
        left -= 1;
        setTimeout(tick, 1000);
      };
      tick();
    });
  }

  async function startViewing(button) {
    const viewing = await api("POST", "/api/movies/" + button.dataset.movie + "/viewings");
    const label = $("#countdown");
    if (viewing.wait_secs > 0) {
      if (label) label.hidden = false;
      await countdown(viewing.wait_secs, (text) => { if (label) label.textContent = text; });
      if (label) label.hidden = true;
    }
    return viewing;
  }

  function watchError(error) {
    const box = $("#watch-error");
    if (box) { box.textContent = error.message; box.hidden = false; }
  }

  const watch = $("#watch");
  if (watch) {
    watch.addEventListener("click", async () => {
      watch.disabled = true;
      try {
        const viewing = await startViewing(watch);
        const player = $("#player");
        player.src = viewing.content;
        $("#curtain").hidden = true;
        await player.play().catch(() => {});
      } catch (error) {
        watch.disabled = false;
        watchError(error);
      }
    });
  }

  const download = $("#download");
  if (download) {
    download.addEventListener("click", async () => {
      download.disabled = true;
      try {
        const viewing = await startViewing(download);
        window.location.href = viewing.content + "?download=1";
      } catch (error) {
        watchError(error);
      } finally {
        download.disabled = false;
      }
    });
  }

  // ---- Chat rooms -----------------------------------------------------------------------
  const room = $(".chat");
  if (room && window.WebSocket) {
    const list = $("#messages");
    const status = $("#chat-status");
    const earlier = $("#earlier");
    let oldest = null;
    let socket = null;
    let retry = 0;
    const people = new Map();

    function avatarOf(user) {
      const avatar = document.createElement("img");
      avatar.className = "avatar";
      avatar.src = "/avatars/" + encodeURIComponent(user);
      avatar.alt = "";
      return avatar;
    }

    function showPeople() {
      const sorted = [...people.values()].sort((a, b) => a.nickname.localeCompare(b.nickname));
      $("#people").replaceChildren(...sorted.map((person) => {
        const item = document.createElement("li");
        item.textContent = person.nickname;
        item.title = person.user;
        item.prepend(avatarOf(person.user));
        return item;
      }));
      $("#people-count").textContent = people.size;
    }

    function line(message) {
      const item = document.createElement("li");
      item.className = "said";
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = message.nickname;
      who.title = message.user;
      who.prepend(avatarOf(message.user));
      const when = document.createElement("time");
      when.textContent = new Date(message.sent_at_ms).toLocaleTimeString();
      const text = document.createElement("p");
      text.textContent = message.text;
      item.append(who, when, text);
      return item;
    }

    function atBottom() {
      const log = $("#chat-log");
      return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    }

    function scrollDown() {
      const log = $("#chat-log");
      log.scrollTop = log.scrollHeight;
    }

    function older(messages) {
      if (!messages.length) { earlier.hidden = true; return; }
      oldest = messages[0].seq;
      list.prepend(...messages.map(line));
      earlier.hidden = oldest <= 1;
    }

    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + "/chat/" + room.dataset.room + "/ws");
      socket.onopen = () => { retry = 0; status.textContent = "Connected."; };
      socket.onmessage = (event) => {
        const data = JSON.parse(event.data);
        if (data.type === "welcome") {
          people.clear();
        } else if (data.type === "presence") {
          data.joined.forEach((person) => people.set(person.user, person));
          data.left.forEach((user) => people.delete(user));
          showPeople();
        } else if (data.type === "history") {
          list.replaceChildren();
          older(data.messages);
          scrollDown();
        } else if (data.type === "earlier") {
          older(data.messages);
        } else if (data.type === "message") {
          const follow = atBottom();
          list.append(line(data.message));
          if (oldest === null) oldest = data.message.seq;
          if (follow) scrollDown();
        } else if (data.type === "error") {
          status.textContent = data.message;
        }
      };
      socket.onclose = () => {
        retry = Math.min(retry + 1, 5);
        status.textContent = "Disconnected; reconnecting…";
        setTimeout(connect, 500 * retry);
      };
    }

    earlier.addEventListener("click", () => {
      if (socket && oldest !== null) socket.send(JSON.stringify({ type: "earlier", before: oldest }));
    });
    const say = $("#say");
    if (say) {
      say.addEventListener("submit", (event) => {
        event.preventDefault();
        const input = say.elements.text;
        if (!input.value || !socket || socket.readyState !== WebSocket.OPEN) return;
        socket.send(JSON.stringify({ type: "say", text: input.value }));
        input.value = "";
      });
    }
    connect();
  }

  // ---- Uploads --------------------------------------------------------------------------
  const CHUNK = 4 * 1024 * 1024;
  const HASH_SLICE = 2 * 1024 * 1024;

  function humanBytes(bytes) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
  }

  function humanTime(seconds) {
    if (!isFinite(seconds)) return "…";
    if (seconds < 60) return Math.ceil(seconds) + " s";
    const minutes = Math.floor(seconds / 60);
    return minutes + " min " + Math.ceil(seconds - minutes * 60) + " s";
  }

  // One row in the list of uploads: name, bar, and a status line.
  function uploadRow(name) {
    const item = document.createElement("li");
    item.className = "upload";
    const title = document.createElement("span");
    title.className = "name";
    title.textContent = name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    const status = document.createElement("span");
    status.className = "status muted small";
    item.append(title, bar, status);
    $("#uploads").append(item);
    return {
      item,
      progress(percent, text) { bar.value = percent; status.textContent = text; },
      done(text) { bar.value = 100; item.classList.add("done"); status.textContent = text; },
      failed(text) { item.classList.add("failed"); status.textContent = text; },
    };
  }

  async function md5Of(file, row) {
    const spark = new SparkMD5.ArrayBuffer();
    for (let offset = 0; offset < file.size; offset += HASH_SLICE) {
      const slice = await file.slice(offset, offset + HASH_SLICE).arrayBuffer();
      spark.append(slice);
      row.progress(0, "Checking the file… " + Math.floor((100 * offset) / file.size) + " %");
    }
    return spark.end();
  }

  // Sends one chunk with XMLHttpRequest (fetch cannot report upload progress).
  function sendChunk(token, offset, blob, onBytes) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("PATCH", "/api/uploads/" + token);
      request.setRequestHeader("Upload-Offset", String(offset));
      request.setRequestHeader("Content-Type", "application/offset+octet-stream");
      request.upload.onprogress = (event) => onBytes(event.loaded);
      request.onload = () => {
        let answer = {};
        try { answer = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
        if (request.status === 200) resolve(answer);
        else {
          const error = new Error(answer.message || "the server refused the chunk");
          error.status = request.status;
          reject(error);
        }
      };
      request.onerror = () => reject(new Error("the connection dropped"));
      request.send(blob);
    });
  }

  // Uploads `file` as `announce` says, resuming an earlier attempt at the same file.
  async function upload(file, announce, row) {
    const key = "upload:" + announce.kind + ":" + file.name + ":" + file.size + ":" + file.lastModified;
    let token = localStorage.getItem(key);
    let received = 0;
    if (token) {
      try { received = (await api("GET", "/api/uploads/" + token)).received; }
      catch (_) { token = null; }
    }
    if (!token) {
      announce.md5 = await md5Of(file, row);
      const started = await api("POST", "/api/uploads", announce);
      token = started.token;
      localStorage.setItem(key, token);
    }
    const began = performance.now();
    const fromByte = received;
    let failures = 0;
    for (;;) {
      const blob = file.slice(received, Math.min(received + CHUNK, file.size));
      try {
        const answer = await sendChunk(token, received, blob, (sent) => {
          const done = received + sent;
          const seconds = (performance.now() - began) / 1000;
          const speed = (done - fromByte) / Math.max(seconds, 0.001);
          const left = (file.size - done) / speed;
          const percent = file.size ? (100 * done) / file.size : 100;
          row.progress(percent, Math.floor(percent) + " % · " + humanBytes(speed) + "/s · " + humanTime(left) + " left");
        });
        failures = 0;
        if (answer.complete) { localStorage.removeItem(key); return answer.id; }
        received = answer.received;
      } catch (error) {
        if (error.status && error.status !== 409 && error.status < 500) {
          localStorage.removeItem(key);
          throw error;
        }
        failures += 1;
        if (failures > 5) throw error;
        row.progress((100 * received) / Math.max(file.size, 1), "Connection lost; resuming…");
        await new Promise((resolve) => setTimeout(resolve, 1000 * failures));
        received = (await api("GET", "/api/uploads/" + token)).received;
      }
    }
  }

  function dropInto(form, input) {
    const zone = $(".drop", form);
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      input.files = event.dataTransfer.files;
      input.dispatchEvent(new Event("change"));
    });
  }

  const movieForm = $("#movie-upload");
  if (movieForm) {
    const input = $("#movie-file");
    dropInto(movieForm, input);
    movieForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = input.files[0];
      if (!file) return;
      const row = uploadRow(file.name);
      try {
        const id = await upload(file, { kind: "movie", name: file.name, size: file.size, is_free: $("#movie-free").checked }, row);
        row.done("Uploaded. ");
        const link = document.createElement("a");
        link.href = "/movies/" + id;
        link.textContent = "Open the movie";
        row.item.querySelector(".status").append(link);
        movieForm.reset();
      } catch (error) {
        row.failed(error.message);
      }
    });
  }

  // What other scripts of the site (photos.js) build on.
  window.Youku = { humanBytes, uploadRow, dropInto };

  const fileForm = $("#file-upload");
  if (fileForm) {
    const input = $("#file-picker");
    dropInto(fileForm, input);
    input.addEventListener("change", async () => {
      const files = Array.from(input.files);
      input.value = "";
      const results = await Promise.all(files.map(async (file) => {
        const row = uploadRow(file.name);
        try {
          await upload(file, { kind: "file", name: file.name, size: file.size }, row);
          row.done("Uploaded");
          return true;
        } catch (error) {
          row.failed(error.message);
          return false;
        }
      }));
      if (results.length && results.every(Boolean)) window.location.reload();
    });
  }
})();

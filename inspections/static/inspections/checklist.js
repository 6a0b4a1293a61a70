/* The inspector's phone checklist (inspections/checklist.html).
 *
 * Every change is saved on the phone at once (localStorage: the answers and a queue of changes, each with an
 * id made here; IndexedDB: photo blobs) and sent to the server in order when online. A change the server has
 * already applied is answered the same way again (its id), so a retry after a dropped connection changes
 * nothing. When the network drops nothing is lost: the queue waits, retries with back-off and is sent when the
 * "online" event fires. The status bar says what is kept on the phone and what has been sent.
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("checklist-config").textContent);
  var L = cfg.labels;
  var KEY = "inspection-checklist:" + cfg.id;
  var statusEl = document.getElementById("sync-status");

  function fmt(s, vars) {
    return s.replace(/%\((\w+)\)s/g, function (_m, k) { return vars[k]; });
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // ------------------------------------------------------------ the phone's copy

  function fromServer() {
    var s = cfg.state;
    return {state: {answers: s.answers || {}, present: s.present || [], manikins_in_use: s.manikins_in_use,
                    notes: s.notes || ""},
            queue: [], rejected: []};
  }

  var local;
  try { local = JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { local = null; }
  if (!local || !local.queue || !local.queue.length) {
    var kept = local && local.rejected ? local.rejected : [];
    local = fromServer();
    local.rejected = kept;
  }

  function persist() {
    try { localStorage.setItem(KEY, JSON.stringify(local)); } catch (e) { /* storage full: the queue stays in memory */ }
  }

  function change(body) {
    var s = local.state;
    if (body.answers) {
      Object.keys(body.answers).forEach(function (code) {
        var a = s.answers[code] || {ok: null, note: ""};
        if ("ok" in body.answers[code]) a.ok = body.answers[code].ok;
        if ("note" in body.answers[code]) a.note = body.answers[code].note;
        s.answers[code] = a;
      });
    }
    if ("present" in body) s.present = body.present.slice();
    if ("manikins_in_use" in body) s.manikins_in_use = body.manikins_in_use;
    if ("notes" in body) s.notes = body.notes;
    // A note typed letter by letter: the last queued change of the same field, not yet being sent, is replaced.
    var last = local.queue[local.queue.length - 1];
    var sameField = last && !last.sending && JSON.stringify(Object.keys(last.body)) === JSON.stringify(Object.keys(body)) &&
      (("notes" in body) || ("manikins_in_use" in body) || ("present" in body) ||
       (body.answers && last.body.answers && Object.keys(body.answers).join() === Object.keys(last.body.answers).join() &&
        "note" in body.answers[Object.keys(body.answers)[0]] && !("ok" in body.answers[Object.keys(body.answers)[0]])));
    if (sameField) {
      last.body = body;
      last.id = uuid();
    } else {
      local.queue.push({id: uuid(), body: body});
    }
    persist();
    render();
    flush();
  }

  // ------------------------------------------------------------ photos (IndexedDB)

  var dbPromise = null;

  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        if (!window.indexedDB) { reject(new Error("no IndexedDB")); return; }
        var req = indexedDB.open("inspection-photos", 1);
        req.onupgradeneeded = function () {
          var store = req.result.createObjectStore("photos", {keyPath: "id"});
          store.createIndex("inspection", "inspection");
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }

  function tx(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction("photos", mode);
        var result = fn(t.objectStore("photos"));
        t.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }

  function allPhotos() {
    return tx("readonly", function (store) { return store.index("inspection").getAll(cfg.id); });
  }

  function putPhoto(rec) { return tx("readwrite", function (store) { store.put(rec); }); }

  var photos = [];

  function loadPhotos() {
    return allPhotos().then(function (list) {
      photos = (list || []).sort(function (a, b) { return a.added < b.added ? -1 : 1; });
      render();
    }).catch(function () { photos = []; });
  }

  function addFiles(files) {
    var jobs = Array.prototype.map.call(files, function (file) {
      var rec = {id: uuid(), inspection: cfg.id, blob: file, name: file.name, type: file.type, size: file.size,
                 caption: "", item_code: "", taken_at: new Date(file.lastModified || Date.now()).toISOString(),
                 added: Date.now(), sent: false, rejected: ""};
      photos.push(rec);
      return putPhoto(rec);
    });
    render();
    Promise.all(jobs).then(flush, flush);
  }

  // ------------------------------------------------------------ sending

  var sending = false;
  var retryDelay = 1000;
  var retryTimer = null;
  var retryAt = 0;
  var signedOut = false;

  function scheduleRetry() {
    clearTimeout(retryTimer);
    retryAt = Date.now() + retryDelay;
    retryTimer = setTimeout(function () { retryTimer = null; flush(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 60000);
    render();
  }

  function post(url, body, isForm) {
    var headers = {"X-CSRFToken": csrfToken(), "Accept": "application/json"};
    if (!isForm) headers["Content-Type"] = "application/json";
    return fetch(url, {method: "POST", credentials: "same-origin", headers: headers, body: body,
                       redirect: "manual"});
  }

  function handle(resp, onOk, onRejected) {
    if (resp.status === 200) {
      retryDelay = 1000;
      return resp.json().then(onOk);
    }
    if (resp.status === 400) {
      return resp.json().then(function (data) { onRejected(data.error || String(resp.status)); });
    }
    if (resp.status === 401 || resp.status === 403 || resp.type === "opaqueredirect") {
      signedOut = true;
      render();
      return null;
    }
    throw new Error("HTTP " + resp.status);
  }

  function flush() {
    if (sending || signedOut) return;
    if (!navigator.onLine) { render(); return; }
    var next = local.queue[0];
    if (next) {
      sending = true;
      next.sending = true;
      render();
      post(cfg.urls.changes, JSON.stringify({id: next.id, body: next.body}))
        .then(function (resp) {
          return handle(resp, function () {
            local.queue.shift();
          }, function (reason) {
            local.queue.shift();
            local.rejected.push({id: next.id, reason: reason, body: next.body});
          });
        })
        .then(function (done) {
          sending = false;
          next.sending = false;
          persist();
          render();
          if (!signedOut) flush();
          return done;
        }, function () {
          sending = false;
          next.sending = false;
          persist();
          scheduleRetry();
        });
      return;
    }
    var photo = photos.filter(function (p) { return !p.sent && !p.rejected; })[0];
    if (photo) {
      sending = true;
      render();
      var fd = new FormData();
      fd.append("client_id", photo.id);
      fd.append("item_code", photo.item_code || "");
      fd.append("caption", photo.caption || "");
      fd.append("taken_at", photo.taken_at || "");
      fd.append("photo", photo.blob, photo.name || "photo.jpg");
      post(cfg.urls.photos, fd, true)
        .then(function (resp) {
          return handle(resp, function () {
            photo.sent = true;
            photo.blob = null;  // stored on the server: the phone no longer needs the picture
          }, function (reason) {
            photo.rejected = reason;
          });
        })
        .then(function () {
          sending = false;
          return putPhoto(photo).catch(function () {}).then(function () { render(); if (!signedOut) flush(); });
        }, function () {
          sending = false;
          scheduleRetry();
        });
      return;
    }
    render();
  }

  // ------------------------------------------------------------ the page

  function pending() {
    return local.queue.length + photos.filter(function (p) { return !p.sent && !p.rejected; }).length;
  }

  function unanswered() {
    return cfg.items.filter(function (i) {
      var a = local.state.answers[i.code];
      return !a || (a.ok !== true && a.ok !== false);
    }).length;
  }

  function render() {
    var n = pending();
    var text, state;
    if (signedOut) { text = L.signed_out; state = "error"; }
    else if (!navigator.onLine && n) { text = L.offline + " · " + fmt(L.saved_local, {n: n}); state = "offline"; }
    else if (!navigator.onLine) { text = L.offline; state = "offline"; }
    else if (sending) { text = L.sending + " " + fmt(L.saved_local, {n: n}); state = "sending"; }
    else if (n && retryTimer) {
      text = fmt(L.saved_local, {n: n}) + " · " + fmt(L.retry, {s: Math.max(1, Math.round((retryAt - Date.now()) / 1000))});
      state = "waiting";
    }
    else if (n) { text = fmt(L.saved_local, {n: n}); state = "waiting"; }
    else { text = L.sent; state = "sent"; }
    statusEl.textContent = text;
    statusEl.setAttribute("data-state", state);
    statusEl.setAttribute("data-pending", String(n));

    var s = local.state;
    document.querySelectorAll("button.answer").forEach(function (b) {
      var a = s.answers[b.dataset.code];
      var on = !!a && String(a.ok) === b.dataset.ok;
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    document.querySelectorAll("textarea.item-note").forEach(function (t) {
      var a = s.answers[t.dataset.code];
      if (document.activeElement !== t) t.value = (a && a.note) || "";
    });
    var present = s.present || [];
    document.querySelectorAll("input.present").forEach(function (c) {
      c.checked = present.indexOf(Number(c.value)) >= 0;
    });
    var count = document.getElementById("present-count");
    if (count) count.textContent = fmt(L.present, {n: present.length, total: cfg.roster.length});
    var m = document.getElementById("manikins-in-use");
    if (m && document.activeElement !== m) m.value = s.manikins_in_use === null || s.manikins_in_use === undefined ? "" : s.manikins_in_use;
    var per = document.getElementById("per-manikin");
    if (per) per.textContent = s.manikins_in_use ? fmt(L.per_manikin, {n: (present.length / s.manikins_in_use).toFixed(1)}) : "";
    var notes = document.getElementById("notes");
    if (notes && document.activeElement !== notes) notes.value = s.notes || "";

    var list = document.getElementById("photo-list");
    list.textContent = "";
    photos.forEach(function (p) {
      var li = document.createElement("li");
      li.className = "photo-item " + (p.sent ? "sent" : p.rejected ? "rejected" : "waiting");
      li.textContent = (p.name || "photo") + " · " + Math.ceil((p.size || 0) / 1024) + " KB · " +
        (p.sent ? L.photo_sent : p.rejected ? fmt(L.rejected, {reason: p.rejected}) : L.photo_waiting);
      list.appendChild(li);
    });

    var rej = document.getElementById("rejected");
    rej.textContent = "";
    local.rejected.slice(-5).forEach(function (r) {
      var li = document.createElement("li");
      li.textContent = fmt(L.rejected, {reason: r.reason});
      rej.appendChild(li);
    });

    var submit = document.getElementById("submit-checklist");
    var left = unanswered();
    submit.disabled = n > 0 || left > 0 || !navigator.onLine;
    document.getElementById("submit-hint").textContent =
      left ? fmt(L.unanswered, {n: left}) : (n || !navigator.onLine ? L.submit_wait : "");
  }

  // ------------------------------------------------------------ sections, one per screen

  var groups = Array.prototype.slice.call(document.querySelectorAll("section.group"));
  var tabs = Array.prototype.slice.call(document.querySelectorAll("button.group-tab"));

  function show(code) {
    groups.forEach(function (g) { g.hidden = g.dataset.group !== code; });
    tabs.forEach(function (t) { t.setAttribute("aria-current", t.dataset.group === code ? "step" : "false"); });
    try { sessionStorage.setItem(KEY + ":group", code); } catch (e) { /* private mode */ }
  }

  tabs.forEach(function (t) { t.addEventListener("click", function () { show(t.dataset.group); window.scrollTo(0, 0); }); });
  document.querySelectorAll("button.next-group").forEach(function (b, i) {
    b.addEventListener("click", function () {
      var nextGroup = groups[i + 1];
      if (nextGroup) { show(nextGroup.dataset.group); window.scrollTo(0, 0); }
    });
  });
  var startGroup = null;
  try { startGroup = sessionStorage.getItem(KEY + ":group"); } catch (e) { startGroup = null; }
  show(startGroup && groups.some(function (g) { return g.dataset.group === startGroup; }) ? startGroup : groups[0].dataset.group);

  // ------------------------------------------------------------ inputs

  document.querySelectorAll("button.answer").forEach(function (b) {
    b.addEventListener("click", function () {
      var a = {};
      a[b.dataset.code] = {ok: b.dataset.ok === "true"};
      change({answers: a});
    });
  });
  document.querySelectorAll("textarea.item-note").forEach(function (t) {
    t.addEventListener("input", function () {
      var a = {};
      a[t.dataset.code] = {note: t.value.slice(0, 500)};
      change({answers: a});
    });
  });
  document.querySelectorAll("input.present").forEach(function (c) {
    c.addEventListener("change", function () {
      var ids = Array.prototype.filter.call(document.querySelectorAll("input.present"), function (x) { return x.checked; })
        .map(function (x) { return Number(x.value); });
      change({present: ids});
    });
  });
  var manikins = document.getElementById("manikins-in-use");
  if (manikins) {
    manikins.addEventListener("input", function () {
      var v = manikins.value.trim();
      if (v === "") { change({manikins_in_use: null}); return; }
      var n = Number(v);
      if (Number.isInteger(n) && n >= 0 && n <= 200) change({manikins_in_use: n});
    });
  }
  var notes = document.getElementById("notes");
  notes.addEventListener("input", function () { change({notes: notes.value.slice(0, 4000)}); });
  document.getElementById("photo-input").addEventListener("change", function (e) {
    if (e.target.files && e.target.files.length) addFiles(e.target.files);
    e.target.value = "";
  });
  document.querySelector(".submit-form").addEventListener("submit", function (e) {
    if (pending() > 0 || unanswered() > 0) { e.preventDefault(); render(); return; }
    try { localStorage.removeItem(KEY); } catch (err) { /* nothing kept */ }
  });

  window.addEventListener("online", function () { retryDelay = 1000; clearTimeout(retryTimer); retryTimer = null; flush(); });
  window.addEventListener("offline", render);
  setInterval(function () { if (retryTimer) render(); }, 1000);

  if ("serviceWorker" in navigator && cfg.urls.sw) {
    navigator.serviceWorker.register(cfg.urls.sw, {scope: "/inspections/"}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function () {
      // This page and what it loaded were fetched before the worker ran: keep them now for a reload offline.
      if (!window.caches || !navigator.onLine) return null;
      var urls = [location.pathname];
      document.querySelectorAll("script[src], link[rel=stylesheet]").forEach(function (el) {
        urls.push(el.getAttribute("src") || el.getAttribute("href"));
      });
      return caches.open("inspection-checklist-v1").then(function (cache) { return cache.addAll(urls); });
    }).catch(function () { /* optional: without it a reload needs the network */ });
  }

  render();
  loadPhotos().then(flush, flush);
})();

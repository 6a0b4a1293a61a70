/* The exam page (exams/templates/exams/attempt.html; rules in exams/attempts.py).
 * - Every change of an answer is sent at once, over the exam socket (/ws/exams/attempts/<id>/,
 *   exams/consumers.py) while it is open, else posted (fetch + CSRF header), with a sequence number that
 *   grows across reloads (milliseconds since the attempt started, on the server's clock), retried
 *   with back-off until the server has it; "已保存" shows when it has. Only the newest choice of a
 *   question is sent: a newer change replaces one still waiting.
 * - The time left is the server's: the page counts down from the remaining seconds the server sent
 *   and takes the server's figure again on every save and every 30 s. At zero it goes to the result
 *   page (the server closes the attempt at its deadline whatever this page does).
 * - visibilitychange: a hidden page reports a leave (keepalive: it is sent even when the tab
 *   closes), a visible one its return; so does the page when it opens (after a reload).
 * - Submitting asks for confirmation and first waits for the answers still being sent.
 * No inline script (CSP): this file is loaded with <script defer>. */
(function () {
  "use strict";

  var root = document.getElementById("exam");
  if (!root) return;
  var base = root.getAttribute("data-base");
  var resultUrl = root.getAttribute("data-result-url");
  var labels = {};
  try { labels = JSON.parse(document.getElementById("exam-labels").textContent); } catch (e) { labels = {}; }
  var loadedAt = performance.now();
  var elapsedAtLoadMs = parseInt(root.getAttribute("data-elapsed-ms"), 10) || 0;
  var lastSeq = parseInt(root.getAttribute("data-max-seq"), 10) || 0;
  var deadline = loadedAt + (parseInt(root.getAttribute("data-remaining-s"), 10) || 0) * 1000;
  var timeBox = document.getElementById("time-left");
  var saveBox = document.getElementById("save-state");
  var answeredBox = document.getElementById("answered");
  var finished = false;

  function t(key, params) {
    var text = labels[key] || key;
    return text.replace(/%\((\w+)\)s/g, function (m, name) { return params && name in params ? String(params[name]) : m; });
  }

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function request(path, body, keepalive) {
    var opts = {credentials: "same-origin", headers: {"Accept": "application/json"}, keepalive: !!keepalive};
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRFToken"] = csrfToken();
      opts.body = JSON.stringify(body);
    }
    return fetch(base + path, opts).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) { return {status: resp.status, data: data}; });
    });
  }

  // The exam socket: answers go over it while it is open (the server group-commits them and answers
  // after the commit); a save it does not answer within 10 s, or that is out when it drops, fails like
  // a failed request and is sent again (over HTTP while the socket is down). Reopened with growing
  // pauses; after three failures in a row (or a refused sign-in) the page stays on HTTP.
  var sock = null, sockFailures = 0, msgId = 0, waiting = {};
  var socketPath = root.getAttribute("data-socket");
  function openSocket() {
    if (!window.WebSocket || !socketPath || finished || sockFailures >= 3) return;
    var ws;
    try { ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + socketPath); }
    catch (e) { sockFailures = 3; return; }
    ws.onopen = function () { sock = ws; sockFailures = 0; };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      var w = waiting[m.id];
      if (!w) return;
      delete waiting[m.id];
      clearTimeout(w.timer);
      if (m.type === "error") w.resolve({status: m.closed ? 409 : m.status, data: m});
      else w.resolve({status: 200, data: m});
    };
    ws.onclose = function (ev) {
      if (sock === ws) sock = null;
      Object.keys(waiting).forEach(function (id) {
        var w = waiting[id];
        delete waiting[id];
        clearTimeout(w.timer);
        w.reject(new Error("socket closed"));
      });
      sockFailures = (ev.code === 4401 || ev.code === 4403) ? 3 : sockFailures + 1;
      if (sockFailures < 3 && !finished) setTimeout(openSocket, 1000 * Math.pow(2, sockFailures));
    };
  }

  function saveAnswer(body) {
    if (!sock || sock.readyState !== 1) return request("answer/", body);
    return new Promise(function (resolve, reject) {
      var id = ++msgId;
      var message = {type: "answer", id: id, position: body.position, choice: body.choice, seq: body.seq};
      waiting[id] = {resolve: resolve, reject: reject, timer: setTimeout(function () {
        delete waiting[id];
        reject(new Error("no answer"));
      }, 10000)};
      sock.send(JSON.stringify(message));
    });
  }

  function nextSeq() {
    var now = Math.floor(elapsedAtLoadMs + (performance.now() - loadedAt));
    lastSeq = Math.max(lastSeq + 1, now);
    return lastSeq;
  }

  // ---------------------------------------------------------------- the clock

  function syncClock(remainingS) {
    if (typeof remainingS === "number") deadline = performance.now() + remainingS * 1000;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var left = Math.max(0, Math.round((deadline - performance.now()) / 1000));
    var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    timeBox.textContent = (h ? h + ":" + pad(m) : pad(m)) + ":" + pad(s);
    timeBox.parentNode.classList.toggle("low", left <= 300);
    if (left <= 0 && !finished) {
      finished = true;
      saveBox.textContent = t("over");
      disableAll();
      setTimeout(function () { window.location.href = resultUrl; }, 1500);
    }
  }

  function disableAll() {
    Array.prototype.forEach.call(root.querySelectorAll("input"), function (i) { i.disabled = true; });
  }

  function closed(data) {
    finished = true;
    disableAll();
    saveBox.textContent = (data && data.error) || t("closed");
    setTimeout(function () { window.location.href = (data && data.result_url) || resultUrl; }, 1500);
  }

  // ---------------------------------------------------------------- answers

  var pending = {};   // position -> {choice, seq}: the newest choice not yet stored
  var inflight = {};  // position -> true while a request is out
  var failures = 0;
  // Every choice not yet acknowledged is also kept in the browser's storage until the server has it, so that
  // a reload, a closed tab or a dead battery while the server or the network is away loses nothing: the
  // page that opens next puts those choices back and sends them (their sequence numbers keep their order).
  var storeKey = "lms-exam-unsaved:" + base;
  var unsaved = {};   // position -> {choice, seq}
  function keep() {
    try {
      if (Object.keys(unsaved).length) window.localStorage.setItem(storeKey, JSON.stringify(unsaved));
      else window.localStorage.removeItem(storeKey);
    } catch (e) { /* storage full or disabled: the page still holds them */ }
  }
  function acknowledged(position, item) {
    if (unsaved[position] && unsaved[position].seq === item.seq) { delete unsaved[position]; keep(); }
  }

  function choiceOf(fieldset) {
    var out = [];
    Array.prototype.forEach.call(fieldset.querySelectorAll("input"), function (i) {
      if (i.checked) out.push(parseInt(i.value, 10));
    });
    return out;
  }

  function countAnswered() {
    var n = 0, total = 0;
    Array.prototype.forEach.call(root.querySelectorAll("fieldset.question"), function (f) {
      total += 1;
      if (choiceOf(f).length) n += 1;
    });
    answeredBox.textContent = n;
    var note = document.getElementById("unanswered-note");
    if (note) note.textContent = total - n ? t("unanswered", {n: total - n}) : "";
    return total - n;
  }

  function busy() {
    for (var k in pending) if (pending.hasOwnProperty(k)) return true;
    for (var j in inflight) if (inflight.hasOwnProperty(j)) return true;
    return false;
  }

  function showState() {
    if (finished) return;
    if (busy()) {
      saveBox.textContent = failures ? (navigator.onLine === false ? t("offline") : t("failed")) : t("saving");
      saveBox.className = "save-state " + (failures ? "failed" : "saving");
    } else {
      saveBox.textContent = t("saved");
      saveBox.className = "save-state saved";
    }
  }

  function send(position) {
    if (finished || inflight[position] || !pending[position]) return;
    var item = pending[position];
    delete pending[position];
    inflight[position] = true;
    showState();
    saveAnswer({position: position, choice: item.choice, seq: item.seq}).then(function (r) {
      delete inflight[position];
      if (r.status === 200) {
        failures = 0;
        acknowledged(position, item);
        syncClock(r.data.remaining_s);
        var box = document.querySelector("#q" + position + " .item-state");
        if (box) box.textContent = "";
      } else if (r.status === 409) {
        unsaved = {}; keep();  // the attempt is closed: nothing more can be stored
        closed(r.data);
        return;
      } else if (r.status === 400 || r.status === 403 || r.status === 404) {
        acknowledged(position, item);  // refused with its reason, shown beside the question
        var box2 = document.querySelector("#q" + position + " .item-state");
        if (box2) box2.textContent = t("refused") + " " + (r.data.error || r.status);
      } else {
        throw new Error("HTTP " + r.status);
      }
      showState();
      if (pending[position]) send(position);
    }).catch(function () {
      delete inflight[position];
      if (!pending[position]) pending[position] = item;  // a newer choice wins over the failed one
      failures += 1;
      showState();
      // 1, 2, 4 s, then every 5 s: a restarted server gets the answers within seconds of coming back;
      // ±25 % so that a room of candidates does not come back in step.
      var delay = Math.min(5000, 1000 * Math.pow(2, Math.min(failures - 1, 3)));
      setTimeout(function () { send(position); }, delay * (0.75 + Math.random() * 0.5));
    });
  }

  root.addEventListener("change", function (e) {
    var fieldset = e.target.closest("fieldset.question");
    if (!fieldset || finished) return;
    var position = parseInt(fieldset.getAttribute("data-position"), 10);
    pending[position] = {choice: choiceOf(fieldset), seq: nextSeq()};
    unsaved[position] = pending[position];
    keep();
    countAnswered();
    send(position);
  });

  function restoreUnsaved() {
    var stored;
    try { stored = JSON.parse(window.localStorage.getItem(storeKey) || "{}"); } catch (e) { stored = {}; }
    Object.keys(stored || {}).forEach(function (key) {
      var item = stored[key], position = parseInt(key, 10);
      var fieldset = document.getElementById("q" + position);
      if (!fieldset || !item || !Array.isArray(item.choice) || typeof item.seq !== "number") return;
      Array.prototype.forEach.call(fieldset.querySelectorAll("input"), function (i) {
        i.checked = item.choice.indexOf(parseInt(i.value, 10)) !== -1;
      });
      unsaved[position] = pending[position] = {choice: item.choice, seq: item.seq};
    });
    keep();
    Object.keys(pending).forEach(function (p) { send(parseInt(p, 10)); });
  }

  window.addEventListener("online", function () {
    Object.keys(pending).forEach(function (p) { send(parseInt(p, 10)); });
  });

  // ---------------------------------------------------------------- the server's state, leaves

  function refresh() {
    if (finished) return;
    request("state/").then(function (r) {
      if (r.status !== 200) return;
      syncClock(r.data.remaining_s);
      if (r.data.status !== "open") closed(null);
    }).catch(function () {});
  }
  setInterval(refresh, 30000);

  document.addEventListener("visibilitychange", function () {
    if (finished) return;
    var hidden = document.visibilityState === "hidden";
    request("leave/", {returned: !hidden}, hidden).then(function (r) {
      if (r.status === 409 || (r.data && r.data.status && r.data.status !== "open")) { closed(r.data); return; }
      if (r.status === 200) syncClock(r.data.remaining_s);
    }).catch(function () {});
    if (!hidden) refresh();
  });

  // ---------------------------------------------------------------- submitting

  var form = document.getElementById("submit-form");
  if (form) {
    form.addEventListener("submit", function (e) {
      var button = form.querySelector("button[type=submit]");
      var unanswered = countAnswered();
      var question = unanswered ? button.getAttribute("data-confirm-unanswered") : button.getAttribute("data-confirm");
      e.preventDefault();
      if (!window.confirm(question)) return;
      button.disabled = true;
      var waited = 0;
      (function flush() {
        if (!busy() || waited >= 10000) { finished = true; form.submit(); return; }
        waited += 200;
        setTimeout(flush, 200);
      })();
    });
  }

  // A page that opens (a reload, a tab opened again) is a return to the exam: it closes the last leave.
  request("leave/", {returned: true}).then(function (r) {
    if (r.status === 409) closed(r.data);
  }).catch(function () {});
  openSocket();
  restoreUnsaved();
  countAnswered();
  showState();
  if (saveBox.textContent === t("saved")) saveBox.textContent = "";
  tick();
  setInterval(tick, 1000);
})();

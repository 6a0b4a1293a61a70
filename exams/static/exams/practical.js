/* The examiner's tablet: checklist ticks are kept in this browser (localStorage) until the server has
   them, sent with their own ids (a resend is stored once), with a visible warning while the link is
   down. The page follows the CPR item and the result versions (late evidence) by polling. */
(function () {
  "use strict";
  var labels = JSON.parse(document.getElementById("pe-labels").textContent);
  var initial = JSON.parse(document.getElementById("pe-state").textContent);
  var banner = document.getElementById("pe-link");
  var form = document.getElementById("pe-checklist");
  var statusLine = document.getElementById("pe-queue");

  function uuid4() {  // crypto.randomUUID needs a secure context; a tablet on the site's LAN may not have one
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function showLink(down) {
    if (!banner) { return; }
    banner.hidden = !down;
    banner.textContent = down ? labels.offline : "";
  }

  if (form) {
    var key = "pe-queue-" + form.dataset.booking;
    var csrf = form.dataset.csrf;
    var url = form.getAttribute("action");
    var queue = [];
    try { queue = JSON.parse(localStorage.getItem(key) || "[]"); } catch (e) { queue = []; }
    var sending = false, retry = null;

    function save() { localStorage.setItem(key, JSON.stringify(queue)); }
    function say(text) { if (statusLine) { statusLine.textContent = text; } }
    function report() {
      say(queue.length ? labels.pending.replace("%(n)s", String(queue.length)) : labels.sent);
    }
    // What this tablet holds wins over what the page was rendered with.
    queue.forEach(function (e) {
      var box = form.querySelector('input[data-item="' + e.item + '"]');
      if (box) { box.checked = e.done; }
    });

    function flush() {
      if (sending || !queue.length) { report(); return; }
      sending = true;
      var batch = queue.slice(0, 200);
      fetch(url, {method: "POST", credentials: "same-origin",
                  headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
                  body: JSON.stringify({entries: batch})})
        .then(function (r) {
          if (r.status >= 500) { throw new Error("server " + r.status); }
          return r.json().then(function (body) { return {status: r.status, body: body}; });
        })
        .then(function (res) {
          sending = false;
          showLink(false);
          if (res.status !== 200) { say(labels.rejected + " " + (res.body.error || res.status)); return; }
          var done = {};
          res.body.stored.concat(res.body.duplicates).forEach(function (id) { done[id] = true; });
          var refused = res.body.rejected || [];
          refused.forEach(function (r) { done[r.id] = true; });
          queue = queue.filter(function (e) { return !done[e.id]; });
          save();
          if (refused.length) {
            say(labels.rejected + " " + refused.map(function (r) { return r.reason; }).join("; "));
          } else { report(); }
          if (queue.length) { flush(); } else { refreshVerdict(); }
        })
        .catch(function () {
          sending = false;
          showLink(true);
          report();
          clearTimeout(retry);
          retry = setTimeout(flush, 5000);
        });
    }

    form.addEventListener("change", function (ev) {
      var box = ev.target;
      if (!box.dataset || !box.dataset.item) { return; }
      queue.push({id: uuid4(), item: box.dataset.item, done: box.checked, at: new Date().toISOString()});
      save();
      report();  // the line counts this tick at once, whether or not a send is under way
      flush();
    });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); flush(); });
    window.addEventListener("online", flush);
    report();
    flush();
  }

  // The verdict box follows the ticks the server has (points, critical items missed, what is missing).
  function refreshVerdict() {
    var box = document.getElementById("pe-verdict");
    var url = document.getElementById("pe-cpr") && document.getElementById("pe-cpr").dataset.stateUrl;
    if (!box || !url) { return; }
    fetch(url, {credentials: "same-origin", cache: "no-store"}).then(function (r) { return r.json(); }).then(function (s) {
      box.querySelector("[data-points]").textContent = s.points;
      var missed = box.querySelector("[data-missed]");
      missed.hidden = !s.missed_titles.length;
      missed.querySelector("span").textContent = s.missed_titles.join("；");
      var problems = box.querySelector("[data-problems]");
      problems.textContent = "";
      s.problems.forEach(function (text) {
        var p = document.createElement("p");
        p.className = "exam-note";
        p.textContent = text;
        problems.appendChild(p);
      });
    }).catch(function () {});
  }

  // Follow the CPR item and the versions: reload when they change (and nothing is waiting to be sent).
  var stateUrl = document.getElementById("pe-cpr") && document.getElementById("pe-cpr").dataset.stateUrl;
  function signature(s) { return JSON.stringify([s.status, s.cpr, s.versions]); }
  var seen = signature(initial);
  function poll() {
    if (!stateUrl) { return; }
    fetch(stateUrl, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (s) {
        showLink(false);
        var waiting = form && (JSON.parse(localStorage.getItem("pe-queue-" + form.dataset.booking) || "[]")).length;
        if (signature(s) !== seen && !waiting) { window.location.reload(); }
      })
      .catch(function () { showLink(true); })
      .then(function () { setTimeout(poll, 4000); });
  }
  setTimeout(poll, 4000);
}());

/* The trainee screen (manikin:live): live while a recording runs, its result when it stops.
 * live.js runs the socket and the live tile; this script listens to its hooks on the root element:
 *  - "live:recording": a recording started (go live) or stopped (fetch and show its result panel);
 *  - "live:forbidden": the server closed the socket with 4403/4401 (the trainee's recording stopped, so
 *    the trainee may no longer watch): show the result, then poll this page's ?state=1 with backoff
 *    (paused while the screen is hidden) until this viewer's next recording starts, then reload (live);
 *  - "live:closed": the socket dropped otherwise; when the recording has stopped, the same as "live:forbidden";
 *  - "live:open" after a reconnect: re-read the state (a stop may have been missed meanwhile).
 * Staff screens keep their socket after a stop, so they wait for the next start without polling. */
(function () {
  "use strict";
  var root = document.querySelector("[data-live-socket]");
  var panel = document.querySelector("[data-result-panel]");
  if (!root || !panel) return;
  var status = document.querySelector("[data-socket-status]");
  var url = root.dataset.stateUrl;
  var MIN_DELAY = 3000, MAX_DELAY = 20000, SLOW_DELAY = 60000, SLOW_AFTER_MS = 15 * 60 * 1000;
  var delay = MIN_DELAY, timer = null, waitingSince = null, paused = false, opens = 0;

  function shownRecording() { var s = panel.querySelector("[data-recording]"); return s ? s.dataset.recording : ""; }

  function showLive() {
    document.body.dataset.mode = "live";
    panel.hidden = true; root.hidden = false;
    if (status) status.hidden = false;
    window.dispatchEvent(new Event("resize"));  // the chart was laid out while hidden
  }

  function showResult(html) {
    if (html !== undefined) panel.innerHTML = html;
    document.body.dataset.mode = "result";
    root.hidden = true; panel.hidden = false;
  }

  function getState() {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) {
      if (r.status === 404 || r.status === 403) return null;  // nothing this viewer may see here any more
      if (!r.ok) throw new Error("state " + r.status);
      return r.json();
    });
  }

  function liveRecording() { var t = root.querySelector("[data-recording]"); return t ? t.dataset.recording : ""; }

  function apply(state) {
    if (!state.active) showResult(state.html);
    else if (String(state.recording) === liveRecording()) showLive();
    else window.location.reload();  // a recording this page has not seen start: load it live (tile, socket)
  }

  var inflight = null;
  function refresh() {  // one request at a time: a stop brings both the event and the socket's close
    if (!inflight) {
      inflight = getState().then(function (state) { if (state) apply(state); }).catch(function () {})
        .then(function () { inflight = null; });
    }
    return inflight;
  }

  function stopWaiting() { if (timer) clearTimeout(timer); timer = null; waitingSince = null; paused = false; delay = MIN_DELAY; }

  function schedule() {
    if (timer) clearTimeout(timer);
    var cap = (Date.now() - waitingSince > SLOW_AFTER_MS) ? SLOW_DELAY : MAX_DELAY;
    timer = setTimeout(poll, delay);
    delay = Math.min(Math.round(delay * 1.5), cap);
  }

  function poll() {
    timer = null;
    if (document.hidden) { paused = true; return; }  // resumes on visibilitychange
    getState().then(function (state) {
      if (state === null) { stopWaiting(); return; }
      if (state.active) { stopWaiting(); apply(state); return; }
      if (String(state.recording || "") !== shownRecording()) showResult(state.html);
      schedule();
    }).catch(schedule);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && paused) { paused = false; delay = MIN_DELAY; poll(); }
  });

  root.addEventListener("live:recording", function (e) {
    var rec = e.detail.recording;
    if (rec.active) { stopWaiting(); showLive(); return; }
    refresh();
  });

  function waitForNext() {
    if (status) status.hidden = true;  // not "reconnecting": the screen shows the result and waits
    waitingSince = Date.now(); delay = MIN_DELAY; schedule();
  }

  root.addEventListener("live:forbidden", function () {
    if (document.body.dataset.mode === "live") refresh();
    waitForNext();
  });

  // The socket dropped with another code (network, server restart, a handshake refused after the stop):
  // if the recording is no longer running, stop reconnecting and wait for the next one like after a 4403.
  root.addEventListener("live:closed", function () {
    if (timer) return;  // already waiting
    getState().then(function (state) {
      if (state && (state.active || state.watching)) return;  // live.js reconnects
      root.dataset.stopReconnect = "1";
      if (state) showResult(state.html);
      waitForNext();
    }).catch(function () {});
  });

  root.addEventListener("live:open", function () {
    opens += 1;
    if (opens > 1) refresh();
  });
})();

/* Live CPR view: one WebSocket, one tile per manikin, waveform + indicators.
 * Used by the room console (many tiles) and the trainee view (one large tile).
 * Data arrive as "live.frames" events (samples, new compressions, running summary, status)
 * and "recording.changed" events. Charts redraw at most every 50 ms (20 per second). */
(function () {
  "use strict";
  var root = document.querySelector("[data-live-socket]");
  if (!root) return;
  var WINDOW_S = parseFloat(root.dataset.windowS || "8");
  var std = JSON.parse(document.getElementById("standard-data").textContent);
  var T = JSON.parse(document.getElementById("live-i18n").textContent);
  var tiles = {};
  // Numbers as shown everywhere (lms/numbers.js): score one decimal rounded down, depth one decimal mm,
  // rate whole /min, CCF whole percent; a verdict colour is decided on the value shown.
  var N = window.LMSNumbers;
  // Server clock minus this screen's clock, so that elapsed times count from the server's start time.
  var serverNow = parseFloat(root.dataset.serverNow || "");
  var clockOffset = isNaN(serverNow) ? 0 : serverNow - Date.now() / 1000;

  function makeTile(el) {
    var id = parseInt(el.dataset.manikin, 10);
    var chartEl = el.querySelector(".chart");
    var tile = { id: id, el: el, t: [], d: [], dirty: false, plot: null, summary: null };
    var width = Math.max(chartEl.clientWidth, 200), height = parseInt(chartEl.dataset.height || "160", 10);
    var band = {
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx, top = u.valToPos(std.depth_min_mm, "y", true), bot = u.valToPos(std.depth_max_mm, "y", true);
          ctx.save(); ctx.fillStyle = "rgba(18,128,92,0.14)";
          ctx.fillRect(u.bbox.left, Math.min(top, bot), u.bbox.width, Math.abs(bot - top)); ctx.restore();
        }]
      }
    };
    tile.plot = new uPlot({
      width: width, height: height, legend: { show: false }, cursor: { show: false },
      plugins: [band],
      scales: { x: { time: false, range: [-WINDOW_S, 0] }, y: { range: [-5, 75], dir: -1 } },
      axes: [{ values: function (u, vals) { return vals.map(function (v) { return v + "s"; }); }, size: 28 },
             { values: function (u, vals) { return vals.map(function (v) { return v; }); }, size: 34, label: "mm", labelSize: 14 }],
      series: [{}, { stroke: "#c8102e", width: 2, points: { show: false } }]
    }, [[], []], chartEl);
    var lastWidth = width;
    function fit() {
      var w = Math.max(chartEl.clientWidth, 200);
      if (w !== lastWidth) { lastWidth = w; tile.plot.setSize({ width: w, height: height }); }
    }
    // The chart follows its container (a rotated tablet, a narrower column), not just the window.
    if (window.ResizeObserver) new ResizeObserver(fit).observe(chartEl);
    else window.addEventListener("resize", fit);
    tiles[id] = tile;
    return tile;
  }
  document.querySelectorAll("[data-manikin]").forEach(makeTile);

  function setText(tile, name, text, state) {
    var el = tile.el.querySelector('[data-field="' + name + '"]');
    if (!el) return;
    el.textContent = text;
    if (state !== undefined) el.dataset.state = state;
  }

  // judged on the shown text (the rounded value), so the colour never contradicts the number
  function judge(shown, lo, hi) {
    var v = parseFloat(shown); if (isNaN(v)) return "";
    return v < lo ? "low" : (v > hi ? "high" : "ok");
  }
  function scoreState(v) { var s = N.scoreValue(v); return s === null ? "" : (s >= std.pass_score ? "ok" : "low"); }

  function onCompression(tile, c) {
    var d = N.depth(c.depth_mm);
    setText(tile, "depth", d, judge(d, std.depth_min_mm, std.depth_max_mm));
    if (c.rate_cpm !== null && c.rate_cpm !== undefined) {
      var r = N.rate(c.rate_cpm); setText(tile, "rate", r, judge(r, std.rate_min_cpm, std.rate_max_cpm));
    }
    setText(tile, "recoil", c.recoil_ok ? T.recoil_ok : T.leaning, c.recoil_ok ? "ok" : "high");
  }

  function cyclesText(done, expected) {
    if (done === null || done === undefined) return "—";
    // "3/5" while short of the standard's cycles; past it (a long practice run) the count alone, marked ok.
    return expected && done <= expected ? N.count(done) + "/" + N.count(expected) : N.count(done);
  }

  function onSummary(tile, s) {
    if (!s) return;
    tile.summary = s;
    setText(tile, "count", N.count(s.count));
    setText(tile, "score", N.score(s.score), scoreState(s.score));
    setText(tile, "ccf", N.percent(s.ccf));
    if ("cycles_done" in s) {
      var enough = s.cycles_expected ? (s.cycles_done >= s.cycles_expected ? "ok" : "") : "";
      setText(tile, "cycles", cyclesText(s.cycles_done, s.cycles_expected), enough);
    }
  }

  function mmss(seconds) {
    if (seconds === null || isNaN(seconds)) return "—";
    var s = Math.max(0, Math.floor(seconds)), m = Math.floor(s / 60);
    return (m < 10 ? "0" : "") + m + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
  }
  function tickElapsed() {
    var now = Date.now() / 1000 + clockOffset;
    Object.keys(tiles).forEach(function (k) {
      var tile = tiles[k], started = parseFloat(tile.el.dataset.startedAt || "");
      if (!tile.el.dataset.recording || isNaN(started)) return;
      setText(tile, "elapsed", mmss(now - started));
    });
  }

  function onStatus(tile, st) {
    setText(tile, "state", T.states[st.state] || st.state, st.state);
    if (st.battery_pct !== null && st.battery_pct !== undefined) setText(tile, "battery", st.battery_pct + "%");
    if (st.rssi_dbm !== null && st.rssi_dbm !== undefined) setText(tile, "rssi", st.rssi_dbm + " dBm");
    if (st.message) tile.el.querySelector('[data-field="state"]').title = st.message;
  }

  function onRecording(tile, rec) {
    tile.el.dataset.recording = rec.active ? rec.id : "";
    tile.el.classList.toggle("recording", !!rec.active);
    setText(tile, "trainee", rec.active ? (rec.trainee || T.practice) : "");
    if (!rec.active) {
      if (rec.score !== null) setText(tile, "score", N.score(rec.score), rec.passed ? "ok" : "low");
      if (rec.started_at && rec.stopped_at) setText(tile, "elapsed", mmss(rec.stopped_at - rec.started_at));
      var fb = tile.el.querySelector('[data-field="feedback"]');
      if (fb) fb.textContent = (rec.feedback || []).map(function (f) { return f.message; }).join("；");
      var box = tile.el.querySelector("[data-result-box]");
      if (box) {
        var verdict = rec.outcome === "cancelled" ? T.cancelled : (rec.outcome === "scored" && rec.passed !== null
          ? (rec.passed ? T.passed : T.not_passed) : T.unscorable);
        setText(tile, "verdict", verdict, rec.outcome === "scored" && rec.passed !== null ? (rec.passed ? "ok" : "low") : "");
        setText(tile, "result-score", N.score(rec.score));
        var hm = new Date(((rec.stopped_at || Date.now() / 1000 + clockOffset) - clockOffset) * 1000);
        setText(tile, "result-who", (rec.trainee || T.practice) + " · " +
          ("0" + hm.getHours()).slice(-2) + ":" + ("0" + hm.getMinutes()).slice(-2));
        box.hidden = false;
      }
    } else {
      tile.el.dataset.startedAt = rec.started_at ? String(rec.started_at) : "";
      ["depth", "rate", "recoil", "count", "score", "ccf", "cycles", "elapsed"].forEach(function (f) { setText(tile, f, "—", ""); });
      var fb2 = tile.el.querySelector('[data-field="feedback"]'); if (fb2) fb2.textContent = "";
      var box2 = tile.el.querySelector("[data-result-box]"); if (box2) box2.hidden = true;
      tickElapsed();
    }
    var startForm = tile.el.querySelector("form[data-start]"), stopForm = tile.el.querySelector("form[data-stop]");
    if (startForm && stopForm) {
      startForm.hidden = !!rec.active;
      stopForm.hidden = !rec.active;
      if (rec.active) stopForm.action = stopForm.dataset.actionTemplate.replace("0", String(rec.id));
    }
    var link = tile.el.querySelector("a[data-result]");
    if (link) { link.hidden = !!rec.active; link.href = link.dataset.hrefTemplate.replace("0", String(rec.id)); }
  }

  function onFrames(ev) {
    (ev.statuses || []).forEach(function (st) { var tile = tiles[st.manikin_id]; if (tile) onStatus(tile, st); });
    (ev.items || []).forEach(function (it) {
      var tile = tiles[it.manikin]; if (!tile) return;
      if (it.t) {  // samples: published as soon as they arrive
        for (var i = 0; i < it.t.length; i++) { tile.t.push(it.t[i]); tile.d.push(it.depth_mm[i]); }
        var cut = 0, last = tile.t[tile.t.length - 1];
        while (cut < tile.t.length && tile.t[cut] < last - WINDOW_S - 1) cut++;
        if (cut) { tile.t.splice(0, cut); tile.d.splice(0, cut); }
        tile.dirty = true;
        setText(tile, "state", T.states.streaming, "streaming");
      }
      (it.compressions || []).forEach(function (c) { onCompression(tile, c); });  // scores: after the commit
      if (it.summary) onSummary(tile, it.summary);
    });
    root.dataset.lastFrameAt = String(Date.now());
    root.dataset.frames = String(parseInt(root.dataset.frames || "0", 10) + 1);
  }

  var lastDraw = 0;
  function draw(now) {
    if (now - lastDraw >= 50) {
      lastDraw = now;
      Object.keys(tiles).forEach(function (k) {
        var tile = tiles[k]; if (!tile.dirty || !tile.t.length) return;
        var last = tile.t[tile.t.length - 1];
        tile.plot.setData([tile.t.map(function (v) { return v - last; }), tile.d.slice()]);
        tile.dirty = false;
        tile.el.dataset.draws = String(parseInt(tile.el.dataset.draws || "0", 10) + 1);
      });
    }
    window.requestAnimationFrame(draw);
  tickElapsed();
  setInterval(tickElapsed, 1000);
  }
  window.requestAnimationFrame(draw);

  var backoff = 500;
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + root.dataset.liveSocket);
    var status = document.querySelector("[data-socket-status]");
    ws.onopen = function () {
      backoff = 500; if (status) { status.textContent = T.connected; status.dataset.state = "ok"; }
      root.dispatchEvent(new CustomEvent("live:open"));
    };
    ws.onclose = function (e) {
      // Trainee screen hook: a page with data-on-forbidden="event" handles a refused socket itself (shows the
      // result, waits for the next recording, then reloads); no "reconnecting" status.
      if ((e.code === 4401 || e.code === 4403) && root.dataset.onForbidden === "event") {
        root.dispatchEvent(new CustomEvent("live:forbidden", { detail: { code: e.code } })); return;
      }
      if (status) { status.textContent = T.disconnected; status.dataset.state = "low"; }
      if (e.code === 4401 || e.code === 4403) return;  // not allowed: do not hammer the server
      // Trainee screen hook: any other close (a network drop, a refused handshake, which browsers report as
      // 1006) makes the page re-read its state; if the recording has stopped meanwhile, it sets
      // data-stop-reconnect and waits for the next recording by polling instead.
      if (root.dataset.onForbidden === "event") root.dispatchEvent(new CustomEvent("live:closed", { detail: { code: e.code } }));
      setTimeout(function () { if (root.dataset.stopReconnect !== "1") connect(); }, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
    // Flow control: tell the server how many messages this page has taken in, so that a slow
    // screen makes the server skip waveform updates instead of queueing them without bound.
    var received = 0, reported = 0;
    function report() {
      if (received !== reported && ws.readyState === 1) { ws.send(JSON.stringify({type: "seen", n: received})); reported = received; }
    }
    var reporter = setInterval(report, 250);
    ws.addEventListener("close", function () { clearInterval(reporter); });
    ws.onmessage = function (msg) {
      received += 1;
      if (received - reported >= 20) report();
      var ev = JSON.parse(msg.data);
      if (ev.type === "live.frames") onFrames(ev);
      else if (ev.type === "recording.changed") {
        var tile = tiles[ev.manikin]; if (tile) onRecording(tile, ev.recording);
        root.dispatchEvent(new CustomEvent("live:recording", { detail: ev }));  // trainee screen hook
      }
      else if (ev.type === "station.changed") {
        Object.keys(tiles).forEach(function (k) {
          var t = tiles[k]; if (t.el.dataset.station !== String(ev.station)) return;
          var pill = t.el.querySelector('[data-field="bridge"]'); if (pill) pill.hidden = ev.connected;
        });
      }
    };
  }
  connect();
})();

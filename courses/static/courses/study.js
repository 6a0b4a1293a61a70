/* The per-trainee part of a lesson page (see courses/api.py for how the server counts):
 * - heartbeats every 15 s while the page is visible, one with visible=false when it is hidden:
 *   over the study socket (/ws/study/, courses/consumers.py) while it is open, else POST
 *   /study/heartbeat/ (the socket could not open, or the page is being left); the time studied
 *   shown grows with each beat's answer, and the whole progress box is fetched again when the
 *   lesson becomes complete and every 5 minutes (which also keeps the sign-in alive);
 * - each video's played ranges (timeupdate between seeks; a seek starts a new range, so seeking
 *   ahead plays nothing), posted every ~10 s and on pause, ended and pagehide (fetch keepalive:
 *   sendBeacon cannot carry the CSRF header);
 * - practice questions: the answer is checked by the server, which returns the correct choices
 *   and the explanation (the page does not contain them);
 * - .lesson-progress filled from the lesson's state endpoint.
 * No inline script (CSP): this file is loaded with <script defer>. */
(function () {
  "use strict";

  var script = document.currentScript;
  var article = document.querySelector("article.lesson[data-lesson-id]");
  if (!article) return;
  // The styles of the parts this script fills, next to it (the lesson template need not link them).
  if (script && script.src && !document.querySelector("link[href*='courses/study.css']")) {
    var css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = script.src.replace(/study\.js(\?.*)?$/, "study.css");
    document.head.appendChild(css);
  }
  var lessonId = parseInt(article.getAttribute("data-lesson-id"), 10);
  var base = (article.getAttribute("data-study-url") || "/study/").replace(/\/?$/, "/");
  var progressBox = document.querySelector(".lesson-progress[data-state-url]");
  var zh = (document.documentElement.lang || "zh").toLowerCase().indexOf("zh") === 0;
  var BEAT_MS = 15000, VIDEO_POST_MS = 10000, STATE_MS = 300000;
  var locked = false;

  // Words come from the server in the person's language (the state endpoint's "labels"); these are
  // the same words for the moments before it answers (or when it cannot: signed out).
  var FALLBACK = {
    zh: {time_studied: "学习时长", log_in_first: "请先登录。", signed_out: "登录并报名培训班后，这里会记录你的学习进度。", log_in: "登录",
         locked: "你还不能学习本课。", back_to_study: "回到我的学习", correct: "回答正确。", incorrect: "回答不正确。",
         correct_answer: "正确答案：%(choices)s", separator: "；", choose_first: "请先选择答案。",
         send_failed: "提交失败，请稍后再试。"},
    en: {time_studied: "Time studied", log_in_first: "Please log in first.", signed_out: "Log in and enrol in a class to have your study recorded here.",
         log_in: "Log in", locked: "You may not study this lesson yet.", back_to_study: "Back to My study",
         correct: "Correct.", incorrect: "Not correct.", correct_answer: "Correct answer: %(choices)s", separator: "; ",
         choose_first: "Choose an answer first.", send_failed: "Could not send the answer; try again."}
  };
  var labels = null;
  function t(key, params) {
    var text = (labels && labels[key]) || (zh ? FALLBACK.zh : FALLBACK.en)[key] || "";
    return text.replace(/%\((\w+)\)s/g, function (m, name) { return params && name in params ? String(params[name]) : m; });
  }

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(path, body, keepalive) {
    return fetch(base + path, {
      method: "POST", credentials: "same-origin", keepalive: !!keepalive,
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Accept": "application/json"},
      body: JSON.stringify(body)
    }).then(function (resp) {
      if (signedOut(resp)) throw new Error(t("log_in_first"));
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (resp.status === 403) showLocked(data.error);
        if (!resp.ok) { var e = new Error(data.error || resp.statusText); e.status = resp.status; throw e; }
        return data;
      });
    });
  }

  // Not signed in (or the session ended): the endpoints send to the login page, which is not JSON.
  function signedOut(resp) {
    var json = (resp.headers.get("Content-Type") || "").indexOf("application/json") === 0;
    if (json) return false;
    if (progressBox && !locked) {
      locked = true;
      progressBox.textContent = "";
      progressBox.appendChild(el("p", "lesson-locked", t("signed_out")));
      var a = el("a", "button", t("log_in"));
      a.href = "/login/?next=" + encodeURIComponent(location.pathname);
      progressBox.appendChild(a);
    }
    return true;
  }

  // ---------------------------------------------------------------- progress box

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function showLocked(message) {
    if (locked || !progressBox) return;
    locked = true;
    progressBox.textContent = "";
    progressBox.appendChild(el("p", "lesson-locked", message || t("locked")));
    var a = el("a", "button", t("back_to_study"));
    a.href = base;
    progressBox.appendChild(a);
  }

  function clock(seconds) {  // 75 -> "1:15"
    seconds = Math.max(0, Math.floor(seconds));
    var ss = seconds % 60;
    return Math.floor(seconds / 60) + ":" + (ss < 10 ? "0" : "") + ss;
  }

  function renderState(s) {
    if (!progressBox) return;
    var keys = Object.keys(s.videos || {});
    var watched = keys.filter(function (k) { return s.videos[k].watched; }).length;
    var answered = Object.keys(s.answers || {}).length;
    var total = s.questions_total || 0;
    progressBox.textContent = "";
    var dl = el("dl", "lesson-stats");
    function stat(label, value) {
      var d = el("div"); d.appendChild(el("dt", "", label)); d.appendChild(el("dd", "", value)); dl.appendChild(d);
    }
    stat(t("time_studied"), clock(s.seconds_on_task || 0) + " / " + clock(s.required_s || 0));
    if (keys.length) stat(t("videos"), t("videos_watched", {done: watched, total: keys.length}));
    if (total) stat(t("questions"), t("questions_answered", {done: answered, total: total}));
    progressBox.appendChild(dl);
    var status = el("p", "lesson-status" + (s.complete ? " complete" : ""),
      s.complete ? t("lesson_done") : t("lesson_todo"));
    progressBox.appendChild(status);
    if (s.complete && s.next_url) {
      var next = el("a", "button primary", t("next_lesson"));
      next.href = s.next_url;
      progressBox.appendChild(next);
    }
    (s.answers && Object.keys(s.answers) || []).forEach(function (key) { markAnswered(key, s.answers[key]); });
  }

  var stateTimer = null, current = null;
  function refreshState(delay) {
    if (!progressBox || locked) return;
    clearTimeout(stateTimer);
    stateTimer = setTimeout(function () {
      fetch(progressBox.getAttribute("data-state-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (resp) {
          if (signedOut(resp)) return;
          return resp.json().catch(function () { return {}; }).then(function (data) {
            if (resp.status === 403) { showLocked(data.error); return; }
            if (data.labels) labels = data.labels;
            if (resp.ok) { current = data; renderState(data); }
          });
        }).catch(function () {});
    }, delay || 0);
  }

  // ---------------------------------------------------------------- heartbeats

  var beatTimer = null, stateEvery = null;
  function onBeat(r) {
    if (!r || typeof r.lesson_seconds !== "number") return;
    if (current && r.lesson_seconds !== current.seconds_on_task) {
      current.seconds_on_task = r.lesson_seconds;
      renderState(current);
    }
    if (r.complete && (!current || !current.complete)) refreshState(300);
  }

  // The study socket: one connection per page, reopened with growing pauses when it drops; after
  // three failures in a row (or a refusal of the sign-in) the page stays on HTTP heartbeats.
  var sock = null, sockFailures = 0, beatSeq = 0;
  function openSocket() {
    if (!window.WebSocket || locked || sockFailures >= 3) return;
    var ws;
    try { ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/study/"); }
    catch (e) { sockFailures = 3; return; }
    ws.onopen = function () { sock = ws; sockFailures = 0; };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.type === "beat") onBeat(m);
      else if (m.type === "error" && m.status === 403) showLocked(m.error);
    };
    ws.onclose = function (ev) {
      if (sock === ws) sock = null;
      sockFailures = ev.code === 4401 ? 3 : sockFailures + 1;  // 4401: HTTP shows what is wrong (signed out)
      if (sockFailures < 3 && !locked) setTimeout(openSocket, 1000 * Math.pow(2, sockFailures));
    };
  }

  function beat(visible, start, leaving) {
    if (locked) return;
    var msg = {lesson: lessonId, visible: visible, start: !!start};
    if (sock && sock.readyState === 1 && !leaving) {
      msg.type = "beat";
      msg.id = ++beatSeq;
      sock.send(JSON.stringify(msg));
      return;
    }
    post("heartbeat/", msg, !visible).then(onBeat).catch(function () {});
  }
  function startBeats() {
    if (beatTimer || locked) return;
    beat(true, true);  // the page opened or came back: the clock starts now
    beatTimer = setInterval(function () {
      if (document.visibilityState === "visible") beat(true);
    }, BEAT_MS);
    stateEvery = setInterval(function () { refreshState(0); }, STATE_MS);
  }
  function stopBeats(leaving) {
    if (!beatTimer) return;
    clearInterval(beatTimer);
    clearInterval(stateEvery);
    beatTimer = null;
    beat(false, false, leaving);
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") startBeats(); else { stopBeats(false); flushVideos(true); }
  });
  window.addEventListener("pagehide", function () { stopBeats(true); flushVideos(true); });

  // ---------------------------------------------------------------- videos

  var trackers = [];
  function trackVideo(video) {
    var key = video.getAttribute("data-video-key");
    if (!key) return;
    var tr = {video: video, key: key, pending: [], start: null, last: null};
    function close() {
      if (tr.start !== null && tr.last !== null && tr.last > tr.start) tr.pending.push([tr.start, tr.last]);
      tr.start = tr.last = null;
    }
    video.addEventListener("playing", function () { tr.start = tr.last = video.currentTime; });
    video.addEventListener("timeupdate", function () {
      if (video.paused || video.seeking) return;
      var now = video.currentTime;
      // A jump of more than 2 s between two updates is a seek, not playback: close the range there.
      if (tr.start === null || tr.last === null || now < tr.last || now - tr.last > 2) {
        close();
        tr.start = tr.last = now;
        return;
      }
      tr.last = now;
    });
    video.addEventListener("seeking", close);
    video.addEventListener("seeked", function () { if (!video.paused) tr.start = tr.last = video.currentTime; });
    // Up to where playback stopped (the last timeupdate can be a quarter of a second earlier).
    function extend() {
      var gap = video.currentTime - (tr.last === null ? Infinity : tr.last);
      if (!video.seeking && gap > 0 && gap < 2) tr.last = video.currentTime;
    }
    video.addEventListener("pause", function () { extend(); close(); flush(tr, false); });
    video.addEventListener("ended", function () { extend(); close(); flush(tr, false); });
    trackers.push(tr);
  }
  function flush(tr, keepalive) {
    var ranges = tr.pending.splice(0);
    if (tr.start !== null && tr.last !== null && tr.last > tr.start) {  // the range still playing, up to now
      ranges.push([tr.start, tr.last]);
      tr.start = tr.last;
    }
    if (!ranges.length || locked) return;
    post("video/", {lesson: lessonId, video: tr.key, ranges: ranges}, keepalive).then(function (r) {
      if (r.watched) refreshState(300);
    }).catch(function (e) {
      if (!e.status || e.status >= 500) Array.prototype.push.apply(tr.pending, ranges);  // retry later
    });
  }
  function flushVideos(keepalive) { trackers.forEach(function (tr) { flush(tr, keepalive); }); }
  Array.prototype.forEach.call(article.querySelectorAll("video[data-video-key]"), trackVideo);
  if (trackers.length) setInterval(function () { flushVideos(false); }, VIDEO_POST_MS);

  // ---------------------------------------------------------------- practice questions

  function feedbackOf(form) { return form.querySelector(".practice-feedback"); }

  function showFeedback(form, result) {
    var box = feedbackOf(form);
    if (!box) return;
    box.textContent = "";
    box.className = "practice-feedback " + (result.correct ? "correct" : "incorrect");
    box.appendChild(el("p", "verdict", result.correct ? t("correct") : t("incorrect")));
    var labels = (result.correct_choices || []).map(function (i) {
      var input = form.querySelector("input[name=choice][value='" + i + "']");
      var label = input && (input.closest("label") || form.querySelector("label[for='" + input.id + "']"));
      if (label) label.classList.add("is-correct");
      return label ? label.textContent.trim() : String(i + 1);
    });
    box.appendChild(el("p", "answer", t("correct_answer", {choices: labels.join(t("separator"))})));
    var expl = el("div", "explanation");
    expl.innerHTML = result.explanation || "";  // rich text from the page's own question block, via the server
    box.appendChild(expl);
    box.hidden = false;
  }

  function markAnswered(key, answer) {
    var form = article.querySelector("form.practice-question[data-question-key='" + key + "']");
    if (form) form.classList.add("answered");
  }

  Array.prototype.forEach.call(article.querySelectorAll("form.practice-question[data-question-key]"), function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var choice = Array.prototype.map.call(form.querySelectorAll("input[name=choice]:checked"),
        function (i) { return parseInt(i.value, 10); });
      var box = feedbackOf(form);
      if (!choice.length) {
        if (box) { box.textContent = t("choose_first"); box.className = "practice-feedback"; box.hidden = false; }
        return;
      }
      Array.prototype.forEach.call(form.querySelectorAll(".is-correct"), function (l) { l.classList.remove("is-correct"); });
      var button = form.querySelector("button[type=submit], button:not([type])");
      if (button) button.disabled = true;
      post("answer/", {lesson: lessonId, question: form.getAttribute("data-question-key"), choice: choice})
        .then(function (r) { showFeedback(form, r); markAnswered(form.getAttribute("data-question-key")); refreshState(300); })
        .catch(function (e) {
          if (box) { box.textContent = e.message || t("send_failed"); box.hidden = false; }
        })
        .then(function () { if (button) button.disabled = false; });
    });
  });

  // ---------------------------------------------------------------- start

  refreshState(0);
  openSocket();
  if (document.visibilityState === "visible") startBeats();
})();

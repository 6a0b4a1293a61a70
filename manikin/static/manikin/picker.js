/* The console's trainee picker: an ARIA combobox over the room's trainee search (JSON).
 * Type a name or the last digits of the ID-card number; arrow keys move, Enter or a tap chooses,
 * Escape closes. The chosen person's id goes into the hidden "trainee" field; without this script
 * the typed text is sent and the server takes it when it matches exactly one trainee. */
(function () {
  "use strict";
  var root = document.querySelector("[data-search-url]");
  if (!root) return;
  var url = root.dataset.searchUrl;
  var T = JSON.parse((document.getElementById("live-i18n") || {}).textContent || "{}");

  function setup(box) {
    var input = box.querySelector("[role=combobox]"), hidden = box.querySelector("input[name=trainee]");
    var list = box.querySelector("[role=listbox]"), items = [], active = -1, timer = null, seq = 0;

    function close() {
      list.hidden = true; input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant"); active = -1;
    }
    function highlight(i) {
      var opts = list.querySelectorAll("[role=option]");
      if (!opts.length) return;
      active = (i + opts.length) % opts.length;
      opts.forEach(function (o, j) { o.setAttribute("aria-selected", j === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", opts[active].id);
      opts[active].scrollIntoView({ block: "nearest" });
    }
    function choose(i) {
      var p = items[i]; if (!p) return;
      hidden.value = String(p.id); input.value = p.label; box.dataset.chosen = String(p.id);
      close();
    }
    function note(text) {
      var li = document.createElement("li"); li.className = "picker-note"; li.textContent = text;
      li.setAttribute("aria-disabled", "true"); list.appendChild(li);
    }
    function render(data) {
      items = data.results || []; list.innerHTML = ""; active = -1;
      items.forEach(function (p, i) {
        var li = document.createElement("li");
        li.id = input.id + "-opt-" + p.id; li.setAttribute("role", "option"); li.setAttribute("aria-selected", "false");
        li.dataset.index = String(i);
        var name = document.createElement("span"); name.textContent = p.name;
        var id = document.createElement("span"); id.className = "mono small muted"; id.textContent = p.id_card || "";
        li.appendChild(name); li.appendChild(id);
        list.appendChild(li);
      });
      if (!items.length) note(T.no_match || "—");
      else if (data.more) note(T.more || "…");
      list.hidden = false; input.setAttribute("aria-expanded", "true");
    }
    function search() {
      var q = input.value.trim(), mine = ++seq;
      fetch(url + "?q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (data) { if (mine === seq && document.activeElement === input) render(data); })
        .catch(function () {});
    }
    input.addEventListener("input", function () {
      hidden.value = ""; delete box.dataset.chosen;
      items = []; list.innerHTML = ""; close();  // never act on the results of an older query
      clearTimeout(timer); timer = setTimeout(search, 200);
    });
    input.addEventListener("focus", function () { if (!hidden.value) { clearTimeout(timer); timer = setTimeout(search, 0); } });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown") { e.preventDefault(); if (list.hidden) search(); else highlight(active + 1); }
      else if (e.key === "ArrowUp") { e.preventDefault(); if (!list.hidden) highlight(active - 1); }
      else if (e.key === "Enter" && !list.hidden && active >= 0) { e.preventDefault(); choose(active); }
      else if (e.key === "Escape") { if (!list.hidden) { e.preventDefault(); close(); } }
    });
    // pointerdown keeps the focus in the input (so blur does not close the list before the tap lands)
    list.addEventListener("pointerdown", function (e) { e.preventDefault(); });
    list.addEventListener("mousedown", function (e) { e.preventDefault(); });
    list.addEventListener("click", function (e) {
      var li = e.target.closest("[role=option]"); if (li) choose(parseInt(li.dataset.index, 10));
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }
  document.querySelectorAll("[data-picker]").forEach(setup);
})();

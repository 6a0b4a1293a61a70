/* Number formats shown to people: the mirror of lms/numbers.py (same arithmetic).
 * score: one decimal rounded down; depth: one decimal half up; rate: whole half up;
 * percent (fraction) and pct (0..100): whole percent rounded down; count: thousands separators. */
(function () {
  "use strict";
  var DASH = "—";
  function num(v) { return (v === null || v === undefined || v === "" || isNaN(v) || !isFinite(v)) ? null : Number(v); }
  // decimal-exact rounding down: scale through the shortest decimal representation
  function floorTo(v, nd) {
    var s = Number(v).toFixed(12), m = Math.pow(10, nd);
    var f = Math.floor(Number(s) * m + 1e-9) / m;
    return f;
  }
  function halfUp(v, nd) { var m = Math.pow(10, nd); return Math.floor(v * m + 0.5) / m; }
  var N = {
    score: function (v) { v = num(v); return v === null ? DASH : floorTo(v, 1).toFixed(1); },
    depth: function (v) { v = num(v); return v === null ? DASH : halfUp(v, 1).toFixed(1); },
    rate: function (v) { v = num(v); return v === null ? DASH : halfUp(v, 0).toFixed(0); },
    percent: function (v) { v = num(v); return v === null ? DASH : floorTo(100 * v, 0).toFixed(0) + "%"; },
    pct: function (v) { v = num(v); return v === null ? DASH : floorTo(v, 0).toFixed(0) + "%"; },
    count: function (v) { v = num(v); return v === null ? DASH : Math.trunc(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ","); },
    scoreValue: function (v) { v = num(v); return v === null ? null : floorTo(v, 1); }
  };
  window.LMSNumbers = N;
})();

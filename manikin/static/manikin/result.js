/* Result page: depth (and recoil) of every compression against the target band. */
(function () {
  "use strict";
  var el = document.getElementById("depth-chart");
  if (!el) return;
  var d = JSON.parse(document.getElementById("chart-data").textContent);
  var band = { hooks: { drawClear: [function (u) {
    var ctx = u.ctx, top = u.valToPos(d.depth_min_mm, "y", true), bot = u.valToPos(d.depth_max_mm, "y", true);
    ctx.save(); ctx.fillStyle = "rgba(18,128,92,0.14)";
    ctx.fillRect(u.bbox.left, Math.min(top, bot), u.bbox.width, Math.abs(bot - top)); ctx.restore();
  }] } };
  function width() { return Math.max(el.clientWidth, 260); }
  var plot = new uPlot({
    width: width(), height: 220, plugins: [band], cursor: { show: false },
    legend: { show: false },
    scales: { x: { time: false }, y: { range: [-5, 75], dir: -1 } },
    axes: [{ values: function (u, v) { return v.map(function (s) { return s + "s"; }); } },
           { label: "mm", labelSize: 14, size: 36 }],
    series: [{}, { label: d.depth_label, stroke: "#c8102e", width: 1.5, points: { show: true, size: 5 } },
             { label: d.recoil_label, stroke: "#98a2b3", width: 1, points: { show: true, size: 3 } }]
  }, [d.t, d.depth_mm, d.recoil_mm], el);
  window.addEventListener("resize", function () { plot.setSize({ width: width(), height: 220 }); });
})();

/* The region dashboard's charts (ECharts, canvas renderer) from the page's JSON (#dashboard-data).
 * No inline script or style: the site's Content-Security-Policy allows scripts from the site only, so
 * tooltips are drawn on the canvas (renderMode "richText"), not as HTML. Every chart's numbers are also in
 * the page as a table (the <details> under it), so nothing depends on this script. */
(function () {
  "use strict";
  var RED = "#c8102e", INK = "#1d2330", MUTED = "#98a2b3", OK = "#12805c", WARN = "#b54708", GRID = "#e4e7ec";
  var N = window.LMSNumbers || { count: function (v) { return v === null || v === undefined ? "—" : String(v); } };

  // The year selector opens the chosen year at once (the button stays for browsers without this script).
  var yearForm = document.querySelector("[data-year-form]");
  if (yearForm) {
    var select = yearForm.querySelector("select");
    if (select) { select.addEventListener("change", function () { yearForm.submit(); }); }
  }

  var source = document.getElementById("dashboard-data");
  if (!source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var L = data.labels;

  function count(v) { return v === null || v === undefined ? "—" : N.count(v); }
  function pct1(v) { return v === null || v === undefined ? "—" : Number(v).toFixed(1) + "%"; }
  function dec2(v) { return v === null || v === undefined ? "—" : Number(v).toFixed(2); }
  function shortCount(v) {  // axis labels: 1,200,000 reads 120万 in Chinese, 1.2M otherwise
    var zh = (document.documentElement.lang || "").indexOf("zh") === 0;
    var a = Math.abs(v);
    if (zh && a >= 10000) { return (v / 10000).toLocaleString("en", { maximumFractionDigits: 1 }) + "万"; }
    if (!zh && a >= 1000000) { return (v / 1000000).toLocaleString("en", { maximumFractionDigits: 1 }) + "M"; }
    if (!zh && a >= 10000) { return (v / 1000).toLocaleString("en", { maximumFractionDigits: 0 }) + "k"; }
    return count(v);
  }
  function repeat(value, n) { var out = []; for (var i = 0; i < n; i++) { out.push(value); } return out; }

  // Room above the plot for the legend: two lines of it on a narrow chart (a phone), one otherwise.
  function legendTop(el) { return el.clientWidth < 480 ? 60 : 36; }

  function base(extra) {
    var option = {
      animationDuration: 300,
      textStyle: { fontFamily: "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif" },
      grid: { left: 8, right: 8, top: 36, bottom: 8 },
      legend: { top: 0, left: 0, itemWidth: 14, itemHeight: 10, textStyle: { fontSize: 12 } },
      tooltip: { trigger: "axis", renderMode: "richText", confine: true }
    };
    for (var k in extra) { if (Object.prototype.hasOwnProperty.call(extra, k)) { option[k] = extra[k]; } }
    return option;
  }

  function targetSeries(name, values, axis, format) {
    return { name: name, type: "line", yAxisIndex: axis || 0, data: values, symbol: "none", connectNulls: false,
             lineStyle: { type: "dashed", color: OK, width: 2 }, itemStyle: { color: OK },
             tooltip: { valueFormatter: format } };
  }

  var builders = {
    awareness: function () {
      var t = data.trend, series = [
        { name: L.awareness, type: "bar", data: t.awareness, itemStyle: { color: RED }, barMaxWidth: 36,
          tooltip: { valueFormatter: count } },
        { name: L.awareness_pct, type: "line", yAxisIndex: 1, data: t.awareness_pct, itemStyle: { color: INK },
          lineStyle: { color: INK, width: 2 }, symbolSize: 7, tooltip: { valueFormatter: pct1 } }
      ];
      if (t.target_awareness_pct !== null) {
        series.push(targetSeries(L.target + " (%)", repeat(t.target_awareness_pct, t.years.length), 1, pct1));
      }
      return base({
        xAxis: { type: "category", data: t.years },
        yAxis: [{ type: "value", minInterval: 1, axisLabel: { formatter: shortCount }, splitLine: { lineStyle: { color: GRID } } },
                { type: "value", min: 0, axisLabel: { formatter: "{value}%" }, splitLine: { show: false } }],
        series: series
      });
    },
    certificates: function () {
      var t = data.trend, series = [
        { name: L.certificates_new, type: "bar", data: t.certificates_new, itemStyle: { color: RED }, barMaxWidth: 32,
          tooltip: { valueFormatter: count } },
        { name: L.certificates_renewed, type: "bar", data: t.certificates_renewed, itemStyle: { color: MUTED },
          barMaxWidth: 32, tooltip: { valueFormatter: count } }
      ];
      if (t.target_certificates_new.some(function (v) { return v !== null; })) {
        series.push(targetSeries(L.target, t.target_certificates_new, 0, count));
      }
      return base({
        xAxis: { type: "category", data: t.years },
        yAxis: { type: "value", minInterval: 1, axisLabel: { formatter: shortCount },
                 splitLine: { lineStyle: { color: GRID } } },
        series: series
      });
    },
    per_100: function () {
      var t = data.trend, series = [
        { name: L.per_100, type: "line", data: t.per_100, itemStyle: { color: RED }, lineStyle: { color: RED, width: 2 },
          symbolSize: 7, tooltip: { valueFormatter: dec2 } }
      ];
      if (t.target_per_100 !== null) {
        series.push(targetSeries(L.target, repeat(t.target_per_100, t.years.length), 0, dec2));
      }
      return base({
        xAxis: { type: "category", data: t.years },
        yAxis: { type: "value", min: 0, splitLine: { lineStyle: { color: GRID } } },
        series: series
      });
    },
    cpr: function (el) {
      var m = data.cpr[el.getAttribute("data-measure")];
      if (!m) { return null; }
      return base({
        legend: { show: false },
        grid: { left: 8, right: 8, top: 12, bottom: 8 },
        xAxis: { type: "category", data: m.labels, name: m.unit, nameLocation: "end", nameGap: 4,
                 axisLabel: { interval: 0, rotate: m.labels.length > 8 ? 40 : 0, fontSize: 11 } },
        yAxis: { type: "value", minInterval: 1, axisLabel: { formatter: shortCount },
                 splitLine: { lineStyle: { color: GRID } } },
        series: [{
          name: L.recordings, type: "bar", barCategoryGap: "15%",
          data: m.counts.map(function (c, i) {
            return { value: c, itemStyle: { color: m.in_target[i] ? OK : MUTED } };
          }),
          tooltip: { valueFormatter: count }
        }]
      });
    },
    tiers: function () {
      var t = data.tiers;
      return base({
        grid: { left: 8, right: 16, top: 36, bottom: 8 },
        xAxis: { type: "value", minInterval: 1, splitLine: { lineStyle: { color: GRID } } },
        yAxis: { type: "category", data: t.names, inverse: true },
        series: [
          { name: L.active, type: "bar", stack: "n", data: t.active, itemStyle: { color: RED }, barMaxWidth: 28,
            tooltip: { valueFormatter: count } },
          { name: L.suspended, type: "bar", stack: "n", data: t.suspended, itemStyle: { color: WARN }, barMaxWidth: 28,
            tooltip: { valueFormatter: count } }
        ]
      });
    }
  };

  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var build = builders[el.getAttribute("data-chart")];
    var option = build ? build(el) : null;
    if (!option) { return; }
    var legend = !(option.legend && option.legend.show === false);
    if (legend) { option.grid.top = legendTop(el); }
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option);
    el.setAttribute("data-rendered", "1");
    charts.push({ el: el, chart: chart, legend: legend });
  });
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { window.clearTimeout(pending); }
    pending = window.setTimeout(function () {
      charts.forEach(function (c) {
        if (c.legend) { c.chart.setOption({ grid: { top: legendTop(c.el) } }); }
        c.chart.resize();
      });
    }, 100);
  });
})();

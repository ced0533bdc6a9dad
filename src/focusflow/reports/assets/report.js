/* focusflow report: draws the charts from the embedded JSON with the embedded plotly.js. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("focusflow-data").textContent);
  var config = {displaylogo: false, responsive: true};
  var dimension = document.getElementById("dimension");
  // Plotly reads a pseudo-HTML subset in names and labels: data text must stay text
  function esc(text) { return String(text).replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  var currency = document.getElementById("currency");

  function dailyTraces(dim, cur) {
    var all = data.daily[dim] || [];
    var series = all.filter(function (s) { return s.currency === cur; })[0];
    var traces = [];
    if (series) {
      Object.keys(series.series).forEach(function (name) {
        traces.push({type: "bar", name: esc(name), x: series.days, y: series.series[name],
                     hovertemplate: "%{x}<br>" + esc(name) + ": %{y:,.2f} " + esc(cur) +
                       "<extra></extra>"});
      });
    }
    var marks = data.anomalies.filter(function (a) { return a.currency === cur; });
    traces.push({type: "scatter", mode: "markers", name: "anomaly",
                 x: marks.map(function (a) { return a.day; }),
                 y: marks.map(function (a) { return a.cost; }),
                 marker: {symbol: "x", size: 14, color: "#b42318", line: {width: 2}},
                 hovertemplate: "%{x}: %{y:,.2f} " + esc(cur) + " (anomaly)<extra></extra>"});
    return traces;
  }

  function drawDaily() {
    var dim = dimension.value, cur = currency.value;
    var traces = dailyTraces(dim, cur);
    var layout = {barmode: "stack", margin: {t: 30, r: 10}, legend: {orientation: "h"},
                  yaxis: {title: {text: "effective cost (" + esc(cur) + ")"}}};
    if (traces.length > 1) {  // a marker on an empty date axis would have no position
      layout.shapes = [{type: "line", xref: "x", yref: "paper", y0: 0, y1: 1,
                        x0: data.period.start, x1: data.period.start,
                        line: {dash: "dot", color: "#52606d"}}];
      layout.annotations = [{x: data.period.start, yref: "paper", y: 1.05,
                             text: "period start", showarrow: false}];
    } else {
      layout.annotations = [{xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false,
                             text: "no charges in these periods"}];
    }
    Plotly.react("daily", traces, layout, config);
    document.getElementById("daily").setAttribute("data-dimension", dim);
  }

  function drawCommitments() {
    var el = document.getElementById("commitments");
    if (!el || !data.commitments) { return; }
    var cur = currency.value;
    var rows = data.commitments.filter(function (c) { return c.currency === cur; }).slice(0, 20);
    var names = rows.map(function (c) { return esc(c.name); });
    Plotly.react(el, [
      {type: "bar", orientation: "h", name: "used", y: names, x: rows.map(function (c) { return c.used; })},
      {type: "bar", orientation: "h", name: "unused", y: names, x: rows.map(function (c) { return c.unused; })}
    ], {barmode: "stack", margin: {l: 260, t: 10}, xaxis: {title: {text: esc(cur)}},
        yaxis: {automargin: true}}, config);
  }

  function drawNamespaces() {
    var el = document.getElementById("namespaces");
    if (!el || !data.kubernetes) { return; }
    var cur = currency.value;
    var rows = data.kubernetes.namespaces.filter(function (n) { return n.currency === cur; });
    Plotly.react(el, [{type: "bar", x: rows.map(function (n) { return esc(n.cluster + "/" + n.namespace); }),
                       y: rows.map(function (n) { return n.cost; }), name: "namespace"}],
                 {margin: {t: 10}, yaxis: {title: {text: "allocated cost (" + esc(cur) + ")"}}}, config);
  }

  function drawAll() { drawDaily(); drawCommitments(); drawNamespaces(); }
  dimension.addEventListener("change", drawDaily);
  currency.addEventListener("change", drawAll);
  drawAll();
  document.body.setAttribute("data-rendered", "true");
})();

/* Smart Sync charts: TradingView Lightweight Charts (static/vendor/lightweight-charts/, vendored
   by `make vendor`) under the site's Content-Security-Policy: no inline script, no eval, no
   inline style. The library draws on canvas and sizes itself through the CSSOM, which the policy
   allows; its own attribution logo injects a <style> element, which the policy refuses, so it is
   off and every chart gets a plain credit link instead (the licence asks for one).

   Markup (templates/includes/chart.html renders it):
     <div class="chart" id="..." role="img" aria-label="..."
          data-series-url="/api/v1/prices/BTC-USDT-SWAP/candles/?interval=1h"
          data-kind="candles|line|area|histogram" data-label="BTC-USDT-SWAP"
          data-time-field="start" data-value-field="close"
          data-scale="100" data-unit="%"
          data-summary="<id of a visible text alternative, filled in from the data>"></div>
   data-scale multiplies every value (a ratio 0.0125 drawn as 1.25) and data-unit follows each
   number on the axis and in the summary; both optional. A null value (an unknown ROI) is a gap.
   A histogram colours each bar by its sign (a day's PnL).
   The JSON comes from data-series-url (same origin): its "results" (or "daily", or the body
   itself when it is a list), oldest first. Times are ISO date-times or YYYY-MM-DD dates;
   numbers may be decimal strings. A chart is drawn when the page loads and whenever htmx swaps
   it in (htmx:load), re-drawn when its data-series-url changes (a switch button, below),
   and follows the width of its container.

   Switch buttons: <button type="button" data-chart-target="<chart id>" data-series-url="..."
   data-label="..." aria-pressed="true|false"> inside a role="group" point the chart at another
   series (its label becomes the chart's accessible name); a button may also carry data-kind,
   data-value-field, data-time-field, data-scale and data-unit to draw another field of it. */
(function () {
  "use strict";

  var charts = new WeakMap(); // element -> {chart, url}
  var css = getComputedStyle(document.documentElement);
  function cssVar(name, fallback) {
    var value = css.getPropertyValue(name);
    return value && value.trim() ? value.trim() : fallback;
  }

  function rowsOf(body) {
    if (Array.isArray(body)) return body;
    if (body && Array.isArray(body.results)) return body.results;
    if (body && Array.isArray(body.daily)) return body.daily;
    return [];
  }

  function timeOf(value) {
    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value; // a business day
    return Math.floor(Date.parse(value) / 1000); // UTC seconds
  }

  function points(rows, kind, timeField, valueField, scale) {
    var up = cssVar("--pos", "#0f8a4a"), down = cssVar("--neg", "#c62f2f");
    return rows.map(function (row) {
      var time = timeOf(row[timeField]);
      if (kind === "candles") {
        return {
          time: time,
          open: parseFloat(row.open),
          high: parseFloat(row.high),
          low: parseFloat(row.low),
          close: parseFloat(row.close)
        };
      }
      var value = parseFloat(row[valueField]);
      if (row[valueField] === null || isNaN(value)) return { time: time }; // a gap
      value = value * scale;
      if (kind === "histogram") return { time: time, value: value, color: value < 0 ? down : up };
      return { time: time, value: value };
    });
  }

  // Prices as the pages write them: 60,000.00; small ones keep more places (0.012345).
  var wide = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var fine = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 6 });
  function fmt(n) { return Math.abs(n) >= 100 ? wide.format(n) : fine.format(n); }
  function formatter(unit) { // a percentage keeps 2 places
    return function (n) { return (unit === "%" ? wide.format(n) : fmt(n)) + unit; };
  }
  function when(time) {
    if (typeof time === "string") return time;
    return new Date(time * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function summarize(el, data, kind) {
    var target = el.getAttribute("data-summary");
    var box = target && document.getElementById(target);
    if (!box) return;
    var label = el.getAttribute("data-label") || "Series";
    var unit = el.getAttribute("data-unit") || "";
    var f = formatter(unit);
    data = data.filter(function (d) { return kind === "candles" || d.value !== undefined; });
    if (!data.length) {
      box.textContent = label + ": no history yet.";
      return;
    }
    var first = data[0], last = data[data.length - 1];
    var highs = data.map(function (d) { return kind === "candles" ? d.high : d.value; });
    var lows = data.map(function (d) { return kind === "candles" ? d.low : d.value; });
    var start = kind === "candles" ? first.open : first.value;
    var end = kind === "candles" ? last.close : last.value;
    box.textContent = label + " from " + when(first.time) + " to " + when(last.time) + ": " +
      "first " + f(start) + ", high " + f(Math.max.apply(null, highs)) +
      ", low " + f(Math.min.apply(null, lows)) + ", last " + f(end) + ".";
  }

  function credit(el) {
    var next = el.nextElementSibling;
    if (next && next.classList.contains("chart-credit")) return;
    var p = document.createElement("p");
    p.className = "chart-credit";
    var a = document.createElement("a");
    a.href = "https://www.tradingview.com/";
    a.rel = "noopener";
    a.textContent = "Charts by TradingView Lightweight Charts™";
    p.appendChild(a);
    el.insertAdjacentElement("afterend", p);
  }

  function make(el) {
    var LWC = window.LightweightCharts;
    var unit = el.getAttribute("data-unit") || "";
    var chart = LWC.createChart(el, {
      autoSize: true,
      layout: {
        attributionLogo: false, // it would inject a <style> element (refused by the CSP)
        background: { type: "solid", color: cssVar("--surface", "#ffffff") },
        textColor: cssVar("--muted", "#667085"),
        fontFamily: getComputedStyle(document.body).fontFamily
      },
      localization: { priceFormatter: formatter(unit) },
      grid: {
        vertLines: { color: "rgba(226, 229, 234, 0.6)" },
        horzLines: { color: "rgba(226, 229, 234, 0.9)" }
      },
      rightPriceScale: { borderColor: cssVar("--border", "#e2e5ea") },
      timeScale: { borderColor: cssVar("--border", "#e2e5ea"), timeVisible: true, secondsVisible: false },
      handleScroll: { mouseWheel: false, pressedMouseMove: true, horzTouchDrag: true, vertTouchDrag: false },
      handleScale: { mouseWheel: false, pinch: true, axisPressedMouseMove: true }
    });
    credit(el);
    return chart;
  }

  function addSeries(chart, kind) {
    var LWC = window.LightweightCharts;
    var up = cssVar("--pos", "#0f8a4a"), down = cssVar("--neg", "#c62f2f"), line = cssVar("--primary", "#1f4fd1");
    if (kind === "candles") {
      return chart.addSeries(LWC.CandlestickSeries, {
        upColor: up, downColor: down, borderUpColor: up, borderDownColor: down,
        wickUpColor: up, wickDownColor: down
      });
    }
    if (kind === "area") {
      return chart.addSeries(LWC.AreaSeries, {
        lineColor: line, topColor: "rgba(31, 79, 209, 0.28)", bottomColor: "rgba(31, 79, 209, 0.02)", lineWidth: 2
      });
    }
    if (kind === "histogram") {
      return chart.addSeries(LWC.HistogramSeries, { color: up });
    }
    return chart.addSeries(LWC.LineSeries, { color: line, lineWidth: 2 });
  }

  // What a chart shows: redrawn when any of it changes.
  var SHAPE = ["data-series-url", "data-kind", "data-time-field", "data-value-field", "data-scale"];
  function shapeOf(el) {
    return SHAPE.map(function (name) { return el.getAttribute(name) || ""; }).join("|");
  }

  function fail(el, text) {
    el.setAttribute("data-chart-state", "error");
    var target = el.getAttribute("data-summary");
    var box = target && document.getElementById(target);
    if (box) box.textContent = text;
  }

  function draw(el) {
    var url = el.getAttribute("data-series-url");
    if (!url) return;
    if (!window.LightweightCharts) {
      fail(el, "The chart library did not load; the figures are in the table.");
      return;
    }
    var state = charts.get(el);
    var shape = shapeOf(el);
    if (state && state.url === shape) return; // drawn already
    var kind = el.getAttribute("data-kind") || "line";
    var timeField = el.getAttribute("data-time-field") || "start";
    var valueField = el.getAttribute("data-value-field") || "close";
    var scale = parseFloat(el.getAttribute("data-scale") || "1") || 1;
    el.setAttribute("data-chart-state", "loading");
    el.setAttribute("aria-busy", "true");
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (body) {
        if (shapeOf(el) !== shape) return; // switched meanwhile
        var data = points(rowsOf(body), kind, timeField, valueField, scale);
        var current = charts.get(el);
        if (current) current.chart.remove();
        var chart = make(el);
        var series = addSeries(chart, kind);
        series.setData(data);
        chart.timeScale().fitContent();
        charts.set(el, { chart: chart, url: shape });
        summarize(el, data, kind);
        el.setAttribute("data-chart-state", data.length ? "ready" : "empty");
      })
      .catch(function () {
        fail(el, "The chart could not be loaded. Please try again later.");
      })
      .finally(function () {
        el.removeAttribute("aria-busy");
      });
  }

  function init(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches(".chart[data-series-url]")) draw(root);
    root.querySelectorAll(".chart[data-series-url]").forEach(draw);
  }

  // Switch buttons (no inline handlers under the CSP: one delegated listener).
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-chart-target]");
    if (!button) return;
    var el = document.getElementById(button.getAttribute("data-chart-target"));
    if (!el) return;
    var group = button.closest("[role=group]") || button.parentElement;
    group.querySelectorAll("[data-chart-target]").forEach(function (b) {
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
    el.setAttribute("data-series-url", button.getAttribute("data-series-url"));
    ["data-kind", "data-time-field", "data-value-field", "data-scale", "data-unit"].forEach(
      function (name) {
        if (button.hasAttribute(name)) el.setAttribute(name, button.getAttribute(name));
      }
    );
    var label = button.getAttribute("data-label");
    if (label) {
      el.setAttribute("data-label", label);
      el.setAttribute("aria-label", label);
    }
    var link = el.getAttribute("data-data-link");
    var anchor = link && document.getElementById(link);
    if (anchor) anchor.href = el.getAttribute("data-series-url");
    draw(el);
  });

  // A chart swapped out by htmx lets go of its canvas and resize observer.
  document.addEventListener("htmx:beforeCleanupElement", function (evt) {
    var el = evt.detail && evt.detail.elt;
    var state = el && charts.get(el);
    if (state) {
      state.chart.remove();
      charts.delete(el);
    }
  });

  // htmx:load fires for the page's body once htmx is ready and for every swapped-in element.
  document.addEventListener("htmx:load", function (evt) { init(evt.detail && evt.detail.elt); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
})();

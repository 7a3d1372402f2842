// eventqa report: renders the embedded JSON. Every value reaches the page as text
// (textContent, setAttribute), never as HTML; charts are SVG drawn here.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("eventqa-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var STATUS_NAME = { p: "passed", w: "warned", f: "failed", e: "error", "-": "not checked" };
  var LETTER = { passed: "p", warned: "w", failed: "f", error: "e" };

  function el(tag, attrs) {
    var node = document.createElement(tag);
    setAll(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    setAll(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function setAll(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = String(value);
      else if (key.indexOf("on") === 0) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, String(value));
    });
  }
  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
    else if (typeof child === "object") node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
  function title(text) { return svg("title", { text: text }); }

  function fmt(n) {
    if (n === null || n === undefined) return "–";
    if (typeof n !== "number") return String(n);
    return Math.abs(n) >= 100 || Number.isInteger(n)
      ? Math.round(n).toLocaleString("en-US")
      : n.toLocaleString("en-US", { maximumFractionDigits: 2 });
  }
  function when(iso) {
    if (!iso) return "–";
    return String(iso).replace("T", " ").replace(/(:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/, "$1 UTC").replace(/:00 UTC$/, " UTC");
  }
  function ago(iso) {
    var then = Date.parse(iso), now = Date.parse(data.generated_at);
    if (isNaN(then) || isNaN(now)) return "";
    var minutes = Math.round((now - then) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 90) return minutes + " min ago";
    if (minutes < 48 * 60) return Math.round(minutes / 60) + " h ago";
    return Math.round(minutes / 1440) + " days ago";
  }
  function json(value) {
    try { return JSON.stringify(value, null, 2); } catch (e) { return String(value); }
  }
  function safeHref(href) {
    return typeof href === "string" && (href.indexOf("./") === 0 || href.indexOf("../") === 0) ? href : null;
  }
  function pill(status) { return el("span", { class: "pill " + status, text: status }); }

  // -- summary and table ---------------------------------------------------------------------
  var lastRun = document.querySelector('[data-summary="last_run"]');
  if (lastRun && data.summary.last_run) {
    lastRun.textContent = when(data.summary.last_run);
    lastRun.parentNode.appendChild(el("div", { class: "card-note", text: ago(data.summary.last_run) }));
  }
  var table = document.getElementById("events");
  if (!table) return;
  var body = table.tBodies[0];
  var rows = [];

  function statusStrip(runs, cell, height) {
    var gap = 2, width = runs.length * (cell + gap) - gap;
    var strip = svg("svg", { class: "strip", width: Math.max(width, 1), height: height, role: "img" });
    runs.forEach(function (run, i) {
      var letter = run.letter || LETTER[run.status] || "-";
      strip.appendChild(svg("rect", {
        x: i * (cell + gap), y: 0, width: cell, height: height, rx: 1.5,
        class: "s-" + (letter === "-" ? "n" : letter),
        "data-status": STATUS_NAME[letter],
      }, title(when(run.until) + " · " + STATUS_NAME[letter])));
    });
    return strip;
  }

  function failingCount(event) {
    return event.checks.filter(function (c) { return c.status !== "passed"; }).length;
  }

  data.events.forEach(function (event) {
    var failing = failingCount(event);
    var row = el("tr", {
      class: "event-row", tabindex: 0, "aria-expanded": "false",
      "data-event": event.event, "data-owner": event.owner || "", "data-table": event.table,
      "data-status": event.status,
    },
      el("td", null, pill(event.status)),
      el("td", { class: "name", text: event.event }),
      el("td", { class: "mono muted", text: event.table }),
      el("td", { text: event.owner || "unowned", class: event.owner ? null : "muted" }),
      el("td", { class: "num", text: event.checks.length ? failing + " of " + event.checks.length : "–" }),
      el("td", { class: "num", text: fmt(event.row_count) }),
      el("td", { class: "when", text: when(event.until) }),
      el("td", null, statusStrip(event.history.runs, 6, 14))
    );
    var detail = el("tr", { class: "detail-row hidden" }, el("td", { colspan: 8 }));
    var entry = { event: event, row: row, detail: detail, drawn: false };
    row.addEventListener("click", function () { toggle(entry); });
    row.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(entry); }
    });
    body.appendChild(row);
    body.appendChild(detail);
    rows.push(entry);
  });

  function toggle(entry, open) {
    var show = open === undefined ? entry.detail.classList.contains("hidden") : open;
    if (show && !entry.drawn) {
      entry.detail.firstChild.appendChild(renderDetail(entry.event));
      entry.drawn = true;
    }
    entry.detail.classList.toggle("hidden", !show);
    entry.row.classList.toggle("open", show);
    entry.row.setAttribute("aria-expanded", show ? "true" : "false");
  }

  // -- one event's details -------------------------------------------------------------------
  function renderDetail(event) {
    var failing = event.checks.filter(function (c) { return c.status !== "passed"; });
    var passing = event.checks.filter(function (c) { return c.status === "passed"; });
    var checksBox = el("section", { class: "box failing" },
      el("h3", null, "Failing checks ", el("span", { class: "count", text: "(" + failing.length + " of " + event.checks.length + ")" })),
      failing.length ? failing.map(renderCheck) : el("p", { class: "check-line", text: "Every check passed in the latest run." }),
      passing.length ? el("details", { class: "passing" },
        el("summary", { text: passing.length + " passing check" + (passing.length === 1 ? "" : "s") }),
        el("table", { class: "plain" }, el("tbody", null, passing.map(function (c) {
          return el("tr", null,
            el("td", null, el("span", { text: c.description }), c.column ? el("code", { class: "check-col", text: " " + c.column }) : null),
            el("td", null, origin(c)));
        })))
      ) : null
    );
    return el("div", { class: "detail", "data-detail": event.event },
      el("div", { class: "detail-head" },
        "Latest run ", el("code", { text: event.run_id }), " · window ", when(event.since), " → ", when(event.until),
        " · ", fmt(event.row_count), " rows checked"),
      event.error ? el("div", { class: "run-error", text: event.error }) : null,
      el("div", { class: "detail-grid" }, checksBox, renderVolume(event)),
      renderHistory(event)
    );
  }

  function origin(check) {
    if (!check.origin) return null;
    var href = safeHref(check.origin_href);
    return href
      ? el("a", { class: "mono origin", href: href, title: "Open " + check.origin, text: check.origin })
      : el("span", { class: "mono origin", text: check.origin });
  }

  function observedLine(check) {
    if (check.error) return ["could not run: ", el("b", { text: check.error })];
    if (check.unexpected_count !== null && check.unexpected_count !== undefined) {
      var parts = [el("b", { text: fmt(check.unexpected_count) })];
      if (check.element_count) {
        var share = 100 * check.unexpected_count / check.element_count;
        parts.push(" of " + fmt(check.element_count) + " rows fail (" + share.toFixed(share < 0.01 ? 4 : 2) + "%)");
      } else parts.push(" failing rows");
      return parts;
    }
    var expected = Object.keys(check.expected || {}).map(function (k) {
      return k.replace(/_value$/, "") + " " + json(check.expected[k]);
    }).join(", ");
    var observed = check.observed_value;
    var shown = observed === undefined ? "nothing"
      : typeof observed === "number" ? String(Number(observed.toPrecision(4)))
      : typeof observed === "object" && observed !== null ? JSON.stringify(observed) : String(observed);
    return ["observed ", el("b", { text: shown }), expected ? ", expected " + expected : ""];
  }

  function copyButton(text) {
    var button = el("button", { class: "copy", type: "button", text: "Copy" });
    button.addEventListener("click", function (e) {
      e.stopPropagation();
      var done = function () {
        button.dataset.copied = String(Number(button.dataset.copied || 0) + 1);  // stays, unlike the label
        button.textContent = "Copied";
        button.classList.add("done");
        setTimeout(function () { button.textContent = "Copy"; button.classList.remove("done"); }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
      } else { fallbackCopy(text); done(); }
    });
    return button;
  }
  function fallbackCopy(text) {
    var area = el("textarea", { readonly: "", style: "position:fixed;opacity:0" });
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(area);
  }

  function renderCheck(check) {
    return el("div", { class: "check " + check.status, "data-check": check.key },
      el("div", { class: "check-head" },
        pill(check.status),
        el("span", { class: "check-title", text: check.description }),
        check.column ? el("code", { class: "check-col", text: check.column }) : null,
        el("span", { class: "sev", text: check.severity })),
      el("div", { class: "check-line" }, observedLine(check)),
      check.origin ? el("div", { class: "check-line" }, "from ", origin(check)) : null,
      check.samples && check.samples.length ? [
        el("div", { class: "label", text: "Samples (" + check.samples.length + ")" }),
        el("pre", { class: "samples", text: json(check.samples) }),
      ] : null,
      check.sql ? [
        el("div", { class: "label" }, "SQL listing the failing rows", copyButton(check.sql)),
        el("pre", { class: "sql", text: check.sql }),
      ] : null
    );
  }

  // -- volume chart --------------------------------------------------------------------------
  var tip = null;
  function showTip(text, x, y) {
    if (!tip) { tip = el("div", { class: "tip" }); document.body.appendChild(tip); }
    tip.textContent = text;
    tip.style.left = Math.min(x + 14, window.innerWidth - 220) + "px";
    tip.style.top = (y + 14) + "px";
    tip.classList.remove("hidden");
  }
  function hideTip() { if (tip) tip.classList.add("hidden"); }

  function renderVolume(event) {
    var box = el("section", { class: "box volume" }, el("h3", { text: "Volume" }));
    var volume = event.volume;
    if (!volume || !volume.points.length) {
      box.appendChild(el("div", { class: "nodata", text: "volume monitoring has no data yet" }));
      return box;
    }
    var columns = volume.columns;
    var points = volume.points.map(function (values) {
      var point = {};
      columns.forEach(function (name, i) { point[name] = values[i]; });
      return point;
    });
    var W = 560, H = 190, left = 46, right = 10, top = 10, bottom = 22;
    var top_ = 0;
    points.forEach(function (p) {
      [p.observed, p.high, p.expected].forEach(function (v) { if (typeof v === "number" && v > top_) top_ = v; });
    });
    top_ = top_ > 0 ? top_ * 1.08 : 1;
    var n = points.length;
    var x = function (i) { return left + (n === 1 ? (W - left - right) / 2 : i * (W - left - right) / (n - 1)); };
    var y = function (v) { return top + (H - top - bottom) * (1 - v / top_); };
    var r = function (v) { return Math.round(v * 10) / 10; };
    var chart = svg("svg", { class: "chart", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "volume of " + event.event });
    [0, 0.5, 1].forEach(function (share) {
      var v = top_ / 1.08 * share;
      chart.appendChild(svg("line", { class: "grid", x1: left, x2: W - right, y1: r(y(v)), y2: r(y(v)) }));
      chart.appendChild(svg("text", { x: left - 6, y: r(y(v)) + 3, "text-anchor": "end", text: fmt(v) }));
    });
    var banded = points.map(function (p, i) { return [i, p]; })
      .filter(function (ip) { return typeof ip[1].low === "number" && typeof ip[1].high === "number"; });
    if (banded.length) {
      var upper = banded.map(function (ip) { return r(x(ip[0])) + "," + r(y(ip[1].high)); });
      var lower = banded.slice().reverse().map(function (ip) { return r(x(ip[0])) + "," + r(y(Math.max(0, ip[1].low))); });
      chart.appendChild(svg("path", { class: "band", d: "M" + upper.concat(lower).join("L") + "Z" }));
    }
    var line = function (key) {
      var pts = [];
      points.forEach(function (p, i) { if (typeof p[key] === "number") pts.push(r(x(i)) + "," + r(y(p[key]))); });
      return pts;
    };
    var expected = line("expected");
    if (expected.length) chart.appendChild(svg("path", { class: "expected", d: "M" + expected.join("L") }));
    var observed = line("observed");
    if (observed.length) chart.appendChild(svg("path", { class: "observed", d: "M" + observed.join("L"), "data-points": observed.length }));
    points.forEach(function (p, i) {
      if (p.anomaly && typeof p.observed === "number") {
        chart.appendChild(svg("circle", { class: "anomaly " + p.anomaly, cx: r(x(i)), cy: r(y(p.observed)), r: 3.5 },
          title(when(p.start) + ": " + p.anomaly + ", observed " + fmt(p.observed))));
      }
    });
    chart.appendChild(svg("text", { x: left, y: H - 6, text: when(points[0].start) }));
    if (n > 1) chart.appendChild(svg("text", { x: W - right, y: H - 6, "text-anchor": "end", text: when(points[n - 1].start) }));
    var cursor = svg("line", { class: "cursor hidden", y1: top, y2: H - bottom });
    chart.appendChild(cursor);
    chart.addEventListener("mousemove", function (e) {
      var box_ = chart.getBoundingClientRect();
      var px = (e.clientX - box_.left) * W / box_.width;
      var i = n === 1 ? 0 : Math.round((px - left) / ((W - left - right) / (n - 1)));
      if (i < 0 || i >= n) { hideTip(); cursor.classList.add("hidden"); return; }
      var p = points[i];
      cursor.setAttribute("x1", r(x(i)));
      cursor.setAttribute("x2", r(x(i)));
      cursor.classList.remove("hidden");
      showTip(when(p.start) + "\nobserved " + fmt(p.observed) + "\nexpected " + fmt(p.expected) +
        " (" + fmt(p.low) + " – " + fmt(p.high) + ")" + (p.anomaly ? "\n" + p.anomaly : ""), e.clientX, e.clientY);
    });
    chart.addEventListener("mouseleave", function () { hideTip(); cursor.classList.add("hidden"); });
    box.appendChild(chart);
    box.appendChild(el("div", { class: "legend" },
      el("span", null, el("i"), "observed"),
      el("span", null, el("i", { class: "expected" }), "expected"),
      el("span", null, el("i", { class: "band" }), "expected band"),
      el("span", null, el("i", { class: "anomaly" }), "anomaly")));
    var latest = volume.latest || {};
    if (latest.explanation) box.appendChild(el("div", { class: "explain", text: latest.explanation }));
    return box;
  }

  // -- history strips --------------------------------------------------------------------------
  function renderHistory(event) {
    var runs = event.history.runs;
    var strip = function (check) {
      return statusStrip(runs.map(function (run, i) {
        return { until: run.until, letter: check.statuses.charAt(i) };
      }), 9, 12);
    };
    var rowsOf = function (checks) {
      var grid = el("div", { class: "history-grid" });
      checks.forEach(function (check) {
        grid.appendChild(el("div", { class: "hname", text: check.description, title: check.description }));
        grid.appendChild(strip(check));
      });
      return grid;
    };
    // Checks that never failed nor warned in these runs are folded away: what changed comes first.
    var eventful = event.history.checks.filter(function (c) { return /[fwe]/.test(c.statuses); });
    var quiet = event.history.checks.filter(function (c) { return !/[fwe]/.test(c.statuses); });
    var head = el("div", { class: "history-grid" },
      el("div", { class: "hname event", text: "event", title: event.event }), statusStrip(runs, 9, 12));
    return el("section", { class: "box history" },
      el("h3", null, "History ", el("span", { class: "count", text: "(last " + runs.length + " run" + (runs.length === 1 ? "" : "s") + ", oldest first)" })),
      head,
      eventful.length ? rowsOf(eventful) : null,
      quiet.length ? el("details", { class: "passing quiet" },
        el("summary", { text: quiet.length + " check" + (quiet.length === 1 ? "" : "s") + " passed in every run shown" + (eventful.length ? "" : " (all of them)") }),
        rowsOf(quiet)) : null,
      runs.length > 1 ? el("div", { class: "history-axis", text: "oldest " + when(runs[0].until) + " · newest " + when(runs[runs.length - 1].until) }) : null
    );
  }

  // -- filters ---------------------------------------------------------------------------------
  var owner = document.getElementById("filter-owner");
  var tableFilter = document.getElementById("filter-table");
  var statusFilter = document.getElementById("filter-status");
  var text = document.getElementById("filter-text");
  var shown = document.getElementById("shown");
  function options(select, values) {
    values.forEach(function (v) { select.appendChild(el("option", { value: v, text: v || "unowned" })); });
  }
  function distinct(key) {
    var seen = {};
    data.events.forEach(function (e) { seen[e[key] || ""] = true; });
    return Object.keys(seen).sort();
  }
  options(owner, distinct("owner").map(function (o) { return o; }).filter(function (o) { return o !== ""; }));
  if (data.events.some(function (e) { return !e.owner; })) owner.appendChild(el("option", { value: "\u0000unowned", text: "unowned" }));
  options(tableFilter, distinct("table"));

  function applyFilters() {
    var count = 0;
    rows.forEach(function (entry) {
      var e = entry.event;
      var ok = (!owner.value || (owner.value === "\u0000unowned" ? !e.owner : e.owner === owner.value)) &&
        (!tableFilter.value || e.table === tableFilter.value) &&
        (!statusFilter.value || (statusFilter.value === "problem" ? e.status !== "passed" : e.status === statusFilter.value)) &&
        (!text.value || e.event.toLowerCase().indexOf(text.value.toLowerCase()) >= 0);
      entry.row.classList.toggle("hidden", !ok);
      if (!ok) entry.detail.classList.add("hidden");
      else if (entry.row.classList.contains("open")) entry.detail.classList.remove("hidden");
      if (ok) count++;
    });
    shown.textContent = "showing " + count + " of " + rows.length + " events";
  }
  [owner, tableFilter, statusFilter].forEach(function (s) { s.addEventListener("change", applyFilters); });
  text.addEventListener("input", applyFilters);
  applyFilters();

  // `report.html#event=NAME` opens that event (links from alerts, bookmarks).
  function openFromHash() {
    var match = /(?:^#|&)event=([^&]+)/.exec(window.location.hash);
    if (!match) return;
    var name = decodeURIComponent(match[1]);
    rows.forEach(function (entry) {
      if (entry.event.event === name) { toggle(entry, true); entry.row.scrollIntoView({ block: "start" }); }
    });
  }
  window.addEventListener("hashchange", openFromHash);
  openFromHash();
  if (rows.length === 1) toggle(rows[0], true);
  document.body.setAttribute("data-rendered", "true");
})();

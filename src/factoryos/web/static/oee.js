// FactoryOS OEE board: one line's OEE (its bottleneck's) against target, the trend, the
// downtime Pareto and every equipment. Plain JS, no build step; every datum from /api/oee.
"use strict";

(() => {
  const DAY_MS = 86400000;
  const $ = (id) => document.getElementById(id);
  const MAX_STOPS = 30; // the newest stops shown for reason entry
  const state = { setup: null, charts: {}, role: null };
  // Read by the browser test and handy in the console.
  window.factoryosOee = { loaded: false, line: null, oee: null };

  let session = null;
  const json = (path, params) => session.json(path, { params });

  const pct = (kpi) => (kpi && kpi.value !== null ? `${(kpi.value * 100).toFixed(1)} %` : "–");
  const hours = (s) => `${(s / 3600).toFixed(1)} h`;

  function span() {
    const end = new Date();
    const start = new Date(end.getTime() - Number($("range").value) * DAY_MS);
    return { start: start.toISOString(), end: end.toISOString() };
  }

  function tiles(oee, targets) {
    for (const tile of document.querySelectorAll(".tile")) {
      const name = tile.dataset.kpi;
      const kpi = oee[name];
      tile.querySelector(".value").textContent = pct(kpi);
      tile.querySelector(".value").title = kpi.reason || "";
      tile.querySelector(".target").textContent = `target ${(targets[name] * 100).toFixed(0)} %`;
      tile.classList.toggle("on-target", kpi.value !== null && kpi.value >= targets[name]);
      tile.classList.toggle("below-target", kpi.value !== null && kpi.value < targets[name]);
    }
  }

  function table(line) {
    const body = $("equipment").querySelector("tbody");
    body.replaceChildren();
    for (const eq of line.equipment) {
      const row = body.insertRow();
      row.classList.toggle("bottleneck", eq.name === line.bottleneck);
      const good = eq.products.reduce((n, p) => n + p.good, 0);
      const made = eq.products.reduce((n, p) => n + p.produced, 0);
      const cells = [eq.name.split("/").pop(), pct(eq.oee), pct(eq.availability), pct(eq.performance),
        pct(eq.quality), hours(eq.planned_busy_s), `${good} / ${made}`, eq.notes.join("; ")];
      cells.forEach((text, i) => {
        const cell = row.insertCell();
        cell.textContent = text;
        if (i > 0 && i < 7) cell.className = "num";
      });
    }
  }

  const mayEnter = () => ["operator", "engineer", "admin"].includes(state.role);

  function reasonPicker(stop) {
    const select = document.createElement("select");
    select.append(new Option("— reason —", ""), ...state.setup.reasons.map((r) => new Option(`${r.code} ${r.text}`, r.code)));
    select.addEventListener("change", async () => {
      if (!select.value) return;
      select.disabled = true;
      try {
        await session.json("/api/oee/reasons", { body: { equipment: stop.equipment, stop_start: stop.start, code: Number(select.value) } });
        await load();
      } catch (err) {
        $("board-error").textContent = err.message;
        select.disabled = false;
      }
    });
    return select;
  }

  function stopsTable(stops) {
    const body = $("stops").querySelector("tbody");
    body.replaceChildren();
    const newest = [...stops].sort((a, b) => Date.parse(b.start) - Date.parse(a.start)).slice(0, MAX_STOPS);
    $("stops-hint").textContent = mayEnter() ? "— pick a reason for a stop" : "";
    for (const stop of newest) {
      const row = body.insertRow();
      const minutes = (Date.parse(stop.end) - Date.parse(stop.start)) / 60000;
      for (const text of [stop.equipment.split("/").pop(), new Date(stop.start).toLocaleString(), `${minutes.toFixed(1)} min`, stop.category.replace("_", " ")]) {
        row.insertCell().textContent = text;
      }
      const cell = row.insertCell();
      if (stop.reason) cell.textContent = `${stop.reason}${stop.source === "operator" ? " ✎" : ""}`;
      else if (mayEnter() && state.setup.reasons.length) cell.append(reasonPicker(stop));
      else cell.textContent = "unassigned";
    }
  }

  function chart(id) {
    if (!state.charts[id]) state.charts[id] = echarts.init($(id));
    return state.charts[id];
  }

  function trend(buckets, target) {
    chart("trend").setOption({
      animation: false,
      grid: { left: 48, right: 16, top: 16, bottom: 40 },
      tooltip: { trigger: "axis", valueFormatter: (v) => (v === null ? "–" : `${v.toFixed(1)} %`) },
      xAxis: { type: "category", data: buckets.map((b) => b.label) },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value} %" } },
      series: [
        { name: "OEE", type: "bar", data: buckets.map((b) => (b.oee.oee.value === null ? null : b.oee.oee.value * 100)),
          markLine: { symbol: "none", data: [{ yAxis: target * 100, name: "target" }], lineStyle: { color: "#d64545" } } },
      ],
    }, true);
  }

  function pareto(rows) {
    chart("pareto").setOption({
      animation: false,
      grid: { left: 48, right: 48, top: 16, bottom: 60 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: rows.map((r) => r.key), axisLabel: { rotate: 20 } },
      yAxis: [{ type: "value", name: "h" }, { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value} %" } }],
      series: [
        { name: "downtime (h)", type: "bar", data: rows.map((r) => +(r.seconds / 3600).toFixed(2)) },
        { name: "cumulative", type: "line", yAxisIndex: 1, data: rows.map((r) => +(r.cumulative * 100).toFixed(1)) },
      ],
    }, true);
  }

  async function load() {
    $("board-error").textContent = "";
    const line = $("line").value;
    const range = span();
    try {
      const [lineOee, losses] = await Promise.all([
        json("/api/oee/line", { path: line, ...range }),
        json("/api/oee/losses", { path: line, ...range }),
      ]);
      const perShift = Number($("range").value) <= 2;
      $("trend-unit").textContent = perShift ? "shift" : "day";
      const buckets = await json(`/api/oee/equipment/${perShift ? "shifts" : "days"}`, { path: lineOee.bottleneck, ...range });
      $("bottleneck").textContent = `bottleneck: ${lineOee.bottleneck.split("/").pop()}`;
      tiles(lineOee.oee, state.setup.targets);
      table(lineOee);
      trend(buckets, state.setup.targets.oee);
      pareto(losses.by_reason);
      stopsTable(losses.stops);
      window.factoryosOee = { loaded: true, line, oee: lineOee.oee.oee.value, pareto: losses.by_reason.length };
    } catch (err) {
      session.fail(err, "board-error");
    }
  }

  async function download(format) {
    try {
      await session.download("/api/oee/report", { params: { ...span(), format }, fallback: `oee.${format}` });
    } catch (err) {
      $("board-error").textContent = err.message;
    }
  }

  async function showBoard(me) {
    state.role = me.role;
    state.setup = await json("/api/oee/setup");
    $("line").replaceChildren(...state.setup.lines.map((l) => new Option(l.line, l.line)));
    await load();
  }

  $("line").addEventListener("change", load);
  $("range").addEventListener("change", load);
  for (const button of document.querySelectorAll(".download")) {
    button.addEventListener("click", () => download(button.dataset.format));
  }
  window.addEventListener("resize", () => Object.values(state.charts).forEach((c) => c.resize()));

  session = FactoryOSSession.start({ view: "board", onSignIn: showBoard });
})();

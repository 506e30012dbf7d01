// FactoryOS SPC page: pick a characteristic, see its control chart (points, centre line,
// limits, out-of-control points with the rules they fail), the R / S / MR chart beneath,
// capability (histogram against the specification, indices with their intervals) and the
// SPC alarms, which operators acknowledge. Plain JS, no build step; every datum from /api/spc.
"use strict";

(() => {
  const BASE = "/api/spc";
  const POLL_MS = 15000;
  const MAX_POLL_DELAY_MS = 60000;
  const HOUR_MS = 3600000;
  const RANK = { viewer: 0, operator: 1, engineer: 2, admin: 3 };
  const GOOD_INDEX = 1.33; // below this an index is shown as a concern
  const TITLES = {
    xbar: "X̄ chart", r: "R chart", s: "S chart", i: "Individuals chart", mr: "Moving-range chart",
    p: "p chart", np: "np chart", c: "c chart", u: "u chart",
  };
  const COLOURS = { point: "#2f6fde", centre: "#1f9d55", limit: "#d64545", out: "#d64545", spec: "#8a4fd6" };

  const $ = (id) => document.getElementById(id);
  const state = { rank: 0, list: [], current: null, charts: {} };
  // Read by the browser test: what the page drew, and its charts.
  window.factoryosSpc = {
    loaded: false, polls: 0, points: 0, spreadPoints: 0, violations: 0, alarms: 0,
    chart: (name) => state.charts[name] || null,
  };

  let session = null;
  const get = (path, params) => session.json(`${BASE}${path}`, { params });
  const post = (path, body) => session.json(`${BASE}${path}`, { body });
  const may = (role) => state.rank >= RANK[role];

  // -- formatting ----------------------------------------------------------------------

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  const short = (path) => (path ? path.split("/").pop() : "");
  const localTime = (iso) => (iso ? new Date(iso).toLocaleString() : "");
  const num = (v) => (v === null || v === undefined ? "–" : Number(v.toPrecision(4)).toString());
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  function chartOf(id) {
    if (!state.charts[id]) state.charts[id] = echarts.init($(id));
    return state.charts[id];
  }

  // -- the characteristic ----------------------------------------------------------------

  function optionText(c) {
    const active = c.active_alarms ? ` · ${c.active_alarms} active` : "";
    return `${c.name} · ${c.chart}${active}`;
  }

  function renderList(list) {
    state.list = list;
    const select = $("char-select");
    const wanted = state.current || decodeURIComponent(location.hash.slice(1)) || (list[0] && list[0].name);
    select.replaceChildren(...list.map((c) => new Option(optionText(c), c.name)));
    state.current = list.some((c) => c.name === wanted) ? wanted : list[0] ? list[0].name : null;
    if (state.current) select.value = state.current;
    if (!list.length) $("setup-error").textContent = "No characteristic is configured (apps file: spc:).";
    renderFacts();
  }

  const current = () => state.list.find((c) => c.name === state.current) || null;

  function fact(list, term, value) {
    if (value === null || value === undefined || value === "") return;
    list.append(el("dt", "", term), el("dd", "", value));
  }

  function specText(s) {
    if (!s) return "";
    const parts = [s.lsl !== null ? `LSL ${s.lsl}` : "", s.target !== null ? `target ${s.target}` : "",
      s.usl !== null ? `USL ${s.usl}` : ""].filter(Boolean);
    return `${parts.join(" · ")} ${s.unit}`.trim();
  }

  function limitsText(l) {
    if (l.source === "trial") return "trial: from the charted data";
    if (l.source === "baseline") return `baseline ${localTime(l.baseline_start)} – ${localTime(l.baseline_end)}`;
    const given = ["mean", "sigma", "p", "c", "u"].filter((k) => l[k] !== null).map((k) => `${k} ${l[k]}`);
    return `entered: ${given.join(", ")}`;
  }

  function subgroupText(c) {
    if (c.source === "inspection") return "one inspection result per point";
    const n = c.subgroup_size === 1 ? "1 sample" : `${c.subgroup_size} samples`;
    return c.subgroup_every_s ? `${n} every ${c.subgroup_every_s} s` : `${n} in a row`;
  }

  function renderFacts() {
    const c = current();
    const list = $("char-facts");
    list.replaceChildren();
    if (!c) return;
    fact(list, "Description", c.description);
    fact(list, "Machine", c.equipment);
    fact(list, "Source", c.source === "tag" ? c.tag : "inspection results");
    fact(list, "Subgroups", subgroupText(c));
    fact(list, "Specification", specText(c.spec));
    fact(list, "Limits", limitsText(c.limits));
    fact(list, "Rules", c.rules.map((r) => r.code).join(" "));
    fact(list, "Lot", c.lot === "tag" ? c.lot_tag : c.lot === "inspection" ? "given with each result" : "not tracked");
    $("capability-panel").hidden = !c.spec;
  }

  // -- control charts --------------------------------------------------------------------

  function limitLine(name, times, values, colour, dashed) {
    return {
      name, type: "line", step: "middle", symbol: "none", silent: true,
      data: times.map((t, i) => [t, values[i]]),
      lineStyle: { color: colour, width: 1, type: dashed ? "dashed" : "solid" }, z: 1,
    };
  }

  // The chart's violating points, one item per point with every rule it fails.
  function outItems(answer, role) {
    const byIndex = new Map();
    for (const v of answer.violations.filter((x) => x.role === role)) {
      const item = byIndex.get(v.index) || { value: [Date.parse(v.time), v.value], rules: [], lot: v.lot, equipment: v.equipment };
      item.rules.push(`${v.rule} ${v.description}`);
      byIndex.set(v.index, item);
    }
    return [...byIndex.values()];
  }

  function tooltip(params) {
    const d = params.data;
    const when = new Date(d.value ? d.value[0] : d[0]).toLocaleString();
    const value = d.value ? d.value[1] : d[1];
    const lines = [`<b>${params.seriesName}</b> ${when}`, `value ${num(value)}`];
    if (d.rules) lines.push(...d.rules.map((r) => `<span style="color:${COLOURS.out}">${r}</span>`));
    if (d.lot !== undefined) lines.push(`lot ${d.lot || "unknown"} · ${short(d.equipment)}`);
    return lines.join("<br>");
  }

  function drawSeries(id, answer, series, role) {
    const chart = chartOf(id);
    const times = series.time.map((t) => Date.parse(t));
    const items = outItems(answer, role);
    chart.resize(); // it may have been drawn while hidden (another characteristic)
    chart.setOption({
      animation: false,
      grid: { left: 64, right: 60, top: 16, bottom: 28 },
      tooltip: { trigger: "item", formatter: tooltip },
      xAxis: { type: "time", axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", scale: true },
      series: [
        {
          name: TITLES[series.kind] || series.kind, type: "line", data: times.map((t, i) => [t, series.value[i]]),
          symbol: "circle", symbolSize: 4, lineStyle: { width: 1, color: COLOURS.point }, itemStyle: { color: COLOURS.point }, z: 2,
        },
        limitLine("CL", times, series.center, COLOURS.centre, false),
        limitLine("UCL", times, series.ucl, COLOURS.limit, true),
        limitLine("LCL", times, series.lcl, COLOURS.limit, true),
        {
          name: "out of control", type: "scatter", data: items, symbol: "diamond", symbolSize: 11,
          itemStyle: { color: COLOURS.out }, z: 3,
        },
      ],
    }, true);
    return items.length;
  }

  function violationRow(v) {
    const row = el("tr");
    row.dataset.rule = v.rule;
    row.dataset.role = v.role;
    row.dataset.time = v.time;
    const equipment = el("td", "", short(v.equipment));
    equipment.title = v.equipment;
    row.append(el("td", "mono", localTime(v.time)), el("td", "", TITLES[v.chart] || v.chart),
      el("td", "rule", v.rule), el("td", "", v.description), el("td", "num", num(v.value)),
      el("td", "", v.lot || ""), equipment);
    return row;
  }

  function renderChart(answer) {
    const problem = answer.problem;
    $("chart-problem").hidden = !problem;
    $("chart-problem").textContent = problem ? `No chart: ${problem}.` : "";
    const c = current();
    const unit = answer.unit ? ` (${answer.unit})` : "";
    $("location-title").textContent = answer.location ? `${TITLES[answer.location.kind]}${unit}` : "Control chart";
    $("chart-location").hidden = !answer.location;
    $("chart-spread").hidden = !answer.spread;
    $("spread-title").hidden = !answer.spread;
    let points = 0;
    let spreadPoints = 0;
    if (answer.location) {
      drawSeries("chart-location", answer, answer.location, "location");
      points = answer.location.value.length;
    }
    if (answer.spread) {
      $("spread-title").textContent = TITLES[answer.spread.kind];
      drawSeries("chart-spread", answer, answer.spread, "spread");
      spreadPoints = answer.spread.value.length;
    }
    $("violation-rows").replaceChildren(...answer.violations.slice().reverse().map(violationRow));
    if (!answer.violations.length) {
      const row = el("tr");
      const cell = el("td", "muted", answer.location ? "None: every rule holds." : "");
      cell.colSpan = 7;
      row.append(cell);
      $("violation-rows").append(row);
    }
    const flagged = new Set(answer.violations.map((v) => `${v.role}${v.index}`)).size;
    const truncated = answer.truncated_at ? ` · charted until ${localTime(answer.truncated_at)}` : "";
    $("chart-summary").textContent = answer.location
      ? `${plural(points, "point")} · ${flagged} out of control · ${answer.phase}, ${limitsText(answer.limits)}${truncated}`
      : "";
    Object.assign(window.factoryosSpc, { points, spreadPoints, violations: answer.violations.length });
    if (c) $("chart-location").dataset.characteristic = c.name;
  }

  // -- capability ------------------------------------------------------------------------

  // The normal density of the overall spread, scaled to the histogram's counts.
  function normalCurve(cap, lo, hi, binWidth) {
    const sigma = cap.sigma_overall;
    const scale = cap.n * binWidth / (sigma * Math.sqrt(2 * Math.PI));
    const points = [];
    for (let k = 0; k <= 80; k++) {
      const x = lo + ((hi - lo) * k) / 80;
      points.push([x, scale * Math.exp(-0.5 * ((x - cap.mean) / sigma) ** 2)]);
    }
    return points;
  }

  function specLines(spec) {
    const lines = [["LSL", spec.lsl], ["target", spec.target], ["USL", spec.usl]].filter(([, v]) => v !== null);
    return lines.map(([name, value]) => ({ name, xAxis: value, label: { formatter: `${name} ${value}` } }));
  }

  function drawCapability(cap) {
    const edges = cap.histogram.edges;
    const bins = cap.histogram.counts.map((n, i) => [edges[i], edges[i + 1], n]);
    const width = edges[1] - edges[0];
    const spec = [cap.spec.lsl, cap.spec.usl].filter((v) => v !== null);
    const lo = Math.min(edges[0], ...spec) - width;
    const hi = Math.max(edges[edges.length - 1], ...spec) + width;
    const chart = chartOf("chart-capability");
    chart.resize();
    chart.setOption({
      animation: false,
      grid: { left: 48, right: 24, top: 24, bottom: 28 },
      tooltip: { trigger: "item", formatter: (p) => (p.seriesName === "histogram"
        ? `${num(p.data[0])} – ${num(p.data[1])}: ${p.data[2]}` : "") },
      xAxis: { type: "value", min: lo, max: hi, axisLabel: { formatter: (v) => num(v) } },
      yAxis: { type: "value", name: "count" },
      series: [
        {
          name: "histogram", type: "custom", data: bins, encode: { x: [0, 1], y: 2 },
          itemStyle: { color: "#9cb9ee", borderColor: "#2f6fde" },
          renderItem: (params, api) => {
            const top = api.coord([api.value(0), api.value(2)]);
            const bottom = api.coord([api.value(1), 0]);
            return { type: "rect", shape: { x: top[0], y: top[1], width: bottom[0] - top[0], height: bottom[1] - top[1] },
              style: api.style() };
          },
        },
        {
          name: "normal (overall σ)", type: "line", symbol: "none", silent: true,
          data: normalCurve(cap, lo, hi, width), lineStyle: { color: COLOURS.centre, width: 1.5 },
          markLine: { symbol: "none", silent: true, data: specLines(cap.spec), lineStyle: { color: COLOURS.spec, type: "dashed" } },
        },
      ],
    }, true);
  }

  function indexRow(name, index) {
    if (index === null || index === undefined) return null;
    const row = el("tr");
    row.dataset.index = name;
    const value = typeof index === "number" ? index : index.value;
    const cell = el("td", `num${value < GOOD_INDEX ? " low" : ""}`, num(value));
    const interval = typeof index === "number" ? "" : `${num(index.low)} – ${num(index.high)}`;
    row.append(el("td", "", name), cell, el("td", "num", interval));
    return row;
  }

  function renderCapability(cap) {
    drawCapability(cap);
    $("cap-ci-head").textContent = `${Math.round(cap.confidence * 100)} % interval`;
    const rows = [["Cp", cap.cp], ["Cpk", cap.cpk], ["Pp", cap.pp], ["Ppk", cap.ppk], ["Cpl", cap.cpl],
      ["Cpu", cap.cpu], ["Ppl", cap.ppl], ["Ppu", cap.ppu]].map(([n, v]) => indexRow(n, v)).filter(Boolean);
    $("cap-rows").replaceChildren(...rows);
    $("cap-summary").textContent = `n = ${cap.n} · mean ${num(cap.mean)} ${cap.unit} · σ within ${num(cap.sigma_within)}`
      + ` (${cap.within_method}) · σ overall ${num(cap.sigma_overall)}`;
    $("cap-notes").replaceChildren(...cap.notes.map((n) => el("li", "", n)));
  }

  function clearCapability() {
    if (state.charts["chart-capability"]) state.charts["chart-capability"].clear();
    $("cap-rows").replaceChildren();
    $("cap-summary").textContent = "";
    $("cap-notes").replaceChildren();
  }

  // -- alarms ----------------------------------------------------------------------------

  function alarmRow(a) {
    const row = el("tr", `alarm ${a.state}`);
    row.dataset.alarm = String(a.id);
    row.dataset.state = a.state;
    const equipment = el("td", "", short(a.equipment));
    equipment.title = a.equipment;
    const status = el("td");
    const badge = el("span", `state ${a.state}`, a.state);
    if (a.acked_by) badge.title = `by ${a.acked_by} at ${localTime(a.acked_at)}${a.comment ? `: ${a.comment}` : ""}`;
    status.append(badge);
    const action = el("td", "actions");
    if (a.state === "active" && may("operator")) {
      const button = el("button", "act ack", "Acknowledge");
      button.type = "button";
      button.addEventListener("click", () => acknowledge(a.id, button));
      action.append(button);
    }
    row.append(el("td", "mono", localTime(a.time)), el("td", "", a.characteristic), el("td", "rule", a.rule),
      el("td", "", a.description), el("td", "num", num(a.value)), el("td", "", a.lot || ""), equipment, status, action);
    return row;
  }

  function renderAlarms(page) {
    $("alarm-rows").replaceChildren(...page.alarms.map(alarmRow));
    const more = page.next_before === null ? "" : " (newest shown)";
    $("alarm-summary").textContent = `${plural(page.alarms.length, "alarm")}${more}`;
    window.factoryosSpc.alarms = page.alarms.length;
  }

  async function acknowledge(id, button) {
    $("alarm-act-error").textContent = "";
    button.disabled = true;
    try {
      await post(`/alarms/${id}/ack`, {});
    } catch (err) {
      button.disabled = false;
      return session.fail(err, "alarm-act-error");
    }
    await poll();
  }

  // -- loading ---------------------------------------------------------------------------

  function range() {
    const end = new Date();
    const start = new Date(end.getTime() - Number($("range-select").value) * HOUR_MS);
    return { start: start.toISOString(), end: end.toISOString() };
  }

  function alarmParams() {
    const params = { limit: "200" };
    if ($("alarm-filter").value) params.state = $("alarm-filter").value;
    if (!$("alarm-all").checked && state.current) params.characteristic = state.current;
    return params;
  }

  // Each part reports its own error; one failing does not blank the others.
  async function load(path, params, render, where, onError) {
    try {
      render(await get(path, params));
      $(where).textContent = "";
      return true;
    } catch (err) {
      if (err instanceof session.AuthError) throw err;
      $(where).textContent = err.message;
      if (onError) onError();
      return false;
    }
  }

  async function refresh() {
    const ok = await load("/characteristics", undefined, renderList, "setup-error");
    const c = current();
    if (!ok || !c) return ok;
    const span = range();
    const name = encodeURIComponent(c.name);
    const parts = [
      load(`/characteristics/${name}/chart`, span, renderChart, "chart-error"),
      load("/alarms", alarmParams(), renderAlarms, "alarm-error"),
    ];
    if (c.spec) parts.push(load(`/characteristics/${name}/capability`, span, renderCapability, "cap-error", clearCapability));
    return (await Promise.all(parts)).every(Boolean);
  }

  const live = FactoryOSSession.poller(() => session, refresh, {
    everyMs: POLL_MS, maxMs: MAX_POLL_DELAY_MS, doublings: 2,
    onPoll: () => window.factoryosSpc.polls++,
  });
  const poll = () => live.poll();

  async function showPage(me) {
    state.rank = RANK[me.role] ?? 0;
    await poll();
    window.factoryosSpc.loaded = true;
  }

  // Nothing of the last caller stays in the page for the next one.
  function leave() {
    live.stop();
    Object.values(state.charts).forEach((c) => c.dispose());
    state.charts = {};
    state.list = [];
    for (const id of ["char-select", "char-facts", "violation-rows", "cap-rows", "cap-notes", "alarm-rows"]) $(id).replaceChildren();
    for (const node of document.querySelectorAll("#spc-view .error")) node.textContent = "";
    window.factoryosSpc.loaded = false;
  }

  // -- wiring ----------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("char-select").addEventListener("change", () => {
      state.current = $("char-select").value;
      history.replaceState(null, "", `#${encodeURIComponent(state.current)}`);
      clearCapability();
      poll();
    });
    for (const id of ["range-select", "alarm-filter", "alarm-all"]) $(id).addEventListener("change", () => poll());
    window.addEventListener("resize", () => Object.values(state.charts).forEach((c) => c.resize()));
    session = FactoryOSSession.start({ view: "spc-view", onSignIn: showPage, onSignOut: leave });
  });
})();

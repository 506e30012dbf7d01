// FactoryOS scheduling page: a problem document solved in the background (the search's best
// objective and bound drawn while it runs), then the schedule as a Gantt chart (one row per
// machine, a bar per lot coloured by order, changeover hatched and setup lighter before the
// run, downtime shaded), KPI cards, CP-SAT against the dispatching rules, dispatch lists and
// exports. Dragging a bar pins that lot there (another row: another machine) and solves again;
// the reschedule forms repair the plan after a breakdown, a rush order or late material.
// Plain JS, no build step; every datum from /api/schedules.
"use strict";

(() => {
  const BASE = "/api/schedules";
  const POLL_MS = 400;
  const RANK = { viewer: 0, operator: 1, engineer: 2, admin: 3 };
  const LIVE = ["queued", "running"];
  const PALETTE = [
    "#3b6fd4", "#e0803a", "#3aa37a", "#c94f6d", "#8a63c9", "#c9a43a",
    "#3aa3b8", "#8c6d4f", "#5f7f2a", "#d46fb9", "#4f5f8c", "#a33a3a",
  ];
  const DRAG_PX = 4; // a smaller move is a click, not a pin
  const MINUTE = 60000;
  const SNAP = 5 * MINUTE; // a dropped lot starts on a multiple of five minutes

  const $ = (id) => document.getElementById(id);
  const state = {
    rank: 0, job: null, drawn: null, formsFor: null, watching: null, timer: null, gantt: null, progress: null,
    drag: null, colors: new Map(), hatches: new Map(),
  };
  // read by the browser test
  window.factoryosSched = { loaded: false, job: null, status: null, bars: 0, polls: 0, lastPin: null };

  let session = null;
  const get = (path, params) => session.json(`${BASE}${path}`, { params });
  const post = (path, body) => session.json(`${BASE}${path}`, { body: body || {} });
  const may = (role) => state.rank >= RANK[role];

  // -- formatting ----------------------------------------------------------------------

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  const ms = (iso) => Date.parse(iso);
  const pad = (n) => String(n).padStart(2, "0");
  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const day = d.toLocaleDateString(undefined, { weekday: "short", day: "2-digit", month: "short" });
    return `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  const fixed = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
  const objective = (values) => values.map((v) => Math.round(v).toLocaleString()).join(" / ");

  // "YYYY-MM-DDTHH:MM" in local time, as <input type=datetime-local> takes and gives it.
  function toLocalInput(date) {
    const shifted = new Date(date.getTime() - date.getTimezoneOffset() * MINUTE);
    return shifted.toISOString().slice(0, 16);
  }

  function fromLocalInput(value, what) {
    const date = new Date(value);
    if (!value || Number.isNaN(date.getTime())) throw new Error(`Give the ${what}.`);
    return date.toISOString();
  }

  function colorOf(order) {
    if (!state.colors.has(order)) state.colors.set(order, PALETTE[state.colors.size % PALETTE.length]);
    return state.colors.get(order);
  }

  // Diagonal stripes of the order's colour: the changeover before a lot.
  function hatch(color) {
    if (!state.hatches.has(color)) {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 8;
      const g = canvas.getContext("2d");
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.beginPath();
      g.moveTo(0, 8); g.lineTo(8, 0);
      g.moveTo(-2, 2); g.lineTo(2, -2);
      g.moveTo(6, 10); g.lineTo(10, 6);
      g.stroke();
      state.hatches.set(color, { image: canvas, repeat: "repeat" });
    }
    return state.hatches.get(color);
  }

  // -- the problem ---------------------------------------------------------------------

  async function loadExample() {
    const response = await fetch("/static/scheduling-example.yaml");
    if (!response.ok) throw new Error(`the example: HTTP ${response.status}`);
    $("doc").value = await response.text();
    if (!$("solve-name").value) $("solve-name").value = "example";
  }

  function showProblems(err) {
    const list = $("submit-error");
    list.replaceChildren();
    if (!err) return;
    if (err instanceof session.AuthError) return session.signOut(err.message);
    // the API's problems come as "loc: msg; loc: msg"; the loc's "body.text." is noise here
    for (const part of err.message.split("; ")) list.append(el("li", "", part.replace(/^body\.(text|document)\.?/, "")));
  }

  async function solve(event) {
    event.preventDefault();
    showProblems(null);
    const text = $("doc").value;
    if (!text.trim()) return showProblems(new Error("Paste, upload or load a problem document first."));
    const body = {
      text,
      name: $("solve-name").value.trim(),
      time_limit: Number($("solve-limit").value) || 10,
      workers: Number($("solve-workers").value) || 2,
      work_orders: $("solve-wo").checked,
    };
    $("solve").disabled = true;
    try {
      const job = await post("", body);
      await open(job);
    } catch (err) {
      showProblems(err);
    } finally {
      $("solve").disabled = !may("engineer");
    }
  }

  // -- the plans -----------------------------------------------------------------------

  function jobRow(j) {
    const row = el("tr", `job ${j.status}`);
    row.dataset.job = j.id;
    row.dataset.status = j.status;
    row.classList.toggle("selected", state.job !== null && state.job.id === j.id);
    const name = el("td");
    const open_ = el("button", "link", j.name || j.id);
    open_.type = "button";
    open_.addEventListener("click", () => show(j.id));
    name.append(open_);
    const status = el("td");
    status.append(el("span", `status ${j.status}`, j.status));
    row.append(name, el("td", "", j.kind), status, el("td", "mono", when(j.created)),
      el("td", "mono", when(j.makespan_end)), el("td", "muted", j.note));
    return row;
  }

  async function refreshJobs() {
    try {
      const jobs = await get("");
      $("job-rows").replaceChildren(...jobs.map(jobRow));
      const live = jobs.filter((j) => LIVE.includes(j.status)).length;
      $("jobs-summary").textContent = `${jobs.length} plan${jobs.length === 1 ? "" : "s"} · ${live} solving`;
      $("jobs-error").textContent = "";
    } catch (err) {
      session.fail(err, "jobs-error");
    }
  }

  // -- one job -------------------------------------------------------------------------

  async function show(id) {
    try {
      await open(await get(`/${id}`));
    } catch (err) {
      session.fail(err, "jobs-error");
    }
  }

  // Show a job; while it is queued or running, poll it until it ends.
  async function open(job) {
    clearTimeout(state.timer);
    state.watching = job.id;
    render(job);
    await refreshJobs();
    if (LIVE.includes(job.status)) state.timer = setTimeout(() => watch(job.id), POLL_MS);
  }

  async function watch(id) {
    if (state.watching !== id || !session.key()) return;
    let job;
    try {
      job = await get(`/${id}`);
    } catch (err) {
      session.fail(err, "job-error");
      return;
    }
    if (state.watching !== id) return;
    window.factoryosSched.polls++;
    render(job);
    if (LIVE.includes(job.status)) state.timer = setTimeout(() => watch(id), POLL_MS);
    else await refreshJobs();
  }

  function render(job) {
    state.job = job;
    window.factoryosSched.job = job.id;
    window.factoryosSched.status = job.status;
    $("job-panel").hidden = false;
    $("job-panel").dataset.job = job.id;
    $("job-panel").dataset.status = job.status;
    $("job-title").textContent = job.name || `plan ${job.id}`;
    $("job-status").textContent = job.status + (job.cancelled ? " (stopped)" : "");
    $("job-status").className = `status ${job.status}`;
    $("job-note").textContent = job.note;
    $("job-error").textContent = job.error || "";
    $("reasons").replaceChildren(...job.reasons.map((r) => el("li", "", r)));
    $("cancel").hidden = !(may("engineer") && LIVE.includes(job.status) && !job.cancelled);
    for (const id of ["export-csv", "export-json"]) $(id).disabled = job.status !== "done";
    drawProgress(job);
    renderKpis(job);
    for (const row of $("job-rows").children) row.classList.toggle("selected", row.dataset.job === job.id);
    const result = job.result;
    if (result) {
      $("schedule-box").hidden = false;
      drawGantt(job);
      renderCompare(result);
      renderMoves(job);
      renderDispatchChoice(job);
      fillRescheduleForms(job);
    } else if (!LIVE.includes(job.status)) {
      $("schedule-box").hidden = true;
      window.factoryosSched.bars = 0;
    }
    $("reschedule-panel").hidden = !(result && may("engineer"));
  }

  // -- charts: made when their box is first shown (ECharts needs its size) ---------------

  function progressChart() {
    if (!state.progress) state.progress = echarts.init($("progress-chart"));
    return state.progress;
  }

  function ganttChart() {
    if (!state.gantt) {
      state.gantt = echarts.init($("gantt"));
      state.gantt.on("mousedown", startDrag);
      state.gantt.getZr().on("mousemove", moveDrag);
      state.gantt.getZr().on("mouseup", endDrag);
      state.gantt.getZr().on("globalout", cancelDrag);
    }
    return state.gantt;
  }

  // -- search progress -----------------------------------------------------------------

  function drawProgress(job) {
    const best = job.progress.map((p) => [p.seconds, p.objective]);
    const bound = job.progress.map((p) => [p.seconds, p.bound]);
    const last = job.progress[job.progress.length - 1];
    $("progress-summary").textContent = last
      ? `${job.progress.length} schedule${job.progress.length === 1 ? "" : "s"} found · best ${Math.round(last.objective).toLocaleString()} · bound ${Math.round(last.bound).toLocaleString()}`
      : LIVE.includes(job.status) ? "searching…" : "";
    progressChart().setOption({
      animation: false,
      grid: { left: 64, right: 14, top: 24, bottom: 28 },
      legend: { top: 0, right: 0, data: ["best", "bound"] },
      tooltip: { trigger: "axis", valueFormatter: (v) => Math.round(v).toLocaleString() },
      xAxis: { type: "value", name: "s", nameGap: 4, min: 0, max: (v) => Math.max(v.max, 0.5) },
      yAxis: { type: "value", scale: true, axisLabel: { formatter: (v) => v.toLocaleString() } },
      series: [
        { name: "best", type: "line", step: "end", showSymbol: best.length < 30, data: best, lineStyle: { width: 2 } },
        { name: "bound", type: "line", step: "end", showSymbol: false, data: bound, lineStyle: { type: "dashed" } },
      ],
    }, true);
  }

  function kpi(label, value, sub) {
    const card = el("div", "kpi");
    card.dataset.kpi = label;
    card.append(el("div", "label", label), el("div", "value", value));
    if (sub) card.append(el("div", "sub", sub));
    return card;
  }

  function renderKpis(job) {
    const r = job.result;
    if (!r) {
      if (!LIVE.includes(job.status)) $("kpis").replaceChildren(); // while solving: the last
      return;
    }
    const k = r.kpis;
    const util = Object.values(k.utilisation);
    const mean = util.length ? util.reduce((a, b) => a + b, 0) / util.length : 0;
    const gap = r.bound !== null && r.objective.length === 1 && r.objective[0] > 0
      ? `gap ${fixed((100 * (r.objective[0] - r.bound)) / r.objective[0])} %` : "";
    $("kpis").replaceChildren(
      kpi("Objective", objective(r.objective), `${r.status} · ${r.seconds} s ${gap}`),
      kpi("Makespan", `${fixed(k.makespan_hours)} h`, `ends ${when(k.makespan_end)}`),
      kpi("Weighted tardiness", `${fixed(k.weighted_tardiness_hours)} h`),
      kpi("Late orders", String(k.late_orders), `of ${job.orders.length}`),
      kpi("Setup", `${fixed(k.setup_hours)} h`, "changeovers and lot setups"),
      kpi("Utilisation", `${Math.round(mean * 100)} %`, "mean over machines"),
    );
  }

  // -- Gantt -----------------------------------------------------------------------------

  function rect(x0, x1, y, h, params) {
    return echarts.graphic.clipRectByRect(
      { x: x0, y: y - h / 2, width: Math.max(0, x1 - x0), height: h },
      { x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height },
    );
  }

  function renderDown(params, api) {
    const row = api.value(0);
    const [x0, y] = api.coord([api.value(1), row]);
    const x1 = api.coord([api.value(2), row])[0];
    const shape = rect(x0, x1, y, api.size([0, 1])[1] * 0.9, params);
    if (!shape) return null;
    const kind = api.value(3);
    const fill = kind === "breakdown" ? "rgba(214, 69, 69, .22)" : kind === "maintenance" ? "rgba(224, 128, 58, .22)" : "rgba(110, 120, 135, .16)";
    return { type: "rect", shape, style: { fill }, silent: false };
  }

  function renderLot(params, api) {
    const row = api.value(0);
    const bar = state.drawn.result.bars[api.value(5)];
    const [c0, y] = api.coord([api.value(1), row]);
    const s0 = api.coord([api.value(2), row])[0];
    const r0 = api.coord([api.value(3), row])[0];
    const r1 = api.coord([api.value(4), row])[0];
    const h = api.size([0, 1])[1] * 0.62;
    const color = colorOf(bar.order);
    const children = [];
    const change = rect(c0, s0, y, h, params);
    if (change && change.width > 0) {
      children.push({ type: "rect", shape: change, style: { fill: "#fff", stroke: color, lineWidth: 1, opacity: 0.9 } });
      children.push({ type: "rect", shape: change, style: { fill: hatch(color) } });
    }
    const setup = rect(s0, r0, y, h, params);
    if (setup && setup.width > 0) children.push({ type: "rect", shape: setup, style: { fill: color, opacity: 0.45 } });
    const run = rect(r0, r1, y, h, params);
    if (run && run.width > 0) children.push({ type: "rect", shape: run, style: { fill: color } });
    const whole = rect(s0, r1, y, h, params);
    if (whole && (bar.pinned || bar.frozen || bar.late)) {
      const stroke = bar.late ? "#d64545" : "#111";
      children.push({ type: "rect", shape: whole, style: { fill: "none", stroke, lineWidth: bar.pinned ? 2.5 : 1.5,
        lineDash: bar.frozen ? [3, 2] : null } });
    }
    if (whole && whole.width > 46) {
      children.push({
        type: "text", silent: true,
        style: { x: whole.x + 4, y, text: bar.order + (bar.lot ? ` #${bar.lot}` : ""), fill: "#fff",
          font: "600 11px sans-serif", verticalAlign: "middle", width: whole.width - 6, overflow: "truncate" },
      });
    }
    return { type: "group", children };
  }

  function lotTip(bar) {
    const lines = [
      `<b>${bar.order}</b> · ${bar.product} · ${bar.operation}${bar.lot ? ` · lot ${bar.lot}` : ""}`,
      `${bar.quantity} units on ${bar.machine}`,
      `${when(bar.start)} – ${when(bar.end)}`,
    ];
    if (bar.changeover_start !== bar.start) lines.push(`changeover from ${when(bar.changeover_start)}`);
    if (bar.setup_end !== bar.start) lines.push(`setup until ${when(bar.setup_end)}`);
    if (bar.due) lines.push(`due ${when(bar.due)}${bar.late ? " · late" : ""}`);
    if (bar.pinned) lines.push("pinned");
    if (bar.frozen) lines.push("started: it stays");
    return lines.join("<br>");
  }

  function drawGantt(job) {
    const r = job.result;
    const machines = job.machines;
    const row = new Map(machines.map((m, i) => [m, i]));
    job.orders.forEach((o) => colorOf(o.id));
    const lots = r.bars.map((b, i) => ({
      value: [row.get(b.machine), ms(b.changeover_start), ms(b.start), ms(b.setup_end), ms(b.end), i],
    }));
    const down = r.downtime.map((d) => ({
      value: [row.get(d.machine), ms(d.start), ms(d.end), d.reason === "breakdown" ? "breakdown" : /^WO-|maint/i.test(d.reason) ? "maintenance" : "calendar", d.reason],
    }));
    const starts = r.bars.map((b) => ms(b.changeover_start));
    const ends = r.bars.map((b) => ms(b.end));
    const lo = Math.min(ms(job.now), ...starts);
    const hi = Math.max(...ends, lo + 3600000);
    const margin = (hi - lo) * 0.03;
    state.drawn = job;
    const chart = ganttChart();
    chart.resize();
    chart.setOption({
      animation: false,
      grid: { left: 84, right: 24, top: 12, bottom: 58 },
      tooltip: {
        trigger: "item", confine: true,
        formatter: (p) => (p.seriesIndex === 1 ? lotTip(state.drawn.result.bars[p.value[5]])
          : `${p.value[4]}<br>${when(new Date(p.value[1]).toISOString())} – ${when(new Date(p.value[2]).toISOString())}`),
      },
      xAxis: { type: "time", min: lo - margin, max: hi + margin, axisLabel: { hideOverlap: true }, splitLine: { show: true, lineStyle: { color: "#eef1f4" } } },
      yAxis: { type: "category", data: machines, inverse: true, axisTick: { show: false }, splitLine: { show: true, lineStyle: { color: "#eef1f4" } } },
      dataZoom: [
        { type: "slider", xAxisIndex: 0, height: 18, bottom: 8, filterMode: "weakFilter" },
        { type: "inside", xAxisIndex: 0, filterMode: "weakFilter", moveOnMouseMove: false, zoomOnMouseWheel: true },
      ],
      series: [
        { name: "downtime", type: "custom", renderItem: renderDown, encode: { x: [1, 2], y: 0 }, data: down, z: 1 },
        { name: "lots", type: "custom", renderItem: renderLot, encode: { x: [1, 4], y: 0 }, data: lots, z: 2, cursor: may("engineer") ? "move" : "pointer" },
      ],
    }, true);
    window.factoryosSched.bars = lots.length;
    $("gantt-hint").textContent = may("engineer") ? "drag a lot to pin it (another row: another machine); it is solved again" : "";
    renderLegend(job);
  }

  function renderLegend(job) {
    const items = job.orders.map((o) => {
      const item = el("span", "item");
      const swatch = el("span", "swatch");
      swatch.style.background = colorOf(o.id);
      item.append(swatch, `${o.id} · ${o.product}`);
      return item;
    });
    for (const [cls, text] of [["changeover", "changeover"], ["setup", "setup"], ["down", "unavailable"], ["pinned", "pinned"]]) {
      const item = el("span", "item muted");
      item.append(el("span", `swatch ${cls}`), text);
      items.push(item);
    }
    $("legend").replaceChildren(...items);
  }

  // -- dragging a lot: pin it where it is dropped ----------------------------------------

  function fromPixel(x, y) {
    const t = state.gantt.convertFromPixel({ xAxisIndex: 0 }, x);
    const i = state.gantt.convertFromPixel({ yAxisIndex: 0 }, y);
    return [t, Math.round(i)];
  }

  function startDrag(params) {
    if (params.seriesIndex !== 1 || !state.drawn || !may("engineer")) return;
    const bar = state.drawn.result.bars[params.value[5]];
    $("pin-error").textContent = "";
    if (bar.frozen) {
      $("pin-error").textContent = `${bar.op} lot ${bar.lot} has started: it stays where it is.`;
      return;
    }
    const e = params.event;
    state.drag = { bar, x: e.offsetX, y: e.offsetY, moved: false };
  }

  function ghost(bar, dx, machineRow) {
    const start = ms(bar.changeover_start);
    const end = ms(bar.end);
    const y = state.gantt.convertToPixel({ yAxisIndex: 0 }, machineRow);
    const x0 = state.gantt.convertToPixel({ xAxisIndex: 0 }, start) + dx;
    const x1 = state.gantt.convertToPixel({ xAxisIndex: 0 }, end) + dx;
    const h = 22;
    return {
      id: "ghost", type: "rect", z: 100, silent: true,
      shape: { x: x0, y: y - h / 2, width: Math.max(2, x1 - x0), height: h },
      style: { fill: "rgba(20, 30, 40, .12)", stroke: "#111", lineDash: [4, 3], lineWidth: 1.5 },
    };
  }

  function moveDrag(e) {
    const d = state.drag;
    if (!d) return;
    const dx = e.offsetX - d.x;
    if (!d.moved && Math.abs(dx) < DRAG_PX && Math.abs(e.offsetY - d.y) < DRAG_PX) return;
    d.moved = true;
    const [, row] = fromPixel(e.offsetX, e.offsetY);
    const machines = state.drawn.machines;
    const target = Math.max(0, Math.min(machines.length - 1, row));
    state.gantt.setOption({ graphic: { elements: [ghost(d.bar, dx, target)] } });
  }

  function cancelDrag() {
    if (!state.drag) return;
    state.drag = null;
    state.gantt.setOption({ graphic: { elements: [{ id: "ghost", $action: "remove" }] } });
  }

  function endDrag(e) {
    const d = state.drag;
    if (!d) return;
    cancelDrag();
    if (!d.moved) return;
    const [t0] = fromPixel(d.x, d.y);
    const [t1, row] = fromPixel(e.offsetX, e.offsetY);
    const machines = state.drawn.machines;
    const machine = row >= 0 && row < machines.length ? machines[row] : d.bar.machine;
    const start = Math.round((ms(d.bar.start) + (t1 - t0)) / SNAP) * SNAP;
    const can = state.drawn.modes[d.bar.op] || [];
    if (!can.includes(machine)) {
      $("pin-error").textContent = `${machine} cannot do ${d.bar.op} (${d.bar.operation}); ${can.join(", ")} can.`;
      return;
    }
    pin(d.bar.op, d.bar.lot, machine, new Date(start).toISOString());
  }

  // Pin a lot of the plan drawn and follow the new job (also the test's way in).
  async function pin(op, lot, machine, startIso) {
    const job = state.drawn;
    $("pin-error").textContent = "";
    const body = { op, lot, machine, start: startIso };
    window.factoryosSched.lastPin = { ...body, from: job.id };
    try {
      await open(await post(`/${job.id}/pin`, body));
    } catch (err) {
      session.fail(err, "pin-error");
    }
  }

  // Where a lot's run is on the page, for the browser test's mouse.
  function barPoint(op, lot) {
    const job = state.drawn;
    const bar = job.result.bars.find((b) => b.op === op && b.lot === lot);
    if (!bar) return null;
    const row = job.machines.indexOf(bar.machine);
    const mid = (ms(bar.setup_end) + ms(bar.end)) / 2;
    const [x, y] = state.gantt.convertToPixel({ xAxisIndex: 0, yAxisIndex: 0 }, [mid, row]);
    const box = $("gantt").getBoundingClientRect();
    const pxPerHour = state.gantt.convertToPixel({ xAxisIndex: 0 }, mid + 3600000) - state.gantt.convertToPixel({ xAxisIndex: 0 }, mid);
    const rowY = (i) => box.top + state.gantt.convertToPixel({ yAxisIndex: 0 }, i);
    const rows = Object.fromEntries(job.machines.map((m, i) => [m, rowY(i)]));
    return { x: box.left + x, y: box.top + y, pxPerHour: pxPerHour, rowY: rows, start: bar.start, machine: bar.machine };
  }

  // -- tables ----------------------------------------------------------------------------

  function renderCompare(r) {
    const rows = r.comparison.map((m) => {
      const row = el("tr", m.method === "cp-sat" ? "best" : "");
      row.dataset.method = m.method;
      const k = m.kpis;
      const name = m.method + (m.start ? " (CP-SAT started from it)" : "");
      row.append(el("td", "", name), el("td", "", m.status), el("td", "num", objective(m.objective)),
        el("td", "mono", when(k.makespan_end)), el("td", "num", fixed(k.makespan_hours)),
        el("td", "num", fixed(k.weighted_tardiness_hours)), el("td", "num", String(k.late_orders)),
        el("td", "num", fixed(k.setup_hours)));
      return row;
    });
    $("compare-rows").replaceChildren(...rows);
  }

  function slotText(s) {
    return s ? `${s.machine} ${when(s.start)}` : "—";
  }

  function renderMoves(job) {
    const moves = job.moves;
    $("moves-box").hidden = moves === null;
    if (moves === null) return;
    $("moves-summary").textContent = `${moves.length} lot${moves.length === 1 ? "" : "s"} changed · ${moves.filter((m) => m.released).length} of them released`;
    $("move-rows").replaceChildren(...moves.map((m) => {
      const row = el("tr");
      row.dataset.op = m.op;
      row.append(el("td", "mono", m.op), el("td", "num", String(m.lot)), el("td", "", m.released ? "yes" : ""),
        el("td", "mono", slotText(m.before)), el("td", "mono", slotText(m.after)), el("td", "num", fixed(m.shift_minutes, 0)));
      return row;
    }));
  }

  function renderDispatchChoice(job) {
    const select = $("dispatch-machine");
    const chosen = select.value;
    if ([...select.options].map((o) => o.value).join("\n") !== job.machines.join("\n")) {
      select.replaceChildren(...job.machines.map((m) => new Option(m, m)));
    }
    select.value = job.machines.includes(chosen) ? chosen : job.machines[0];
    renderDispatch();
  }

  function renderDispatch() {
    const job = state.drawn;
    if (!job || !job.result) return;
    const machine = $("dispatch-machine").value;
    const rows = job.result.schedule.machines[machine] || [];
    const util = job.result.kpis.utilisation[machine];
    $("dispatch-util").textContent = util === undefined ? "" : `utilisation ${Math.round(util * 100)} %`;
    $("dispatch-rows").replaceChildren(...rows.map((r) => {
      const row = el("tr");
      row.dataset.order = r.order;
      row.append(el("td", "num", String(r.position)), el("td", "", r.order), el("td", "", r.product),
        el("td", "", r.operation), el("td", "num", String(r.lot)), el("td", "num", String(r.quantity)),
        el("td", "mono", when(r.setup_start)), el("td", "mono", when(r.start)), el("td", "mono", when(r.end)),
        el("td", "num", fixed(r.setup_minutes, 0)), el("td", `mono${r.late ? " late" : ""}`, when(r.due)));
      return row;
    }));
  }

  async function download(kind) {
    const job = state.job;
    try {
      const response = await session.request(`${BASE}/${job.id}/export.${kind}`);
      const url = URL.createObjectURL(await response.blob());
      const link = el("a");
      link.href = url;
      link.download = `schedule-${job.name ? job.name.replace(/[^\w.-]+/g, "_") : job.id}.${kind}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      session.fail(err, "job-error");
    }
  }

  // -- rescheduling ----------------------------------------------------------------------

  function fillRescheduleForms(job) {
    if (state.formsFor === job.id) return;
    state.formsFor = job.id;
    const keep = (select, values) => {
      const chosen = select.value;
      select.replaceChildren(...values.map((v) => new Option(v, v)));
      if (values.includes(chosen)) select.value = chosen;
    };
    keep($("bd-machine"), job.machines);
    keep($("late-order"), job.orders.map((o) => o.id));
    keep($("rush-product"), [...new Set(job.orders.map((o) => o.product))]);
    if (!$("bd-start").value) {
      const start = new Date(ms(job.now) + 2 * 3600000);
      $("bd-start").value = toLocalInput(start);
      $("bd-end").value = toLocalInput(new Date(start.getTime() + 4 * 3600000));
      $("late-release").value = toLocalInput(new Date(ms(job.now) + 24 * 3600000));
      $("rush-due").value = toLocalInput(new Date(ms(job.now) + 24 * 3600000));
    }
  }

  async function reschedule(kind, params) {
    $("reschedule-error").textContent = "";
    try {
      await open(await post(`/${state.job.id}/reschedule`, { kind, params: params() }));
    } catch (err) {
      session.fail(err, "reschedule-error");
    }
  }

  function onRepair(form, kind, params) {
    $(form).addEventListener("submit", (event) => {
      event.preventDefault();
      reschedule(kind, params);
    });
  }

  // -- session ---------------------------------------------------------------------------

  async function showPage(me) {
    state.rank = RANK[me.role] ?? 0;
    const writer = may("engineer");
    $("solve").disabled = !writer;
    $("solve-hint").textContent = writer ? "" : "engineers solve; you can look at the plans";
    await refreshJobs();
    if (!$("doc").value) {
      try {
        await loadExample();
      } catch (err) {
        showProblems(err);
      }
    }
    window.factoryosSched.loaded = true;
  }

  function leave() {
    clearTimeout(state.timer);
    state.watching = null;
    state.job = null;
    state.drag = null;
    $("job-panel").hidden = true;
    $("reschedule-panel").hidden = true;
    $("job-rows").replaceChildren();
    state.drawn = null;
    state.formsFor = null;
    for (const chart of [state.gantt, state.progress]) if (chart) chart.dispose();
    state.gantt = state.progress = null;
    for (const node of document.querySelectorAll("#sched-view .error")) node.textContent = "";
    $("submit-error").replaceChildren();
    window.factoryosSched.loaded = false;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("solve-form").addEventListener("submit", solve);
    $("load-example").addEventListener("click", () => loadExample().catch(showProblems));
    $("doc-file").addEventListener("change", async () => {
      const file = $("doc-file").files[0];
      if (!file) return;
      $("doc").value = await file.text();
      if (!$("solve-name").value) $("solve-name").value = file.name.replace(/\.\w+$/, "");
      $("doc-file").value = "";
    });
    $("cancel").addEventListener("click", async () => {
      try {
        render(await post(`/${state.job.id}/cancel`));
      } catch (err) {
        session.fail(err, "job-error");
      }
    });
    $("export-csv").addEventListener("click", () => download("csv"));
    $("export-json").addEventListener("click", () => download("json"));
    $("dispatch-machine").addEventListener("change", renderDispatch);
    onRepair("breakdown-form", "breakdown", () => ({
      machine: $("bd-machine").value,
      start: fromLocalInput($("bd-start").value, "breakdown's start"),
      end: fromLocalInput($("bd-end").value, "repair's end"),
    }));
    onRepair("rush-form", "rush_order", () => ({
      order: {
        id: $("rush-id").value.trim(),
        product: $("rush-product").value,
        quantity: Number($("rush-qty").value),
        due: fromLocalInput($("rush-due").value, "rush order's due date"),
        weight: Number($("rush-weight").value),
      },
    }));
    onRepair("late-form", "late_material", () => ({
      order: $("late-order").value,
      release: fromLocalInput($("late-release").value, "material's arrival"),
    }));
    window.addEventListener("resize", () => {
      for (const chart of [state.gantt, state.progress]) if (chart) chart.resize();
    });
    Object.assign(window.factoryosSched, { pin, barPoint, gantt: () => state.gantt, progress: () => state.progress });
    session = FactoryOSSession.start({ view: "sched-view", onSignIn: showPage, onSignOut: leave });
  });
})();

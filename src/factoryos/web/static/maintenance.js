// FactoryOS maintenance page: per-equipment health (state, score trend against the threshold,
// the signals behind the score, RUL when a forecaster answers one), the model registry with
// promote / roll back for engineers, and work orders with their actions by status and role.
// Plain JS, no build step; every datum from /api/maintenance.
"use strict";

(() => {
  const POLL_MS = 5000;
  const MAX_POLL_DELAY_MS = 30000;
  const ORDER_PAGE = 100;
  const RANK = { viewer: 0, operator: 1, engineer: 2, admin: 3 };
  const LIVE = ["open", "assigned", "in_progress"];
  const BASE = "/api/maintenance";
  const GAP_MS = 60000;

  const $ = (id) => document.getElementById(id);
  const state = { rank: 0, codes: [], cards: new Map(), order: null };
  window.factoryosMaint = { loaded: false, cards: 0, polls: 0 }; // read by the browser test

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

  const short = (path) => path.split("/").pop();
  const localTime = (iso) => (iso ? new Date(iso).toLocaleString() : "");
  const num = (v) => (Math.abs(v) >= 1000 ? String(Math.round(v)) : String(Number(v.toPrecision(3))));
  const pct = (share) => `${Math.round(share * 100)} %`;
  const span = (a, b) => `${localTime(a)} – ${localTime(b)}`;
  const stateClass = (text) => `state-${text.replaceAll(" ", "-")}`;

  // "YYYY-MM-DDTHH:MM" in local time, as <input type=datetime-local> takes and gives it.
  function toLocalInput(date) {
    const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
    return shifted.toISOString().slice(0, 16);
  }

  // The input's local time as ISO 8601 UTC; null when empty.
  function fromLocalInput(value) {
    if (!value) return null;
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) throw new Error(`not a time: ${value}`);
    return date.toISOString();
  }

  // -- health cards --------------------------------------------------------------------

  function newCard(equipment) {
    const card = el("article", "health-card");
    card.dataset.equipment = equipment;
    const head = el("header", "card-head");
    const name = el("h3", "", short(equipment));
    name.title = equipment;
    head.append(name, el("span", "badge-state"));
    const body = el("div", "card-body");
    body.append(el("div", "figures"), el("div", "trend chart"));
    const side = el("div", "card-side");
    side.append(el("h4", "", "Why"), el("ul", "why"), el("div", "rul"), el("div", "model muted"));
    card.append(head, body, side);
    $("health-cards").append(card);
    const chart = echarts.init(card.querySelector(".trend"));
    const entry = { card, chart };
    state.cards.set(equipment, entry);
    return entry;
  }

  function figures(h) {
    const box = el("div", "figures");
    const score = el("div", "score", h.score === null ? "–" : h.score.toFixed(2));
    score.title = "anomaly score: 1.00 is the alarm threshold";
    box.append(score, el("div", "muted", "score · threshold 1.00"));
    if (h.time) box.append(el("div", "muted", `at ${localTime(h.time)}`));
    if (h.anomaly_since) box.append(el("div", "since", `anomaly since ${localTime(h.anomaly_since)}`));
    if (h.missing.length) box.append(el("div", "missing", `missing: ${h.missing.map(short).join(", ")}`));
    return box;
  }

  function why(h) {
    const list = el("ul", "why");
    if (!h.explanation.length) list.append(el("li", "muted", "no score yet"));
    for (const s of h.explanation) {
      const item = el("li");
      item.dataset.signal = s.signal;
      const name = el("span", "signal", short(s.signal));
      name.title = s.signal;
      const bar = el("span", "bar");
      const fill = el("span", "fill");
      fill.style.width = `${Math.max(0, Math.min(1, s.share)) * 100}%`;
      bar.append(fill);
      item.append(name, bar, el("span", "share", pct(s.share)));
      list.append(item);
    }
    return list;
  }

  // The health answer may carry `rul: {rul, lower, upper, unit}` (or null) from a forecaster.
  function rul(h) {
    const box = el("div", "rul");
    const r = h.rul;
    if (!r) {
      box.classList.add("none");
      box.textContent = "no RUL model";
      return box;
    }
    const unit = r.unit || "h";
    box.append(el("span", "rul-label", "RUL"), el("span", "rul-value", `${num(r.rul)} ${unit}`));
    box.append(el("span", "rul-interval", `interval ${num(r.lower)} – ${num(r.upper)} ${unit}`));
    return box;
  }

  function modelLine(h) {
    if (h.model_version === null) return el("div", "model muted", "no model in use");
    return el("div", "model muted", `model v${h.model_version} · ${h.family}`);
  }

  // Scores only come while the gate is open (the machine running): a pause longer than
  // GAP_MS is drawn as a break, not as a line across it.
  function trendPoints(trend) {
    const points = [];
    let last = null;
    for (const [iso, v] of trend) {
      const t = Date.parse(iso);
      if (last !== null && t - last > GAP_MS) points.push([last + 1, null]);
      points.push([t, v]);
      last = t;
    }
    return points;
  }

  function drawTrend(chart, h) {
    chart.setOption({
      animation: false,
      grid: { left: 36, right: 12, top: 10, bottom: 24 },
      tooltip: { trigger: "axis", valueFormatter: (v) => (v === null ? "–" : v.toFixed(2)) },
      xAxis: { type: "time", axisLabel: { hideOverlap: true } },
      // Up to the next half above the highest score, and always above the threshold.
      yAxis: { type: "value", min: 0, max: (v) => Math.max(1.5, Math.ceil(v.max * 1.05 * 2) / 2) },
      series: [{
        name: "score", type: "line", showSymbol: false, connectNulls: false,
        data: trendPoints(h.trend), lineStyle: { width: 1.5 },
        markLine: {
          symbol: "none", silent: true, label: { formatter: "threshold", position: "insideEndTop" },
          data: [{ yAxis: 1 }], lineStyle: { color: "#d64545", type: "dashed" },
        },
      }],
    }, true);
  }

  function renderCard(h) {
    const { card, chart } = state.cards.get(h.equipment) || newCard(h.equipment);
    card.dataset.state = h.state;
    card.className = `health-card ${stateClass(h.state)}`;
    const badge = card.querySelector(".badge-state");
    badge.textContent = h.state;
    card.querySelector(".figures").replaceWith(figures(h));
    card.querySelector(".why").replaceWith(why(h));
    card.querySelector(".rul").replaceWith(rul(h));
    card.querySelector(".model").replaceWith(modelLine(h));
    drawTrend(chart, h);
  }

  function renderHealth(list) {
    $("health-cards").querySelectorAll(":scope > p").forEach((p) => p.remove());
    const seen = new Set(list.map((h) => h.equipment));
    for (const [equipment, entry] of state.cards) {
      if (seen.has(equipment)) continue;
      entry.chart.dispose();
      entry.card.remove();
      state.cards.delete(equipment);
    }
    list.forEach(renderCard);
    const anomalies = list.filter((h) => h.state === "anomaly").length;
    $("health-summary").textContent = `${list.length} watched · ${anomalies} in anomaly`;
    if (!list.length) $("health-cards").replaceChildren(el("p", "muted", "No equipment is watched."));
    window.factoryosMaint.cards = list.length;
  }

  // -- model registry ------------------------------------------------------------------

  // The scalar metrics, briefly; the whole set in the tooltip.
  function metricsCell(metrics) {
    const cell = el("td", "metrics");
    const scalars = Object.entries(metrics).filter(([, v]) => ["number", "string", "boolean"].includes(typeof v));
    cell.textContent = scalars.slice(0, 4).map(([k, v]) => `${k} ${typeof v === "number" ? num(v) : v}`).join(" · ");
    cell.title = JSON.stringify(metrics, null, 1);
    return cell;
  }

  function actButton(label, cls, run, where) {
    const button = el("button", `act ${cls}`, label);
    button.type = "button";
    button.addEventListener("click", () => command(run, where, button));
    return button;
  }

  function modelActions(v) {
    const cell = el("td", "actions");
    if (!may("engineer")) return cell;
    if (v.status === "promoted") {
      cell.append(actButton("Roll back", "rollback", () => post("/models/rollback", { name: v.name }), "models-act-error"));
    } else {
      const body = { name: v.name, version: v.version };
      cell.append(actButton("Promote", "promote", () => post("/models/promote", body), "models-act-error"));
    }
    return cell;
  }

  function modelRow(v) {
    const row = el("tr", `model ${v.status}`);
    row.dataset.name = v.name;
    row.dataset.version = String(v.version);
    row.dataset.status = v.status;
    const name = el("td", "", `${v.kind} · ${short(v.name)}`);
    name.title = v.name;
    const status = el("td");
    status.append(el("span", `status ${v.status}`, v.status));
    const created = el("td", "mono", localTime(v.created));
    created.title = `by ${v.created_by}, code ${v.code_version}`;
    row.append(
      name, el("td", "num", `v${v.version}`), status, el("td", "", v.family), created,
      el("td", "mono", span(v.train_start, v.train_end)), el("td", "num", String(v.train_rows)),
      metricsCell(v.metrics), modelActions(v),
    );
    return row;
  }

  function renderModels(versions) {
    $("model-rows").replaceChildren(...versions.map(modelRow));
    if (!versions.length) {
      const row = el("tr");
      const cell = el("td", "muted", "No model registered yet.");
      cell.colSpan = 9;
      row.append(cell);
      $("model-rows").append(row);
    }
    $("models-hint").textContent = may("engineer") ? "" : "engineers promote and roll back";
  }

  // -- work orders ---------------------------------------------------------------------

  function orderQuery() {
    const chosen = $("order-filter").value;
    const statuses = chosen === "live" ? LIVE : chosen ? [chosen] : [];
    return [...statuses.map((s) => ["status", s]), ["limit", String(ORDER_PAGE)]];
  }

  function windowText(w) {
    return w ? span(w.start, w.end) : "";
  }

  function orderRow(o) {
    const row = el("tr", `order ${o.status}`);
    row.dataset.order = String(o.id);
    row.dataset.status = o.status;
    row.classList.toggle("selected", state.order !== null && state.order.id === o.id);
    const number = el("td");
    const open = el("button", "link", o.number);
    open.type = "button";
    open.addEventListener("click", () => showOrder(o.id));
    number.append(open);
    const equipment = el("td", "", short(o.equipment));
    equipment.title = o.equipment;
    const status = el("td");
    status.append(el("span", `status ${o.status}`, o.status.replace("_", " ")));
    const due = el("td", `mono${o.overdue ? " overdue" : ""}`, localTime(o.due));
    if (o.overdue) due.title = "overdue";
    row.append(number, equipment, el("td", "", o.title), status, due,
      el("td", "", o.assignee || ""), el("td", "mono", windowText(o.window)));
    return row;
  }

  function renderOrders(page) {
    $("order-rows").replaceChildren(...page.orders.map(orderRow));
    const overdue = page.orders.filter((o) => o.overdue).length;
    const more = page.next_before === null ? "" : " (newest shown)";
    const n = page.orders.length;
    $("orders-summary").textContent = `${n} order${n === 1 ? "" : "s"}${more} · ${overdue} overdue`;
  }

  function fact(list, term, value) {
    if (value === null || value === undefined || value === "") return;
    list.append(el("dt", "", term), el("dd", "", value));
  }

  function renderFacts(o) {
    const list = $("detail-facts");
    list.replaceChildren();
    fact(list, "Equipment", o.equipment);
    fact(list, "Source", o.model_version ? `${o.source} · ${o.model_version}` : o.source);
    fact(list, "Suggested action", o.suggested_action);
    fact(list, "Due", `${localTime(o.due)}${o.overdue ? " (overdue)" : ""}`);
    fact(list, "Assignee", o.assignee);
    fact(list, "Window", windowText(o.window));
    fact(list, "Failure code", o.failure_code);
    fact(list, o.status === "cancelled" ? "Reason" : "Cause", o.cause);
    fact(list, "Created", localTime(o.created));
    fact(list, "Updated", localTime(o.updated));
    fact(list, "Closed", localTime(o.closed));
  }

  function evidenceItem(e) {
    const item = el("li");
    item.append(el("span", "mono", localTime(e.time)), el("span", "summary", e.summary));
    if (Object.keys(e.data).length) item.append(el("pre", "data", JSON.stringify(e.data, null, 1)));
    return item;
  }

  function logRow(t) {
    const row = el("tr");
    row.dataset.action = t.action;
    const moved = t.from_status && t.from_status !== t.to_status ? `${t.from_status} → ${t.to_status}` : t.to_status;
    row.append(el("td", "mono", localTime(t.time)), el("td", "", t.user), el("td", "", t.action),
      el("td", "", moved.replaceAll("_", " ")), el("td", "", t.comment));
    return row;
  }

  // Forms by status and role (docs/maintenance.md, "Work orders"); they start empty.
  function showForms(o) {
    const live = LIVE.includes(o.status);
    $("assign-form").hidden = !(may("engineer") && ["open", "assigned"].includes(o.status));
    $("start-form").hidden = !(may("operator") && o.status === "assigned");
    $("close-form").hidden = !(may("engineer") && o.status === "in_progress");
    $("cancel-form").hidden = !(may("engineer") && live);
    for (const form of document.querySelectorAll(".act-form")) {
      form.reset();
      form.querySelector("button").disabled = false;
    }
    $("assign-who").value = o.assignee || "";
    const start = o.window ? new Date(o.window.start) : nextHour();
    const end = o.window ? new Date(o.window.end) : new Date(start.getTime() + 2 * 3600000);
    $("assign-start").value = toLocalInput(start);
    $("assign-end").value = toLocalInput(end);
  }

  function nextHour() {
    const date = new Date(Date.now() + 3600000);
    date.setMinutes(0, 0, 0);
    return date;
  }

  function renderDetail(o) {
    state.order = o;
    $("order-detail").hidden = false;
    $("order-detail").dataset.order = String(o.id);
    $("order-detail").dataset.status = o.status;
    $("detail-title").textContent = `${o.number} · ${o.title}`;
    $("detail-status").textContent = o.status.replace("_", " ");
    $("detail-status").className = `status ${o.status}`;
    renderFacts(o);
    showForms(o);
    $("detail-evidence").replaceChildren(...o.evidence.map(evidenceItem));
    if (!o.evidence.length) $("detail-evidence").append(el("li", "muted", "none"));
    $("detail-log").replaceChildren(...o.log.map(logRow));
    for (const row of $("order-rows").children) row.classList.toggle("selected", row.dataset.order === String(o.id));
  }

  async function showOrder(id) {
    $("detail-error").textContent = "";
    try {
      renderDetail(await get(`/workorders/${id}`));
    } catch (err) {
      session.fail(err, "orders-error");
    }
  }

  // -- commands ------------------------------------------------------------------------

  // Run a change; its error is shown in `where` (which polling leaves alone), never
  // swallowed; after a change the open order and every list are read again.
  async function command(run, where, button) {
    $(where).textContent = "";
    if (button) button.disabled = true;
    try {
      await run();
    } catch (err) {
      if (button) button.disabled = false;
      return session.fail(err, where);
    }
    if (state.order !== null && !$("order-detail").hidden) await showOrder(state.order.id);
    await poll();
  }

  function orderCommand(action, body) {
    const o = state.order;
    return post(`/workorders/${o.id}/${action}`, { version: o.version, ...body });
  }

  function assignBody() {
    const start = fromLocalInput($("assign-start").value);
    const end = fromLocalInput($("assign-end").value);
    if ((start === null) !== (end === null)) throw new Error("Give the window's start and end, or neither.");
    const body = { assignee: $("assign-who").value.trim(), comment: $("assign-comment").value.trim() };
    if (!body.assignee) throw new Error("Give the assignee.");
    if (start !== null) Object.assign(body, { window_start: start, window_end: end });
    return body;
  }

  function closeBody() {
    const body = { failure_code: $("close-code").value, cause: $("close-cause").value.trim() };
    if (!body.failure_code) throw new Error("Choose a failure code.");
    if (!body.cause) throw new Error("Give the cause.");
    return { ...body, comment: $("close-comment").value.trim() };
  }

  function cancelBody() {
    const reason = $("cancel-reason").value.trim();
    if (!reason) throw new Error("Give the reason to cancel.");
    return { reason };
  }

  function onSubmit(form, action, body) {
    $(form).addEventListener("submit", (event) => {
      event.preventDefault();
      const button = $(form).querySelector("button");
      command(() => orderCommand(action, body()), "detail-error", button);
    });
  }

  // -- loading -------------------------------------------------------------------------

  // Each part reports its own error; one failing does not blank the others.
  async function load(path, params, render, where) {
    try {
      render(await get(path, params));
      $(where).textContent = "";
      return true;
    } catch (err) {
      if (err instanceof session.AuthError) throw err;
      $(where).textContent = err.message;
      return false;
    }
  }

  async function refresh() {
    const done = await Promise.all([
      load("/health", undefined, renderHealth, "health-error"),
      load("/models", undefined, renderModels, "models-error"),
      load("/workorders", orderQuery(), renderOrders, "orders-error"),
    ]);
    return done.every(Boolean);
  }

  // Polling: health changes with every scored row, orders open on anomalies.
  const live = FactoryOSSession.poller(() => session, refresh, {
    everyMs: POLL_MS, maxMs: MAX_POLL_DELAY_MS, doublings: 3,
    onPoll: () => window.factoryosMaint.polls++,
  });
  const poll = () => live.poll();

  async function loadCodes() {
    try {
      state.codes = await get("/failure-codes");
    } catch (err) {
      session.fail(err, "orders-error");
    }
    const options = state.codes.map((c) => new Option(`${c.code} · ${c.text}`, c.code));
    $("close-code").replaceChildren(new Option("— failure code —", ""), ...options);
  }

  async function showPage(me) {
    state.rank = RANK[me.role] ?? 0;
    await loadCodes();
    await poll();
    window.factoryosMaint.loaded = true;
  }

  // Nothing of the last caller stays in the page for the next one.
  function leave() {
    live.stop();
    state.order = null;
    $("order-detail").hidden = true;
    state.cards.forEach((c) => c.chart.dispose());
    state.cards.clear();
    for (const id of ["health-cards", "model-rows", "order-rows"]) $(id).replaceChildren();
    for (const node of document.querySelectorAll("#maint-view .error")) node.textContent = "";
    window.factoryosMaint.loaded = false;
  }

  // -- wiring --------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    onSubmit("assign-form", "assign", assignBody);
    onSubmit("start-form", "start", () => ({ comment: $("start-comment").value.trim() }));
    onSubmit("close-form", "close", closeBody);
    onSubmit("cancel-form", "cancel", cancelBody);
    $("order-filter").addEventListener("change", () => poll());
    $("detail-close").addEventListener("click", () => {
      state.order = null;
      $("order-detail").hidden = true;
    });
    window.addEventListener("resize", () => state.cards.forEach((c) => c.chart.resize()));
    session = FactoryOSSession.start({ view: "maint-view", onSignIn: showPage, onSignOut: leave });
  });
})();

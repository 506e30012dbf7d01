// FactoryOS traceability page: the genealogy of an identifier as a graph (root, then one
// column per level) with its table, and the EPCIS events that name it, page by page through
// the query API's Link header. Plain JS, no build step; every datum from /api.
"use strict";

(() => {
  const PER_PAGE = 50;
  const $ = (id) => document.getElementById(id);
  const state = { chart: null, next: null, identifier: "" };
  window.factoryosTrace = { traces: 0, nodes: 0, edges: 0, events: 0 }; // read by the browser test

  let session = null;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  const localTime = (iso) => (iso ? new Date(iso).toLocaleString() : "");
  const tail = (uri) => (uri ? uri.split(/[:/]/).slice(-2).join(":") : "");

  // -- genealogy -----------------------------------------------------------------------

  // Nodes in columns by level, spread down each column; edges from source to target.
  function graphOption(trace) {
    const columns = new Map();
    for (const [id, level] of Object.entries(trace.levels)) {
      if (!columns.has(level)) columns.set(level, []);
      columns.get(level).push(id);
    }
    const nodes = [];
    for (const [level, ids] of columns) {
      ids.sort().forEach((id, row) => {
        nodes.push({
          name: id, x: level * 220, y: (row - (ids.length - 1) / 2) * 48,
          value: level, symbolSize: level === 0 ? 22 : 14,
          label: { show: true, formatter: tail(id), position: "bottom", fontSize: 10 },
          itemStyle: { color: level === 0 ? "#c0392b" : "#2e6da4" },
        });
      });
    }
    const edges = trace.steps.map((s) => ({
      source: s.source, target: s.target, value: `${s.event_type} · ${localTime(s.event_time)}`,
    }));
    return {
      animation: false, // a trace is read, not watched: draw it at once
      tooltip: {
        formatter: (p) => (p.dataType === "edge" ? `${p.data.source} → ${p.data.target}<br>${p.data.value}`
          : `${p.name}<br>level ${p.value}`),
      },
      series: [{
        type: "graph", layout: "none", roam: true, data: nodes, links: edges,
        edgeSymbol: ["none", "arrow"], edgeSymbolSize: 7, lineStyle: { color: "#8a98a8", curveness: 0.1 },
      }],
    };
  }

  function showLevels(trace) {
    const reachedBy = new Map(trace.steps.map((s) => [s.target, s]));
    const rows = Object.entries(trace.levels).sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
    $("level-rows").replaceChildren(...rows.map(([id, level]) => {
      const tr = el("tr");
      const step = reachedBy.get(id);
      const via = step ? `${step.event_type} ${localTime(step.event_time)} from ${tail(step.source)}` : "(root)";
      tr.append(el("td", "num", level), el("td", "", id), el("td", "muted", via));
      return tr;
    }));
  }

  async function runTrace(event) {
    if (event) event.preventDefault();
    $("trace-error").textContent = "";
    const identifier = $("trace-id").value.trim();
    if (!identifier) { $("trace-error").textContent = "Enter an identifier."; return; }
    const params = { id: identifier, direction: $("trace-direction").value, depth: $("trace-depth").value };
    try {
      const trace = await session.json("/api/trace/genealogy", { params });
      const found = Object.keys(trace.levels).length - 1;
      $("trace-summary").textContent = `${found} identifiers ${trace.direction === "backward" ? "went into" : "came from"} `
        + `${identifier}${trace.truncated ? " (depth reached: there may be more)" : ""}`;
      if (!state.chart) state.chart = echarts.init($("trace-graph"));
      state.chart.setOption(graphOption(trace), true);
      showLevels(trace);
      Object.assign(window.factoryosTrace, { nodes: found + 1, edges: trace.steps.length });
      window.factoryosTrace.traces += 1;
      state.identifier = identifier;
      await loadEvents(true);
    } catch (err) {
      session.fail(err, "trace-error");
    }
  }

  // -- recall --------------------------------------------------------------------------

  function row(cells) {
    const tr = el("tr");
    tr.append(...cells.map(([text, cls]) => el("td", cls || "", text)));
    return tr;
  }

  async function runRecall() {
    $("trace-error").textContent = "";
    const identifier = $("trace-id").value.trim();
    if (!identifier) { $("trace-error").textContent = "Enter an identifier."; return; }
    try {
      const scope = await session.json("/api/trace/recall", { params: { id: identifier } });
      $("recall-summary").textContent = `${scope.units.length} units, ${scope.lots.length} lots, `
        + `${scope.containers.length} cases/pallets, ${scope.shipments.length} shipments, `
        + `${scope.customers.length} customers${scope.truncated ? " (depth reached: there may be more)" : ""}`;
      $("customer-rows").replaceChildren(...scope.customers.map((c) => row([
        [c.party], [c.shipTo.join(" ")], [c.units, "num"], [c.bizTransactions.join(" ")]])));
      const places = Object.entries(scope.locations).sort((a, b) => a[0].localeCompare(b[0]));
      $("location-rows").replaceChildren(...places.map(([id, where]) => row([
        [id], [where.location || "(unknown)"], [where.disposition || ""], [localTime(where.eventTime)]])));
      $("recall-panel").hidden = false;
      window.factoryosTrace.recalls = (window.factoryosTrace.recalls || 0) + 1;
    } catch (err) {
      session.fail(err, "trace-error");
    }
  }

  // -- events --------------------------------------------------------------------------

  function identifiersOf(e) {
    const lists = [e.epcList, e.childEPCs, e.inputEPCList, e.outputEPCList, e.parentID ? [e.parentID] : []];
    const classes = [e.quantityList, e.childQuantityList, e.inputQuantityList, e.outputQuantityList]
      .flatMap((q) => (q || []).map((x) => x.epcClass));
    return [...lists.flatMap((l) => l || []), ...classes];
  }

  function eventRow(e) {
    const tr = el("tr");
    const ids = identifiersOf(e);
    const cells = [localTime(e.eventTime), e.type, e.action || "", e.bizStep || "", e.disposition || "",
      (e.readPoint || {}).id || "", (e.bizLocation || {}).id || "",
      ids.slice(0, 3).join(" ") + (ids.length > 3 ? ` … (+${ids.length - 3})` : "")];
    tr.append(...cells.map((text) => el("td", "", text)));
    tr.addEventListener("click", () => {
      $("event-json").textContent = JSON.stringify(e, null, 2);
      $("event-json").hidden = false;
    });
    return tr;
  }

  async function loadEvents(fresh) {
    $("events-error").textContent = "";
    let url = state.next;
    if (fresh) {
      const params = new URLSearchParams({ perPage: PER_PAGE });
      if (state.identifier) params.set("MATCH_anyEPC", state.identifier);
      if ($("event-type").value) params.set("eventType", $("event-type").value);
      url = `/api/epcis/events?${params}`;
      $("event-rows").replaceChildren();
      $("event-json").hidden = true;
      window.factoryosTrace.events = 0;
    }
    try {
      const response = await session.request(url);
      const link = response.headers.get("Link");
      state.next = link ? link.slice(link.indexOf("<") + 1, link.indexOf(">")) : null;
      const events = (await response.json()).epcisBody.queryResults.resultsBody.eventList;
      $("event-rows").append(...events.map(eventRow));
      window.factoryosTrace.events += events.length;
      $("events-more").hidden = !state.next;
      const what = state.identifier ? `naming ${state.identifier}` : "all";
      $("events-summary").textContent = `${window.factoryosTrace.events} events shown (${what})`;
    } catch (err) {
      session.fail(err, "events-error");
    }
  }

  function leave() {
    if (state.chart) state.chart.dispose();
    Object.assign(state, { chart: null, next: null, identifier: "" });
    for (const id of ["level-rows", "event-rows", "customer-rows", "location-rows"]) $(id).replaceChildren();
    $("recall-panel").hidden = true;
    for (const node of document.querySelectorAll("#trace-view .error")) node.textContent = "";
    $("trace-summary").textContent = "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("trace-form").addEventListener("submit", runTrace);
    $("events-more").addEventListener("click", () => loadEvents(false));
    $("recall-button").addEventListener("click", runRecall);
    $("event-type").addEventListener("change", () => loadEvents(true));
    window.addEventListener("resize", () => state.chart && state.chart.resize());
    const start = new URLSearchParams(window.location.search).get("id");
    session = FactoryOSSession.start({
      view: "trace-view",
      onSignIn: async () => {
        if (start) { $("trace-id").value = start; await runTrace(); } else { await loadEvents(true); }
      },
      onSignOut: leave,
    });
  });
})();

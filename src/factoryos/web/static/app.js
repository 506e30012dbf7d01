// FactoryOS web UI: sign in with an API key, browse the asset tree, trend a tag live.
// Plain JS, no build step. Every datum comes from /api with the key; the page holds none.
"use strict";

(() => {
  const WINDOW_MS = 60 * 60 * 1000; // the chart shows the last hour
  const MAX_POINTS = 20000; // bound the browser's memory on fast tags
  const MAX_RETRY_DELAY_MS = 10000;
  const QUALITY_COLOUR = { good: "#1f9d55", uncertain: "#d69e2e", bad: "#d64545" };
  const LEVEL_LABEL = { site: "site", area: "area", line: "line", cell: "cell", equipment: "eq" };

  const $ = (id) => document.getElementById(id);
  const state = {
    tag: null, points: [], chart: null, ws: null, retry: 0, timer: null, drawPending: false,
  };
  // Read by the browser test and handy in the console.
  window.factoryos = { points: 0, tag: null };

  // -- sign in / out: the page's part (session.js does the rest) --------------------------

  let session = null;

  async function showPage() {
    renderTree(await session.json("/api/assets"));
  }

  // -- asset tree ----------------------------------------------------------------------

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function assetNode(asset) {
    const details = el("details");
    details.open = asset.level !== "equipment";
    const summary = el("summary");
    summary.append(el("span", "level", LEVEL_LABEL[asset.level] || asset.level), asset.name);
    summary.title = asset.description || asset.path;
    details.append(summary);
    for (const child of asset.children) details.append(assetNode(child));
    for (const tag of asset.tags) details.append(tagButton(tag));
    return details;
  }

  function tagButton(tag) {
    const button = el("button", "tag");
    button.type = "button";
    button.dataset.path = tag.path;
    button.title = tag.description || tag.path;
    button.append(el("span", "", tag.name), el("span", "unit", tag.unit));
    button.addEventListener("click", () => selectTag(tag, button));
    return button;
  }

  function renderTree(sites) {
    const tree = $("tree");
    tree.replaceChildren(...sites.map(assetNode));
    if (!sites.length) tree.append(el("p", "muted", "No sites in this tenant yet."));
  }

  function filterTree(text) {
    const needle = text.trim().toLowerCase();
    for (const button of document.querySelectorAll("#tree .tag")) {
      button.hidden = needle !== "" && !button.dataset.path.includes(needle);
    }
    if (needle) for (const d of document.querySelectorAll("#tree details")) d.open = true;
  }

  // -- trend -----------------------------------------------------------------------------

  function chart() {
    if (!state.chart) {
      state.chart = echarts.init($("chart"), null, { renderer: "canvas" });
      // The chart's box changes with the window and with the header above it.
      new ResizeObserver(() => state.chart.resize()).observe($("chart"));
    }
    return state.chart;
  }

  // The full option once per tag; live updates only replace the series data.
  function resetChart() {
    chart().setOption({
      animation: false,
      grid: { left: 60, right: 24, top: 28, bottom: 56 },
      tooltip: { trigger: "axis", valueFormatter: (v) => (v === null ? "no value" : `${v} ${state.tag.unit}`) },
      xAxis: { type: "time" },
      yAxis: { type: "value", name: state.tag.unit, scale: true },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 10 }],
      series: [{
        name: state.tag.name, type: "line", showSymbol: false, sampling: "lttb",
        lineStyle: { width: 1.5, color: "#2f6fde" }, itemStyle: { color: "#2f6fde" },
        data: [],
      }, {
        // Samples that are not good, coloured by quality; bad ones have no value (a gap).
        name: "quality", type: "scatter", symbolSize: 6, z: 3,
        itemStyle: { color: (p) => QUALITY_COLOUR[p.value[2]] },
        tooltip: { show: false },
        data: [],
      }],
    }, { notMerge: true });
    drawChart();
  }

  function drawChart() {
    state.drawPending = false;
    const points = state.points;
    const flagged = points.filter((p) => p.q !== "good" && p.v !== null);
    chart().setOption({
      series: [{ data: points.map((p) => [p.t, p.v]) }, { data: flagged.map((p) => [p.t, p.v, p.q]) }],
    });
    $("chart").dataset.points = String(points.length);
    $("point-count").textContent = String(points.length);
    window.factoryos.points = points.length;
  }

  function showLast(point) {
    $("last-value").textContent = point.v === null ? "—" : formatValue(point.v);
    const quality = $("last-quality");
    quality.textContent = point.q;
    quality.className = `quality ${point.q}`;
    $("last-ts").textContent = new Date(point.t).toISOString();
  }

  function formatValue(v) {
    return Math.abs(v) >= 1000 ? String(Math.round(v * 100) / 100) : String(Number(v.toPrecision(6)));
  }

  function addPoints(points) {
    if (!points.length) return;
    state.points.push(...points);
    const oldest = Date.now() - WINDOW_MS;
    let drop = 0;
    while (drop < state.points.length && state.points[drop].t < oldest) drop++;
    drop = Math.max(drop, state.points.length - MAX_POINTS);
    if (drop > 0) state.points.splice(0, drop);
    showLast(state.points[state.points.length - 1]);
    if (!state.drawPending) {
      state.drawPending = true;
      requestAnimationFrame(drawChart);
    }
  }

  async function selectTag(tag, button) {
    for (const b of document.querySelectorAll("#tree .tag.selected")) b.classList.remove("selected");
    button.classList.add("selected");
    closeLive();
    state.tag = tag;
    state.points = [];
    window.factoryos.tag = tag.path;
    $("empty").hidden = true;
    $("tag-view").hidden = false;
    $("tag-path").textContent = tag.path;
    $("tag-desc").textContent = [tag.description, tag.data_type].filter(Boolean).join(" · ");
    $("last-unit").textContent = tag.unit;
    $("last-value").textContent = "—";
    $("last-quality").textContent = "no data";
    $("last-quality").className = "quality";
    $("last-ts").textContent = "";
    $("tag-error").textContent = "";
    resetChart();
    try {
      const end = new Date();
      const start = new Date(end.getTime() - WINDOW_MS);
      const q = new URLSearchParams({ tag: tag.path, start: start.toISOString(), end: end.toISOString() });
      const raw = await session.json(`/api/history/raw?${q}`);
      if (state.tag !== tag) return;
      addPoints(raw.ts.map((ts, i) => ({ t: Date.parse(ts), v: raw.value[i], q: raw.quality[i] })));
    } catch (err) {
      session.fail(err, "tag-error");
    }
    if (state.tag === tag) openLive(tag);
  }

  // -- live stream -----------------------------------------------------------------------

  function setLive(text, cls) {
    const status = $("live-status");
    status.textContent = text;
    status.className = `live-status ${cls}`;
  }

  function openLive(tag) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/live`);
    state.ws = ws;
    setLive("connecting", "");
    ws.onopen = () => ws.send(JSON.stringify({ token: session.key(), tags: [tag.path] }));
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (!Array.isArray(message)) {
        state.retry = 0;
        setLive("live", "live");
        return;
      }
      addPoints(message.filter((p) => p.tag === tag.path)
        .map((p) => ({ t: Date.parse(p.ts), v: p.value, q: p.quality })));
    };
    ws.onclose = (event) => {
      if (state.ws !== ws) return; // replaced by a newer stream
      state.ws = null;
      if (event.code === 4401) return session.signOut("The API key was rejected.");
      if (event.code === 4404 || event.code === 4400) {
        setLive("stopped", "down");
        $("tag-error").textContent = event.reason;
        return;
      }
      const delay = Math.min(MAX_RETRY_DELAY_MS, 500 * 2 ** state.retry++);
      setLive(`reconnecting in ${Math.round(delay / 1000)} s`, "down");
      state.timer = setTimeout(() => state.tag === tag && openLive(tag), delay);
    };
  }

  function closeLive() {
    clearTimeout(state.timer);
    const ws = state.ws;
    state.ws = null;
    state.retry = 0;
    if (ws) ws.close(1000, "tag changed");
  }

  // -- wiring ----------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("tree-filter").addEventListener("input", (event) => filterTree(event.target.value));
    session = FactoryOSSession.start({ view: "app-view", onSignIn: showPage, onSignOut: closeLive });
  });
})();

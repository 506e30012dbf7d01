// FactoryOS energy page: a place's energy, idle energy and peak demand, its load profile,
// the energy of every metered place, the compressed-air station's audit, and the carbon
// reports (issue a month, read a version with every line and factor, download its PDF).
// Plain JS, no build step; every datum from /api/energy.
"use strict";

(() => {
  const DAY_MS = 86400000;
  const RANK = { viewer: 0, operator: 1, engineer: 2, admin: 3 };
  const $ = (id) => document.getElementById(id);
  const state = { setup: null, charts: {}, rank: 0 };
  // Read by the browser test and handy in the console.
  window.factoryosEnergy = {
    loaded: false, kwh: null, profilePoints: 0, places: 0, compressors: 0, versions: 0, report: null,
    chart: (id) => state.charts[id] || null,
  };

  let session = null;
  const json = (path, params) => session.json(path, { params });
  const num = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  const short = (path) => path.split("/").pop();
  const tonnes = (kg) => num(kg / 1000, 3);

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function row(body, cells, numeric = []) {
    const tr = body.insertRow();
    cells.forEach((text, i) => {
      const td = tr.insertCell();
      if (text instanceof Node) td.append(text);
      else td.textContent = text;
      if (numeric.includes(i)) td.className = "num";
    });
    return tr;
  }

  function chart(id) {
    if (!state.charts[id]) state.charts[id] = echarts.init($(id));
    return state.charts[id];
  }

  function span() {
    const end = new Date();
    const start = new Date(end.getTime() - Number($("range").value) * DAY_MS);
    return { start: start.toISOString(), end: end.toISOString() };
  }

  function tile(id, value, note) {
    $(id).querySelector(".value").textContent = value;
    $(id).querySelector(".target").textContent = note || "";
  }

  // -- energy ----------------------------------------------------------------------------

  function profileChart(p) {
    const data = p.starts.map((t, i) => [Date.parse(t), p.coverage[i] > 0 ? p.kw[i] : null]);
    chart("chart-profile").setOption({
      animation: false,
      grid: { left: 56, right: 16, top: 16, bottom: 40 },
      tooltip: { trigger: "axis", valueFormatter: (v) => (v === null ? "not measured" : `${num(v)} kW`) },
      xAxis: { type: "time" },
      yAxis: { type: "value", name: "kW" },
      series: [{
        name: "average kW", type: "line", step: "end", showSymbol: false, data,
        markPoint: p.peak ? { data: [{ name: "peak", coord: [Date.parse(p.peak.start), p.peak.kw], value: num(p.peak.kw, 0) }] } : undefined,
      }],
    }, true);
    window.factoryosEnergy.profilePoints = data.length;
  }

  async function placesChart(range) {
    const answers = await Promise.all(state.setup.places.map((path) => json("/api/energy/place", { path, ...range })));
    chart("chart-places").setOption({
      animation: false,
      grid: { left: 56, right: 16, top: 16, bottom: 70 },
      tooltip: { trigger: "axis", valueFormatter: (v) => `${num(v)} kWh` },
      xAxis: { type: "category", data: answers.map((a) => short(a.place)), axisLabel: { rotate: 30 } },
      yAxis: { type: "value", name: "kWh" },
      series: [{ name: "kWh", type: "bar", data: answers.map((a) => +a.kwh.toFixed(2)) }],
    }, true);
    window.factoryosEnergy.places = answers.length;
  }

  async function airTable(range) {
    const body = $("air-rows");
    const advice = $("air-advice");
    body.replaceChildren();
    advice.replaceChildren();
    if (!state.setup.compressors.length) {
      tile("tile-air", "–", "no station configured");
      return;
    }
    const air = await json("/api/energy/air", range);
    for (const c of air.compressors) {
      const loaded = c.loaded_h + c.unloaded_h > 0 ? `${num((100 * c.loaded_h) / (c.loaded_h + c.unloaded_h))} %` : "–";
      row(body, [short(c.name), num(c.kwh), num(c.air_m3, 0), num(c.specific_power_kw_per_m3_min, 2), loaded, num(c.unloaded_kwh)], [1, 2, 3, 4, 5]);
    }
    tile("tile-air", `${num(air.specific_power_kw_per_m3_min, 2)}`, "kW per m³/min, station");
    const sp = air.setpoint;
    const notes = [];
    if (air.leakage) notes.push(`Leakage ${num(air.leakage.m3_min, 2)} m³/min at ${num(air.leakage.pressure_bar)} bar (${num(100 * (air.leakage.share || 0))} % of the air).`);
    notes.push(sp.reduce_bar > 0
      ? `Lower the setpoint by ${num(sp.reduce_bar)} bar to ${num(sp.target_bar)} bar: about ${num(sp.saving_kwh)} kWh saved in this range.`
      : `Setpoint: ${sp.note || "no reduction advised"}.`);
    for (const r of air.run_on) notes.push(`${short(r.name)}: a run-on timer of ${r.delay_s} s saves about ${num(r.saving_kwh)} kWh (${num(r.starts_per_h)} starts/h).`);
    advice.replaceChildren(...notes.map((n) => el("li", n)));
    window.factoryosEnergy.compressors = air.compressors.length;
  }

  async function load() {
    $("energy-error").textContent = "";
    const path = $("place").value;
    const range = span();
    try {
      const [place, profile] = await Promise.all([
        json("/api/energy/place", { path, ...range }),
        json("/api/energy/profile", { path, ...range }),
      ]);
      $("meters").textContent = `meters: ${place.meters.join(", ")}`;
      tile("tile-kwh", `${num(place.kwh)} kWh`, `${num(100 * place.coverage)} % of the range measured`);
      tile("tile-idle", place.idle_kwh === null ? "–" : `${num(place.idle_kwh)} kWh`, place.idle_kwh === null ? "an OEE equipment only" : "used while not producing");
      tile("tile-peak", profile.peak ? `${num(profile.peak.kw)} kW` : "–", profile.peak ? new Date(profile.peak.start).toLocaleString() : "");
      $("interval").textContent = `(${profile.interval_s / 60}-min averages)`;
      profileChart(profile);
      await Promise.all([placesChart(range), airTable(range)]);
      window.factoryosEnergy.kwh = place.kwh;
      window.factoryosEnergy.loaded = true;
    } catch (err) {
      session.fail(err, "energy-error");
    }
  }

  // -- carbon reports --------------------------------------------------------------------

  async function download(v) {
    try {
      const path = `/api/energy/carbon/reports/${v.period}/${v.version}/pdf`;
      await session.download(path, { fallback: `ghg-inventory_${v.period}_v${v.version}.pdf` });
    } catch (err) {
      session.fail(err, "carbon-error");
    }
  }

  function button(text, cls, onClick) {
    const b = el("button", text, cls);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  async function loadVersions() {
    let versions;
    try {
      versions = await json("/api/energy/carbon/reports");
    } catch (err) {
      $("carbon-panel").hidden = true; // no carbon: part in the energy section
      return;
    }
    const body = $("carbon-rows");
    body.replaceChildren();
    for (const v of versions) {
      const tools = el("span");
      tools.append(button("View", "view", () => showReport(v.period, v.version)), " ", button("PDF", "pdf", () => download(v)));
      const tr = row(body, [v.period, String(v.version), new Date(v.created).toLocaleString(), v.created_by, v.factor_digest.slice(0, 12), tools], [1]);
      tr.dataset.period = v.period;
      tr.dataset.version = v.version;
    }
    window.factoryosEnergy.versions = versions.length;
  }

  async function issue() {
    $("carbon-error").textContent = "";
    const period = $("carbon-period").value;
    try {
      const issued = await session.json("/api/energy/carbon/reports", { body: { period } });
      await loadVersions();
      await showReport(issued.period, issued.version);
      $("carbon-error").textContent = issued.new ? "" : `Unchanged since version ${issued.version}: nothing new issued.`;
    } catch (err) {
      session.fail(err, "carbon-error");
    }
  }

  function scopesTable(totals) {
    const body = $("report-scopes").querySelector("tbody");
    body.replaceChildren();
    for (const s of ["1", "2", "3"]) row(body, [`Scope ${s}`, tonnes(totals.location.scopes[s]), tonnes(totals.market.scopes[s])], [1, 2]);
    row(body, ["Total", tonnes(totals.location.total), tonnes(totals.market.total)], [1, 2]).className = "total";
  }

  function categoriesChart(doc) {
    const keys = Object.keys(doc.categories).sort();
    chart("chart-categories").setOption({
      animation: false,
      legend: { top: 0 },
      grid: { left: 56, right: 16, top: 30, bottom: 40 },
      tooltip: { trigger: "axis", valueFormatter: (v) => `${num(v, 3)} t CO2e` },
      xAxis: { type: "category", data: keys.map((k) => `Cat. ${k}`) },
      yAxis: { type: "value", name: "t CO2e" },
      series: ["location", "market"].map((m) => ({
        name: `${m}-based`, type: "bar", data: keys.map((k) => doc.totals[m].categories[k] / 1000),
      })),
    }, true);
  }

  function linesTable(doc) {
    const body = $("report-lines").querySelector("tbody");
    body.replaceChildren();
    for (const line of doc.lines) {
      const factors = line.factors.map((f) => `${f.id} = ${f.value} ${f.unit} (${f.source}, ${f.year})`).join(" × ") || "renewable attributes: 0";
      row(body, [line.activity, String(line.scope), line.method, line.gas, `${num(line.quantity, 3)} ${line.unit}`, factors, num(line.kg_co2e, 3), [line.evidence, line.note].filter(Boolean).join("; ")], [1, 4, 6]);
    }
  }

  function electricityChart(el_) {
    chart("chart-electricity").setOption({
      animation: false,
      grid: { left: 56, right: 56, top: 16, bottom: 40 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: el_.parts.map((p) => p.label) },
      yAxis: [{ type: "value", name: "kWh" }, { type: "value", name: "measured", min: 0, max: 100, axisLabel: { formatter: "{value} %" } }],
      series: [
        { name: "kWh", type: "bar", data: el_.parts.map((p) => +p.kwh.toFixed(2)) },
        { name: "measured %", type: "line", yAxisIndex: 1, data: el_.parts.map((p) => +(100 * p.coverage).toFixed(1)) },
      ],
    }, true);
  }

  function facts(doc, version) {
    const list = $("report-facts");
    list.replaceChildren();
    const fs = doc.factor_set;
    const items = [
      ["Organization", doc.organization], ["Boundary", doc.boundary], ["Site", doc.site],
      ["Period", `${doc.start} – ${doc.end} (${doc.timezone})`], ["Factor set", `${fs.library} ${fs.version}`],
      ["Factor set SHA-256", fs.digest], ["GWP values", doc.gwp_set],
      ["Electricity meters", doc.electricity.meters.map((m) => `${m.name} (${m.tag})`).join(", ")],
      ["Issued", `${new Date(version.created).toLocaleString()} by ${version.created_by}`],
      ["Report SHA-256", version.content_sha256],
    ];
    for (const [term, value] of items) list.append(el("dt", term), el("dd", value));
  }

  async function showReport(period, version) {
    try {
      const found = await json(`/api/energy/carbon/reports/${period}/${version}`);
      const doc = found.report;
      $("carbon-report").hidden = false;
      $("report-title").textContent = `GHG inventory ${doc.period} (version ${found.version})`;
      $("report-subtitle").textContent = `${doc.organization} · site ${doc.site} · ISO 14064-1 / GHG Protocol`;
      $("report-note").textContent = doc.electricity.note || "";
      scopesTable(doc.totals);
      categoriesChart(doc);
      linesTable(doc);
      electricityChart(doc.electricity);
      facts(doc, found);
      window.factoryosEnergy.report = { period: doc.period, version: found.version, location: doc.totals.location.total, market: doc.totals.market.total };
    } catch (err) {
      session.fail(err, "carbon-error");
    }
  }

  // -- the page --------------------------------------------------------------------------

  async function showPage(me) {
    state.rank = RANK[me.role];
    $("issue-tools").hidden = state.rank < RANK.engineer;
    $("carbon-period").value = new Date().toISOString().slice(0, 7);
    try {
      state.setup = await json("/api/energy/setup");
    } catch (err) {
      session.fail(err, "energy-error");
      return;
    }
    $("place").replaceChildren(...state.setup.places.map((p) => new Option(p, p)));
    await Promise.all([load(), loadVersions()]);
  }

  $("place").addEventListener("change", load);
  $("range").addEventListener("change", load);
  $("carbon-issue").addEventListener("click", issue);
  window.addEventListener("resize", () => Object.values(state.charts).forEach((c) => c.resize()));

  session = FactoryOSSession.start({ view: "energy-view", onSignIn: showPage });
})();

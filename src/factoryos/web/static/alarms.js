// FactoryOS alarm console: the live alarm list (polled every second), acknowledge / shelve /
// unshelve for operators, and the alarm history with filters. Plain JS, no build step.
"use strict";

(() => {
  const POLL_MS = 1000;
  const MAX_POLL_DELAY_MS = 10000;
  const HISTORY_PAGE = 50;
  const OPERATOR_ROLES = new Set(["operator", "engineer", "admin"]);
  const STATE_LABEL = {
    normal: "normal", active_unacked: "ACTIVE · unacked", active_acked: "active · acked",
    cleared_unacked: "cleared · unacked", shelved: "shelved", out_of_service: "out of service",
  };

  const $ = (id) => document.getElementById(id);
  const state = { operator: false, before: null, known: "" };
  window.factoryos = { alarms: 0, polls: 0 }; // read by the browser test

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function localTime(iso) {
    return iso ? new Date(iso).toLocaleString() : "";
  }

  function formatValue(v) {
    if (v === null || v === undefined) return "";
    return Math.abs(v) >= 1000 ? String(Math.round(v * 100) / 100) : String(Number(v.toPrecision(6)));
  }

  // -- sign in / out: the page's part (session.js does the rest) --------------------------

  let session = null;
  const api = (path, body) => session.json(path, { body });

  async function showConsole(me) {
    state.operator = OPERATOR_ROLES.has(me.role);
    $("operator-tools").hidden = !state.operator;
    await poll();
    await loadHistory(false);
  }


  // -- live list -----------------------------------------------------------------------

  // Polling, not the live WebSocket: alarm state changes on ticks and commands too, not only
  // on samples, and a one-second poll of a small list is cheap and survives reconnects.
  async function refresh() {
    try {
      renderAlarms((await api("/api/alarms")).alarms);
      $("console-error").textContent = "";
      return true;
    } catch (err) {
      if (err instanceof session.AuthError) throw err;
      $("console-error").textContent = err.message;
      return false;
    }
  }

  const live = FactoryOSSession.poller(() => session, refresh, {
    everyMs: POLL_MS, maxMs: MAX_POLL_DELAY_MS, doublings: 4,
    onPoll: () => window.factoryos.polls++,
  });
  const poll = () => live.poll();

  function actionButton(label, cls, run) {
    const button = el("button", cls, label);
    button.type = "button";
    button.addEventListener("click", () => command(run));
    return button;
  }

  function actions(alarm) {
    const cell = el("td", "actions");
    if (!state.operator) return cell;
    const name = encodeURIComponent(alarm.name);
    if (!alarm.acked) {
      cell.append(actionButton("Ack", "ack", () => api(`/api/alarms/${name}/ack`, {})));
    }
    if (alarm.state === "shelved") {
      cell.append(actionButton("Unshelve", "unshelve", () => api(`/api/alarms/${name}/unshelve`, {})));
    } else if (alarm.state !== "out_of_service") {
      cell.append(actionButton("Shelve", "shelve", () => shelve(name)));
    }
    return cell;
  }

  function shelve(name) {
    const reason = $("shelve-reason").value.trim();
    if (!reason) return Promise.reject(new Error("Give a reason to shelve an alarm."));
    const duration_s = Number($("shelve-duration").value);
    return api(`/api/alarms/${name}/shelve`, { duration_s, reason });
  }

  async function command(run) {
    $("console-error").textContent = "";
    try {
      await run();
    } catch (err) {
      return session.fail(err, "console-error");
    }
    await poll();
    await loadHistory(false);
  }

  function alarmRow(alarm) {
    const row = el("tr", `alarm ${alarm.state}`);
    row.dataset.alarm = alarm.name;
    row.dataset.state = alarm.state;
    const prio = el("td");
    prio.append(el("span", `prio ${alarm.priority}`, alarm.priority));
    const name = el("td", "", alarm.name);
    name.title = alarm.description || alarm.tag;
    const stateCell = el("td", "state", STATE_LABEL[alarm.state] || alarm.state);
    if (alarm.shelved_until) stateCell.title = `until ${localTime(alarm.shelved_until)}`;
    row.append(
      prio, name, stateCell,
      el("td", "num", formatValue(alarm.last_value)),
      el("td", "mono", localTime(alarm.last_time)),
      el("td", "mono", alarm.equipment),
      actions(alarm),
    );
    return row;
  }

  // Worst first: unacknowledged, then active, by priority; normal ones last.
  function rank(alarm) {
    const order = { active_unacked: 0, cleared_unacked: 1, active_acked: 2, shelved: 3, out_of_service: 4, normal: 5 };
    return [order[alarm.state] ?? 6, -["low", "medium", "high", "urgent"].indexOf(alarm.priority), alarm.name];
  }

  function compare(a, b) {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < ra.length; i++) {
      if (ra[i] < rb[i]) return -1;
      if (ra[i] > rb[i]) return 1;
    }
    return 0;
  }

  function renderAlarms(alarms) {
    alarms.sort(compare);
    $("alarm-rows").replaceChildren(...alarms.map(alarmRow));
    const active = alarms.filter((a) => a.active).length;
    const unacked = alarms.filter((a) => !a.acked).length;
    $("summary").textContent = `${alarms.length} alarms · ${active} active · ${unacked} unacknowledged`;
    window.factoryos.alarms = alarms.length;
    const names = alarms.map((a) => a.name).sort();
    if (names.join("\n") !== state.known) {
      state.known = names.join("\n");
      const select = $("filter-alarm");
      const chosen = select.value;
      select.replaceChildren(el("option", "", "All alarms"), ...names.map((n) => el("option", "", n)));
      select.options[0].value = "";
      select.value = names.includes(chosen) ? chosen : "";
    }
  }

  // -- history -------------------------------------------------------------------------

  function historyQuery() {
    const q = new URLSearchParams({ limit: String(HISTORY_PAGE) });
    if ($("filter-alarm").value) q.set("alarm", $("filter-alarm").value);
    if ($("filter-kind").value) q.set("kind", $("filter-kind").value);
    if ($("filter-priority").value) q.set("priority_min", $("filter-priority").value);
    if (state.before !== null) q.set("before", String(state.before));
    return q;
  }

  function historyRow(event) {
    const row = el("tr", `event ${event.kind}`);
    row.dataset.alarm = event.alarm;
    row.dataset.kind = event.kind;
    const prio = el("td");
    prio.append(el("span", `prio ${event.priority}`, event.priority));
    row.append(
      el("td", "mono", localTime(event.time)),
      el("td", "", event.alarm),
      el("td", "", event.kind.replaceAll("_", " ")),
      prio,
      el("td", "num", formatValue(event.value)),
      el("td", "", event.user),
      el("td", "", event.comment),
    );
    return row;
  }

  async function loadHistory(more) {
    if (!more) state.before = null;
    try {
      const page = await api(`/api/alarms/history?${historyQuery()}`);
      const rows = page.events.map(historyRow);
      if (more) $("history-rows").append(...rows);
      else $("history-rows").replaceChildren(...rows);
      state.before = page.next_before;
      $("history-more").hidden = page.next_before === null;
      $("history-error").textContent = "";
    } catch (err) {
      session.fail(err, "history-error");
    }
  }

  // -- wiring --------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("history-filter").addEventListener("submit", (event) => {
      event.preventDefault();
      loadHistory(false);
    });
    $("history-more").addEventListener("click", () => loadHistory(true));
    session = FactoryOSSession.start({
      view: "console-view", onSignIn: showConsole, onSignOut: live.stop,
    });
  });
})();

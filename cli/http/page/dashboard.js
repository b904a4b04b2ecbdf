// The retail-streams dashboard: live KPIs from `run --http`'s server-sent events.
// Every value from the server reaches the page as text (textContent, DOM attributes, or drawn on
// a canvas by Chart.js): country names come from the input and are never parsed as markup.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const state = {
    windowMs: 60_000,
    /** window start (ms) -> time KPI */
    time: new Map(),
    /** window start (ms) -> Map(country -> country KPI) */
    countries: new Map(),
    status: null,
    fresh: new Set(),
  };
  // For tests and the curious: what arrived and how long it took to show.
  const probe = (window.__dashboard = { kpiEvents: 0, renders: 0, lastRenderAt: 0, latenciesMs: [] });

  const token = (() => {
    const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem('retail-streams-token', decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem('retail-streams-token');
  })();

  const money = (n) => (typeof n === 'number' ? n.toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : '–');
  const int = (n) => (typeof n === 'number' ? n.toLocaleString('en-GB', { maximumFractionDigits: 0 }) : '–');
  const rate = (n) => (typeof n === 'number' ? n.toFixed(4) : '–');
  const minute = (ms) => new Date(ms).toISOString().slice(11, 16);
  const windowLabel = (ms) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
  const clockTime = (ms) => new Date(ms).toISOString().slice(11, 19);

  function el(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }
  function numCell(value, shown) {
    const td = el('td', shown, 'num');
    if (typeof value === 'number') td.dataset.value = String(value);
    return td;
  }
  function setText(id, text) {
    const e = $(id);
    if (e.textContent !== text) e.textContent = text;
  }
  function pill(id, text, tone) {
    const e = $(id);
    e.textContent = text;
    e.className = `pill ${tone}`;
  }

  // State updates.

  function applyTime(kpi) {
    const start = Date.parse(kpi.window.start);
    state.time.set(start, kpi);
    state.fresh.add(`t${start}`);
  }
  function applyCountry(kpi) {
    const start = Date.parse(kpi.window.start);
    let w = state.countries.get(start);
    if (!w) state.countries.set(start, (w = new Map()));
    w.set(kpi.country, kpi);
    state.fresh.add(`c${start}|${kpi.country}`);
  }
  function prune() {
    const starts = [...state.time.keys(), ...state.countries.keys()];
    if (starts.length === 0) return;
    const newest = Math.max(...starts);
    for (const s of state.time.keys()) if (s < newest - 59 * state.windowMs) state.time.delete(s);
    for (const s of state.countries.keys()) if (s < newest - state.windowMs) state.countries.delete(s);
  }
  function newestWindow() {
    const starts = [...state.time.keys(), ...state.countries.keys()];
    return starts.length === 0 ? undefined : Math.max(...starts);
  }

  // Rendering.

  const charts = {};
  function lineChart(id, color, format, fromZero) {
    if (typeof Chart === 'undefined') return undefined;
    return new Chart($(id), {
      type: 'line',
      data: { labels: [], datasets: [{ data: [], borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: 0, tension: 0.25 }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => format(c.parsed.y) } } },
        scales: { x: { ticks: { maxTicksLimit: 7, autoSkip: true, maxRotation: 0 } }, y: { beginAtZero: fromZero, ticks: { maxTicksLimit: 5 } } },
      },
    });
  }
  function setupCharts() {
    charts.opm = lineChart('chart-opm', '#2563eb', int, true);
    charts.volume = lineChart('chart-volume', '#067647', money, true);
    charts.avg = lineChart('chart-avg', '#7a5af8', money, false);
    charts.ror = lineChart('chart-ror', '#b42318', rate, true);
    if (typeof Chart !== 'undefined') {
      charts.countries = new Chart($('chart-countries'), {
        type: 'bar',
        data: { labels: [], datasets: [{ label: 'current window', data: [], backgroundColor: '#2563eb' }, { label: 'previous window', data: [], backgroundColor: '#98a2b3' }] },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          indexAxis: 'y',
          plugins: { legend: { position: 'bottom' } },
          scales: { y: { ticks: { autoSkip: false } } },
        },
      });
    }
  }

  function renderCharts() {
    // One point per window of the last hour up to the newest; a window with no KPI is a gap.
    const known = [...state.time.keys()];
    const starts = [];
    if (known.length > 0) {
      const newest = Math.max(...known);
      for (let s = Math.max(Math.min(...known), newest - 59 * state.windowMs); s <= newest; s += state.windowMs) starts.push(s);
    }
    const labels = starts.map(minute);
    const value = (field) => starts.map((s) => state.time.get(s)?.[field] ?? null);
    const series = { opm: value('OPM'), volume: value('total_sale_volume'), avg: value('average_transaction_size'), ror: value('rate_of_return') };
    for (const k of Object.keys(series)) {
      const c = charts[k];
      if (!c) continue;
      c.data.labels = labels;
      c.data.datasets[0].data = series[k];
      c.update('none');
    }
  }

  function renderCards(current) {
    const t = current === undefined ? undefined : state.time.get(current);
    setText('current-window', current === undefined ? '–' : `${minute(current)}–${minute(current + state.windowMs)}`);
    setText('current-date', current === undefined ? '' : new Date(current).toISOString().slice(0, 10));
    setText('current-opm', t ? int(t.OPM) : '–');
    setText('current-volume', t ? money(t.total_sale_volume) : '–');
    setText('current-avg', t ? money(t.average_transaction_size) : '–');
    setText('current-ror', t ? rate(t.rate_of_return) : '–');
  }

  function renderWindows() {
    const tbody = $('windows').tBodies[0];
    const starts = [...state.time.keys()].sort((a, b) => b - a).slice(0, 12);
    const rows = starts.map((s) => {
      const k = state.time.get(s);
      const tr = document.createElement('tr');
      tr.dataset.window = k.window.start;
      if (state.fresh.has(`t${s}`)) tr.className = 'fresh';
      tr.append(el('td', windowLabel(s)), numCell(k.OPM, int(k.OPM)), numCell(k.total_sale_volume, money(k.total_sale_volume)), numCell(k.average_transaction_size, money(k.average_transaction_size)), numCell(k.rate_of_return, rate(k.rate_of_return)));
      return tr;
    });
    tbody.replaceChildren(...rows);
  }

  function renderCountries(current) {
    const tbody = $('countries').tBodies[0];
    if (current === undefined) {
      tbody.replaceChildren();
      return;
    }
    const now = state.countries.get(current) ?? new Map();
    const before = state.countries.get(current - state.windowMs) ?? new Map();
    setText('country-current-label', minute(current));
    setText('country-previous-label', minute(current - state.windowMs));
    const names = [...new Set([...now.keys(), ...before.keys()])].sort((a, b) => (now.get(b)?.OPM ?? -1) - (now.get(a)?.OPM ?? -1) || (before.get(b)?.OPM ?? 0) - (before.get(a)?.OPM ?? 0) || (a < b ? -1 : 1));
    const rows = names.map((name) => {
      const c = now.get(name);
      const p = before.get(name);
      const tr = document.createElement('tr');
      tr.dataset.country = name;
      if (state.fresh.has(`c${current}|${name}`)) tr.className = 'fresh';
      tr.append(
        el('td', name, 'country'),
        numCell(c?.OPM, c ? int(c.OPM) : '–'),
        numCell(c?.total_sale_volume, c ? money(c.total_sale_volume) : '–'),
        numCell(c?.rate_of_return, c ? rate(c.rate_of_return) : '–'),
        numCell(p?.OPM, p ? int(p.OPM) : '–'),
        numCell(p?.total_sale_volume, p ? money(p.total_sale_volume) : '–'),
      );
      return tr;
    });
    tbody.replaceChildren(...rows);
    const c = charts.countries;
    if (c) {
      const top = names.slice(0, 12);
      c.data.labels = top;
      c.data.datasets[0].data = top.map((n) => now.get(n)?.OPM ?? 0);
      c.data.datasets[1].data = top.map((n) => before.get(n)?.OPM ?? 0);
      c.update('none');
    }
  }

  function renderStatus() {
    const s = state.status;
    if (!s) return;
    const kafka = s.kafka;
    const banner = $('banner');
    if (!kafka.reachable) {
      pill('kafka', 'Kafka unreachable', 'bad');
      banner.hidden = false;
      banner.textContent = `Kafka unreachable since ${clockTime(kafka.since)} UTC (${kafka.error ?? 'no answer'}). The KPIs shown are the last ones read; they update again once Kafka answers.`;
    } else {
      pill('kafka', 'Kafka connected', 'ok');
      banner.hidden = true;
      banner.textContent = '';
    }
    const st = s.streams?.state ?? 'unknown';
    pill('streams-state', `streams: ${st}`, st === 'RUNNING' ? 'ok' : st === 'ERROR' || st === 'NOT_RUNNING' ? 'bad' : 'warn');
    setText('late', int(s.late));
    setText('invalid', int(s.invalid));
    const m = s.streams?.metrics ?? {};
    setText('late-local', `this member: ${int(m['late-records'] ?? 0)}`);
    setText('invalid-local', `this member: ${int(m['dead-letter-records'] ?? 0)}`);
    setText('local-metrics', `This member (${s.streams?.self ?? 'no address'}): ${int(m['records-processed'] ?? 0)} records processed, ${int(m['valid-records'] ?? 0)} valid, ${int(m['windows-closed'] ?? 0)} windows closed, ${int(m.rebalances ?? 0)} rebalances.`);
    const lag = $('lag').tBodies[0];
    lag.replaceChildren(
      ...s.lag.map((p) => {
        const tr = document.createElement('tr');
        tr.dataset.partition = String(p.partition);
        tr.append(el('td', p.partition), numCell(p.committed, p.committed < 0 ? 'none' : int(p.committed)), numCell(p.end, int(p.end)), numCell(p.lag, int(p.lag)));
        return tr;
      }),
    );
    $('members').replaceChildren(
      ...(s.members ?? []).map((mb) => {
        const li = el('li');
        if (mb.host) {
          const a = el('a', mb.host);
          a.href = `http://${mb.host}/`;
          li.append(a);
        } else li.append(el('span', 'no address'));
        li.append(el('span', ` · ${mb.partitions.length} partitions`));
        return li;
      }),
    );
    setText('clock', `updated ${clockTime(s.serverTime ?? Date.now())} UTC`);
  }

  let renderQueued = false;
  let pendingSentAt = [];
  function queueRender(sentAt) {
    if (typeof sentAt === 'number') pendingSentAt.push(sentAt);
    if (renderQueued) return;
    renderQueued = true;
    setTimeout(render, 0);
  }
  function render() {
    renderQueued = false;
    prune();
    const current = newestWindow();
    renderCards(current);
    renderWindows();
    renderCountries(current);
    renderCharts();
    renderStatus();
    state.fresh.clear();
    const now = Date.now();
    for (const t of pendingSentAt) probe.latenciesMs.push(now - t);
    if (probe.latenciesMs.length > 1000) probe.latenciesMs.splice(0, probe.latenciesMs.length - 1000);
    pendingSentAt = [];
    probe.renders++;
    probe.lastRenderAt = now;
  }

  // The live feed: server-sent events over fetch, so a bearer token can go in a header.

  function dispatch(event, data) {
    if (event === 'snapshot') {
      state.windowMs = data.windowMs;
      state.time.clear();
      state.countries.clear();
      for (const k of data.time) applyTime(k);
      for (const k of data.countries) applyCountry(k);
      state.fresh.clear();
      state.status = data.status;
      queueRender();
    } else if (event === 'kpi') {
      for (const u of data.updates) (u.kind === 'time' ? applyTime : applyCountry)(u.kpi);
      probe.kpiEvents++;
      queueRender(data.sentAt);
    } else if (event === 'status') {
      state.status = data;
      queueRender();
    }
  }

  function parseFrame(frame) {
    let event = 'message';
    const data = [];
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) continue;
      const at = line.indexOf(':');
      const field = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) dispatch(event, JSON.parse(data.join('\n')));
  }

  let backoff = 500;
  async function connect() {
    const controller = new AbortController();
    let lastMessage = Date.now();
    // Status comes every second: a silent stream means the server is gone or stuck.
    const watchdog = setInterval(() => {
      if (Date.now() - lastMessage > 5_000) controller.abort();
    }, 1_000);
    try {
      const res = await fetch('/api/events', { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: 'no-store', signal: controller.signal });
      if (res.status === 401) {
        pill('connection', 'needs a token', 'bad');
        $('banner').hidden = false;
        $('banner').textContent = 'This server needs a token: open the dashboard as http://HOST:PORT/#token=YOUR_TOKEN.';
        backoff = 10_000;
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      pill('connection', 'live', 'ok');
      backoff = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        lastMessage = Date.now();
        buffer += value;
        let at;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          parseFrame(frame);
        }
      }
      throw new Error('the server closed the feed');
    } catch (e) {
      pill('connection', 'dashboard server unreachable, retrying', 'bad');
      const banner = $('banner');
      banner.hidden = false;
      banner.textContent = `The dashboard server does not answer (${e && e.name === 'AbortError' ? 'no data for 5 s' : (e && e.message) || e}); retrying. The KPIs shown are the last ones received.`;
    } finally {
      clearInterval(watchdog);
      setTimeout(connect, backoff);
      backoff = Math.min(5_000, backoff * 2);
    }
  }

  setupCharts();
  connect();
})();

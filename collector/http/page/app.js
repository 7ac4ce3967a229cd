// edgesketch live: logs in (a read token for a session cookie), draws the panels of the packaged
// Grafana dashboard with Chart.js and keeps them live with one Server-Sent Events stream
// (/api/v1/stream). window.edgesketchProbe tells what the page holds (the headless browser test
// reads it).
'use strict';

const COLORS = ['#73bf69', '#f2cc0c', '#5794f2', '#ff780a', '#b877d9', '#f2495c', '#37872d',
                '#fade2a', '#8ab8ff', '#ffb357', '#ca95e5', '#ff7383'];

// The panels, with the PromQL of the dashboard (packaging/grafana/dashboards/fleet-overview.json);
// $step is the step in seconds.
const PANELS = [
  {id: 'rate', kind: 'line', queries: ['temperature', 'humidity', 'pressure', 'vibration', 'event']
       .map((m) => ({expr: `sum(${m}_count) / $step`, name: m}))},
  {id: 'quantiles', kind: 'line', queries: [
    {expr: 'histogram_quantile(0.5, sum by (site) (vibration_by_line))', name: 'p50'},
    {expr: 'histogram_quantile(0.99, sum by (site) (vibration_by_line))', name: 'p99'}]},
  {id: 'distinct', kind: 'line', queries: [
    {expr: 'distinct_count(sum by (site) (vibration_by_line))', name: 'devices'}]},
  {id: 'errors', kind: 'bar', queries: [
    {expr: 'topk_items(10, sum(event_by_site))', name: 'count'}]},
  {id: 'outbox', kind: 'line', queries: [
    {expr: 'max by (gateway) (edgesketch_agent_outbox_rows_max)', name: 'rows'},
    {expr: 'max by (gateway) (edgesketch_agent_outbox_oldest_age_seconds_max)', name: 'oldest s'}]},
  {id: 'heatmap', kind: 'heatmap', queries: [{expr: 'sum($heatmap)', name: 'histogram'}]},
];

const probe = {events: 0, lastEventEndMs: 0, lastEventAtMs: 0, points: {}, errors: []};
window.edgesketchProbe = probe;
const $ = (id) => document.getElementById(id);
let mainStream = null;
let customStream = null;
const charts = {};

function stepSeconds() { return $('step').value === '1m' ? 60 : 10; }
function rangeSeconds() { return Number($('range').value); }
function expand(expr) {
  const metric = $('heatmap-metric').value.replace(/[^a-zA-Z0-9_:]/g, '') || 'vibration_by_line';
  return expr.replaceAll('$step', String(stepSeconds())).replaceAll('$heatmap', metric);
}
function labelText(metric) {
  const parts = Object.entries(metric).filter(([k]) => k !== '__name__')
      .map(([k, v]) => `${k}="${v}"`);
  return parts.length ? `{${parts.join(', ')}}` : '';
}
function timeText(seconds) { return new Date(seconds * 1000).toLocaleTimeString(); }

async function api(path, options) {
  const r = await fetch(path, Object.assign({credentials: 'same-origin'}, options));
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  return {status: r.status, body};
}

// A panel's state: per query, series key -> {label, points: Map(t seconds -> value)}.
function makeChart(panel, canvas) {
  if (panel.kind === 'heatmap') return {panel, canvas, series: panel.queries.map(() => new Map())};
  const chart = new Chart(canvas.getContext('2d'), {
    type: panel.kind === 'bar' ? 'bar' : 'line',
    data: {labels: [], datasets: []},
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      // Line charts get {x, y} points as they are; the bar chart's plain numbers are parsed.
      parsing: panel.kind === 'bar',
      normalized: true, spanGaps: false,
      plugins: {legend: {labels: {color: '#ccccdc', boxWidth: 12}}},
      scales: panel.kind === 'bar' ? {
        x: {ticks: {color: '#8e8e9e'}, grid: {color: '#2c3235'}},
        y: {ticks: {color: '#8e8e9e'}, grid: {color: '#2c3235'}, beginAtZero: true},
      } : {
        x: {type: 'linear', ticks: {color: '#8e8e9e', callback: (v) => timeText(v), maxTicksLimit: 8},
            grid: {color: '#2c3235'}},
        y: {ticks: {color: '#8e8e9e'}, grid: {color: '#2c3235'}},
      },
    },
  });
  return {panel, chart, series: panel.queries.map(() => new Map())};
}

// Adds one query's result (the query API's JSON) to a panel's series.
function addResult(state, qi, result) {
  if (!result || result.status !== 'success') {
    const msg = result ? `${result.errorType}: ${result.error}` : 'no result';
    if (!probe.errors.includes(msg)) probe.errors.push(msg);
    return;
  }
  const series = state.series[qi];
  const rows = result.data.resultType === 'scalar' ?
      [{metric: {}, values: [result.data.result]}] : result.data.result;
  for (const row of rows) {
    const key = JSON.stringify(row.metric);
    let s = series.get(key);
    if (!s) {
      s = {label: labelText(row.metric), metric: row.metric, points: new Map()};
      series.set(key, s);
    }
    for (const [t, v] of row.values || []) s.points.set(t, Number(v));
    for (const [t, h] of row.histograms || []) s.points.set(t, h);
  }
}

function prune(state, oldest) {
  for (const series of state.series) {
    for (const [key, s] of series) {
      for (const t of s.points.keys()) if (t < oldest) s.points.delete(t);
      if (s.points.size === 0) series.delete(key);
    }
  }
}

function render(state) {
  const panel = state.panel;
  let n = 0;
  if (panel.kind === 'heatmap') {
    n = drawHeatmap(state);
  } else if (panel.kind === 'bar') {
    // The items of the latest step, largest first.
    let latest = -Infinity;
    for (const s of state.series[0].values()) for (const t of s.points.keys()) latest = Math.max(latest, t);
    const items = [];
    for (const s of state.series[0].values()) {
      if (s.points.has(latest)) items.push([s.metric.item || s.label, s.points.get(latest)]);
    }
    items.sort((a, b) => b[1] - a[1]);
    state.chart.data.labels = items.map((i) => i[0]);
    state.chart.data.datasets = [{label: `readings in the step ending ${Number.isFinite(latest) ? timeText(latest) : '-'}`,
                                  data: items.map((i) => i[1]), backgroundColor: '#5794f2'}];
    n = items.length;
    state.chart.update('none');
  } else {
    const datasets = [];
    panel.queries.forEach((q, qi) => {
      for (const s of state.series[qi].values()) {
        const data = [...s.points.entries()].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({x, y}));
        n += data.length;
        const color = COLORS[datasets.length % COLORS.length];
        datasets.push({label: `${q.name} ${s.label}`.trim(), data, borderColor: color,
                       backgroundColor: color, pointRadius: 0, borderWidth: 1.5});
      }
    });
    state.chart.data.datasets = datasets;
    state.chart.update('none');
  }
  probe.points[panel.id] = n;
}

// The native histograms of the heatmap's query, one column per step, rows of log-spaced value
// ranges; brighter cells hold more readings.
function drawHeatmap(state) {
  const canvas = state.canvas;
  const box = canvas.parentElement.getBoundingClientRect();
  canvas.width = Math.max(200, Math.floor(box.width));
  canvas.height = Math.max(120, Math.floor(box.height));
  const g = canvas.getContext('2d');
  g.fillStyle = '#181b1f';
  g.fillRect(0, 0, canvas.width, canvas.height);
  const columns = new Map();
  for (const s of state.series[0].values()) {
    for (const [t, h] of s.points) if (h && h.buckets) columns.set(t, h.buckets);
  }
  if (columns.size === 0) return 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const buckets of columns.values()) {
    for (const [, l, u, c] of buckets) {
      if (Number(c) <= 0 || Number(u) <= 0) continue;
      lo = Math.min(lo, Math.max(Number(l), 1e-9));
      hi = Math.max(hi, Number(u));
    }
  }
  if (!(hi > lo)) return 0;
  const rows = 40;
  const left = 56;
  const bottom = 18;
  const times = [...columns.keys()].sort((a, b) => a - b);
  const t0 = Date.now() / 1000 - rangeSeconds();
  const t1 = Date.now() / 1000;
  const width = canvas.width - left;
  const height = canvas.height - bottom;
  const colWidth = Math.max(2, width * stepSeconds() / rangeSeconds());
  const llo = Math.log2(lo);
  const lhi = Math.log2(hi);
  const cells = [];
  let max = 0;
  for (const t of times) {
    const counts = new Array(rows).fill(0);
    for (const [, l, u, c] of columns.get(t)) {
      if (Number(u) <= 0) continue;
      const mid = Math.log2(Math.sqrt(Math.max(Number(l), lo) * Number(u)));
      const r = Math.min(rows - 1, Math.max(0, Math.floor((mid - llo) / (lhi - llo) * rows)));
      counts[r] += Number(c);
    }
    for (const c of counts) max = Math.max(max, c);
    cells.push([t, counts]);
  }
  for (const [t, counts] of cells) {
    const x = left + (t - stepSeconds() - t0) / (t1 - t0) * width;
    counts.forEach((c, r) => {
      if (c <= 0) return;
      const a = Math.sqrt(c / max);
      g.fillStyle = `rgba(255, ${Math.round(120 + 120 * a)}, 40, ${0.15 + 0.85 * a})`;
      g.fillRect(x, height - (r + 1) * height / rows, colWidth, height / rows + 0.5);
    });
  }
  g.fillStyle = '#8e8e9e';
  g.font = '11px sans-serif';
  for (let i = 0; i <= 4; i++) {
    const v = Math.pow(2, llo + (lhi - llo) * i / 4);
    g.fillText(v.toPrecision(3), 2, height - i * height / 4 + (i === 0 ? -2 : 10));
    const t = t0 + (t1 - t0) * i / 4;
    g.fillText(timeText(t), left + width * i / 4 - (i === 4 ? 60 : 0), canvas.height - 4);
  }
  return cells.length;
}

function streamUrl(queries) {
  const p = new URLSearchParams();
  for (const q of queries) p.append('query', q);
  p.set('step', `${stepSeconds()}s`);
  p.set('start', String(Math.floor(Date.now() / 1000) - rangeSeconds()));
  return `/api/v1/stream?${p}`;
}

function setState(on, text) {
  $('state').className = `state ${on ? 'on' : 'off'}`;
  $('state').textContent = text;
}

// Opens an EventSource over `queries`; `onPoints(data)` gets each event's parsed data. The
// browser reconnects by itself with Last-Event-ID, so no point is lost or repeated.
function openStream(queries, onPoints) {
  const es = new EventSource(streamUrl(queries));
  es.addEventListener('open', () => setState(true, 'live'));
  es.addEventListener('points', (ev) => onPoints(JSON.parse(ev.data)));
  es.addEventListener('error', async () => {
    setState(false, es.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting');
    if (es.readyState === EventSource.CLOSED) {
      const who = await api('/api/v1/status/buildinfo');
      if (who.status === 401) showLogin();
    }
  });
  return es;
}

function startMain() {
  if (mainStream) mainStream.close();
  for (const state of Object.values(charts)) state.series.forEach((s) => s.clear());
  const queries = [];
  const owners = [];
  for (const panel of PANELS) {
    panel.queries.forEach((q, qi) => { queries.push(expand(q.expr)); owners.push([panel.id, qi]); });
  }
  const list = $('promql');
  list.textContent = '';
  for (const q of queries) {
    const li = document.createElement('li');
    li.textContent = q;
    li.addEventListener('click', () => { $('query').value = q; });
    list.appendChild(li);
  }
  mainStream = openStream(queries, (data) => {
    data.results.forEach((result, i) => addResult(charts[owners[i][0]], owners[i][1], result));
    const oldest = Date.now() / 1000 - rangeSeconds();
    for (const panel of PANELS) {
      prune(charts[panel.id], oldest);
      render(charts[panel.id]);
    }
    probe.events += 1;
    probe.lastEventEndMs = data.end * 1000;
    probe.lastEventAtMs = Date.now();
    $('last').textContent = `last point ${timeText(data.end)}`;
    $('probe').textContent = JSON.stringify(probe);
  });
}

async function runCustom(ev) {
  if (ev) ev.preventDefault();
  const q = $('query').value.trim();
  if (customStream) customStream.close();
  charts.custom.series[0].clear();
  render(charts.custom);
  if (!q) return;
  // The stream answers a bad query with 400, which an EventSource cannot show: ask first.
  const check = await api(`/api/v1/query?query=${encodeURIComponent(q)}`);
  if (check.status !== 200) {
    $('query-error').textContent = check.body ? check.body.error : `HTTP ${check.status}`;
    return;
  }
  $('query-error').textContent = '';
  customStream = openStream([q], (data) => {
    addResult(charts.custom, 0, data.results[0]);
    prune(charts.custom, Date.now() / 1000 - rangeSeconds());
    render(charts.custom);
  });
}

function showLogin() {
  if (mainStream) mainStream.close();
  if (customStream) customStream.close();
  $('panels').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  setState(false, 'logged out');
}

async function showPanels(tenant) {
  $('login').hidden = true;
  $('panels').hidden = false;
  $('logout').hidden = false;
  $('tenant').textContent = tenant ? `tenant ${tenant}` : '';
  for (const section of document.querySelectorAll('.panel')) {
    const id = section.dataset.panel;
    if (charts[id]) continue;
    const panel = id === 'custom' ? {id, kind: 'line', queries: [{expr: '', name: ''}]} :
        PANELS.find((p) => p.id === id);
    charts[id] = makeChart(panel, section.querySelector('canvas'));
  }
  startMain();
}

async function login(token) {
  const r = await api('/api/v1/login', {
    method: 'POST',
    headers: {'Content-Type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({token}).toString(),
  });
  if (r.status !== 200) {
    $('login-error').textContent = r.body ? r.body.error : `HTTP ${r.status}`;
    return null;
  }
  $('login-error').textContent = '';
  return r.body.data.tenant;
}

async function main() {
  $('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const tenant = await login($('token').value);
    $('token').value = '';
    if (tenant !== null) showPanels(tenant);
  });
  $('logout').addEventListener('click', async () => {
    await api('/api/v1/logout', {method: 'POST'});
    showLogin();
  });
  $('query-form').addEventListener('submit', runCustom);
  for (const id of ['step', 'range']) $(id).addEventListener('change', () => { startMain(); runCustom(); });
  $('heatmap-metric').addEventListener('change', startMain);
  // A link with #token=... logs in once; the token leaves the address bar at once.
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get('token')) {
    history.replaceState(null, '', location.pathname);
    const tenant = await login(hash.get('token'));
    if (tenant !== null) return showPanels(tenant);
  }
  const who = await api('/api/v1/status/buildinfo');
  if (who.status === 200) return showPanels('');
  showLogin();
}

main();

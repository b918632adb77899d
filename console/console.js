// Guardian Fleet console: plain browser JavaScript, no build step, nothing loaded from elsewhere.
// Every value from the API is put on the page as text (textContent), never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem('guardian-token'), timers: [], stream: null, lastEventId: null,
  alertIds: new Set(), lagHistory: [], fleet: null, selected: null, plan: null };

class APIError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: 'Bearer ' + state.token }, options.headers || {});
  const res = await fetch(path, Object.assign({}, options, { headers }));
  const type = res.headers.get('content-type') || '';
  const body = type.includes('json') ? await res.json() : null;
  if (!res.ok) throw new APIError(res.status, (body && body.detail) || res.statusText);
  return body;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? '–' : String(text);
  if (className) td.className = className;
  return td;
}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

function shortTime(iso) { return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–'; }

// ---- sign in ----

async function signIn(token) {
  state.token = token;
  try {
    await api('/v1/symbols');
  } catch (e) {
    state.token = null;
    $('login-error').textContent = e.status === 401 ? 'This token is not valid (unknown, mistyped or revoked).' : 'The API did not answer: ' + e.message;
    return;
  }
  sessionStorage.setItem('guardian-token', token);
  $('login').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  $('whoami').textContent = 'token ' + token.split('_').slice(0, 2).join('_') + '…';
  start();
}

function signOut() {
  sessionStorage.removeItem('guardian-token');
  state.timers.forEach(clearInterval);
  if (state.stream) state.stream.abort();
  location.reload();
}

function start() {
  refreshFleet();
  refreshSymbols();
  loadAlerts().then(openStream);
  state.timers.push(setInterval(refreshFleet, 5000), setInterval(refreshSymbols, 10000));
}

// ---- fleet ----

async function refreshFleet() {
  let fleet;
  try {
    fleet = await api('/v1/fleet');
  } catch (e) {
    $('fleet-error').textContent = 'fleet: ' + e.message;
    return;
  }
  state.fleet = fleet;
  $('fleet-error').textContent = fleet.lag_error ? 'lag: ' + fleet.lag_error : '';
  const status = $('fleet-status');
  status.textContent = fleet.status;
  status.className = 'badge status-' + fleet.status;
  $('fleet-group').textContent = fleet.group || '–';
  $('fleet-topic').textContent = fleet.topic || '–';
  $('fleet-sampled').textContent = shortTime(fleet.sampled_at);
  const cache = $('fleet-cache');
  cache.textContent = fleet.cache.redis_reachable ? 'reachable' : 'down (answers come from the database)';
  cache.className = 'badge ' + (fleet.cache.redis_reachable ? 'live' : 'down');
  const stale = new Set((fleet.cache.stale_workers || []).map((w) => w.worker));
  const workers = $('fleet-workers');
  clear(workers);
  if (fleet.workers.length === 0) workers.textContent = 'none reporting';
  for (const w of fleet.workers) {
    const badge = document.createElement('span');
    badge.className = 'badge ' + (w.cache_stale || stale.has(w.worker) ? 'timescaledb' : 'live');
    badge.textContent = w.worker + (w.cache_stale ? ' (cache stale)' : '');
    badge.title = 'last report ' + w.reported_at;
    workers.append(badge, ' ');
  }
  const dl = fleet.dead_letters;
  $('fleet-dlq').textContent = dl.total + (dl.total ? ' (' + Object.entries(dl.by_reason).map(([r, n]) => r + ': ' + n).join(', ') + ')' : '');
  const body = $('partitions').tBodies[0];
  clear(body);
  let total = 0;
  for (const p of fleet.partitions) {
    const row = body.insertRow();
    cell(row, p.partition); cell(row, p.committed); cell(row, p.end); cell(row, p.lag);
    cell(row, p.time_lag_s === null ? null : p.time_lag_s.toFixed(1));
    const badge = document.createElement('span');
    badge.className = 'badge status-' + p.status;
    badge.textContent = p.status;
    cell(row, '').append(badge);
    total += p.lag;
  }
  if (fleet.sampled_at) {
    const byPartition = {};
    for (const p of fleet.partitions) byPartition[p.partition] = p.lag;
    state.lagHistory.push({ t: Date.parse(fleet.sampled_at), total, byPartition });
    if (state.lagHistory.length > 360) state.lagHistory.shift();
  }
  // One line per partition (lag over the samples of this page), the total in bold.
  const chart = $('lag-chart');
  clear(chart);
  const partitions = fleet.partitions.map((p) => p.partition);
  const colours = ['#1f6feb', '#2da44e', '#d29922', '#cf222e', '#8250df', '#1b7c83', '#bf3989', '#6e7781'];
  const scale = Math.max(1, ...state.lagHistory.map((h) => h.total));
  partitions.forEach((p, i) => drawLine(chart, state.lagHistory.map((h) => h.byPartition[p] ?? null), colours[i % colours.length], true, true, scale));
  drawLine(chart, state.lagHistory.map((h) => h.total), '#24292f', true);
  if (!state.plan) renderPlan(null);
}

// ---- charts (SVG, no library) ----

const SVG = 'http://www.w3.org/2000/svg';

function svgEl(name, attrs) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function drawLine(svg, values, color, keep, thin, scale) {
  if (!keep) clear(svg);
  const [w, h] = [600, svg.viewBox.baseVal.height];
  if (values.length === 0) return;
  const max = scale || Math.max(1, ...values.filter((v) => v !== null));
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const points = values.map((v, i) => (i * step).toFixed(1) + ',' + (h - 4 - ((v || 0) / max) * (h - 16)).toFixed(1)).join(' ');
  svg.appendChild(svgEl('polyline', { points, fill: 'none', stroke: color, 'stroke-width': thin ? 1 : 2, 'vector-effect': 'non-scaling-stroke' }));
  if (thin) return;
  const label = svgEl('text', { x: 4, y: 12, 'font-size': 11, fill: color });
  label.textContent = 'max ' + max.toLocaleString();
  svg.appendChild(label);
}

function drawBars(svg, values, color) {
  clear(svg);
  const [w, h] = [600, svg.viewBox.baseVal.height];
  const max = Math.max(1, ...values);
  const bw = w / Math.max(1, values.length);
  values.forEach((v, i) => {
    const bh = (v / max) * (h - 16);
    svg.appendChild(svgEl('rect', { x: (i * bw).toFixed(1), y: (h - bh).toFixed(1), width: Math.max(1, bw - 1).toFixed(1), height: bh.toFixed(1), fill: color }));
  });
}

// ---- symbols ----

async function refreshSymbols() {
  let data;
  try { data = await api('/v1/symbols'); } catch (e) { return; }
  const body = $('symbols').tBodies[0];
  clear(body);
  for (const s of data.symbols) {
    const row = body.insertRow();
    row.dataset.symbol = s.symbol;
    cell(row, s.symbol); cell(row, s.seq); cell(row, shortTime(s.ts)); cell(row, s.kind, 'kind-' + s.kind);
    row.addEventListener('click', () => showSymbol(s.symbol));
  }
  if (state.selected) showSymbol(state.selected);
}

async function showSymbol(symbol) {
  state.selected = symbol;
  $('symbol-card').hidden = false;
  $('symbol-name').textContent = symbol;
  const path = '/v1/symbols/' + encodeURIComponent(symbol);
  try {
    const [st, events, rollups] = await Promise.all([api(path + '/state'), api(path + '/events?limit=20'), api(path + '/rollups?bucket=1m')]);
    const src = $('symbol-source');
    src.textContent = 'from ' + st.source;
    src.className = 'badge ' + st.source;
    const dl = $('symbol-state');
    clear(dl);
    for (const k of ['seq', 'ts', 'kind', 'decision', 'reason', 'position', 'exposure', 'realized_pnl', 'unrealized_pnl']) {
      if (!(k in st)) continue;
      const dt = document.createElement('dt'); dt.textContent = k;
      const dd = document.createElement('dd'); dd.textContent = st[k] === null ? '–' : String(st[k]);
      dl.append(dt, dd);
    }
    const body = $('events').tBodies[0];
    clear(body);
    for (const e of events.events) {
      const row = body.insertRow();
      cell(row, shortTime(e.ts)); cell(row, e.seq); cell(row, e.kind, 'kind-' + e.kind); cell(row, e.decision); cell(row, e.reason); cell(row, e.exposure);
    }
    const chart = $('rollup-chart');
    drawBars(chart, rollups.buckets.map((b) => b.events), '#afb8c1');
    drawLine(chart, rollups.buckets.map((b) => b.exposure_max), '#cf222e', true);
  } catch (e) {
    $('symbol-source').textContent = e.message;
  }
}

// ---- alerts ----

function addAlert(alert, isNew) {
  if (state.alertIds.has(alert.id)) return;
  state.alertIds.add(alert.id);
  const li = document.createElement('li');
  li.dataset.id = alert.id;
  if (isNew) li.className = 'new';
  const kind = document.createElement('span');
  kind.className = 'kind-' + alert.type;
  kind.textContent = alert.type.replace('_', ' ');
  li.append(shortTime(alert.ts) + ' ', kind, ' ' + (alert.symbol || '') + (alert.reason ? ' — ' + alert.reason : ''));
  const list = $('alerts');
  if (isNew) list.prepend(li); else list.append(li);
  while (list.children.length > 200) list.lastChild.remove();
}

async function loadAlerts() {
  try {
    const data = await api('/v1/alerts?limit=50');
    data.alerts.forEach((a) => addAlert(a, false));
  } catch (e) { /* the stream still opens */ }
}

function setStreamState(text, cls) {
  const el = $('stream-state');
  el.textContent = text;
  el.className = 'badge ' + cls;
}

// EventSource cannot send an Authorization header: the stream is read with fetch.
async function openStream() {
  const controller = new AbortController();
  state.stream = controller;
  const headers = { Authorization: 'Bearer ' + state.token, Accept: 'text/event-stream' };
  if (state.lastEventId) headers['Last-Event-ID'] = state.lastEventId;
  try {
    const res = await fetch('/v1/alerts/stream', { headers, signal: controller.signal });
    if (!res.ok) throw new APIError(res.status, res.statusText);
    setStreamState('live', 'live');
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id = null, event = 'message', data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) id = line.slice(4);
          else if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (event === 'alert' && data) {
          if (id) state.lastEventId = id;
          addAlert(JSON.parse(data), true);
        }
      }
    }
  } catch (e) {
    if (controller.signal.aborted) return;
  }
  setStreamState('reconnecting', 'down');
  setTimeout(openStream, 2000);
}

// ---- offsets reset ----

function resetBody(execute) {
  const mode = $('reset-mode').value;
  const value = $('reset-value').value.trim();
  const body = { execute };
  if (mode === 'to_latest' || mode === 'to_earliest') body[mode] = true;
  else if (mode === 'to_datetime') body[mode] = value;
  else if (mode === 'shift_by') body[mode] = Number(value);
  else {
    body[mode] = {};
    for (const pair of value.split(',')) {
      const [p, o] = pair.split(':').map((s) => s.trim());
      body[mode][p] = Number(o);
    }
  }
  const parts = $('reset-partitions').value.trim();
  if (parts) body.partitions = parts.split(',').map((s) => Number(s.trim()));
  return body;
}

function renderPlan(plan) {
  const body = $('reset-plan').tBodies[0];
  clear(body);
  const fleet = state.fleet ? state.fleet.partitions : [];
  const rows = plan ? plan.partitions : fleet.map((p) => ({ partition: p.partition, old_offset: p.committed, new_offset: null, clamped: false }));
  for (const m of rows) {
    const f = fleet.find((p) => p.partition === m.partition);
    const row = body.insertRow();
    cell(row, m.partition); cell(row, m.old_offset); cell(row, f ? f.end : null); cell(row, m.new_offset); cell(row, m.clamped ? 'yes' : '');
  }
}

async function preview(event) {
  event.preventDefault();
  $('reset-execute').disabled = true;
  state.plan = null;
  try {
    const plan = await api('/v1/offsets/reset', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(resetBody(false)) });
    state.plan = plan;
    renderPlan(plan);
    $('reset-message').textContent = 'Preview of group ' + plan.group + ': nothing moved yet.';
    $('reset-execute').disabled = false;
  } catch (e) {
    $('reset-message').textContent = 'Refused: ' + e.message;
  }
}

async function execute() {
  const plan = state.plan;
  if (!plan) return;
  if (!confirm('Move the committed offsets of group ' + plan.group + ' on ' + plan.partitions.length + ' partition(s)? The workers of the group must be stopped.')) return;
  $('reset-execute').disabled = true;
  try {
    const done = await api('/v1/offsets/reset', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(resetBody(true)) });
    renderPlan(done);
    $('reset-message').textContent = 'Executed (' + done.membership_check + '); recorded as operation #' + done.audit_id + '.';
    state.plan = null;
  } catch (e) {
    $('reset-message').textContent = (e.status === 403 ? 'Needs a token of scope operate: ' : 'Refused: ') + e.message;
  }
}

$('login-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('token').value.trim()); });
$('signout').addEventListener('click', signOut);
$('reset-form').addEventListener('submit', preview);
$('reset-execute').addEventListener('click', execute);
if (state.token) { $('login').hidden = true; signIn(state.token); }

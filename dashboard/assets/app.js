// The dashboard shell: login, the API client, the live stream and the
// panels' refresh cycle. What the panels show is declared in panels.js.
import { PANELS } from './panels.js';
import { el, ymd, replace } from './ui.js';

const KEY_STORE = 'shoppulse.apiKey';
// MIN_GAP is the least time between two refreshes: the live stream may say
// "new data" every second; the panels refetch at most this often.
const MIN_GAP = 2000;

const $ = sel => document.querySelector(sel);

// routeKey is "METHOD /path" with every path parameter written {}: panels
// need not know what the API names them.
const routeKey = (method, path) => `${method.toUpperCase()} ${path.replace(/\{[^}]*\}/g, '{}')}`;

const state = {
  key: sessionStorage.getItem(KEY_STORE) || '',
  routes: null, // Set of "METHOD /path" the API serves (from /openapi.json)
  panels: [],
  zone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
  currency: '',
  refreshing: false,
  pending: false,
  lastStart: 0,
  timer: 0,
  refreshes: 0,
  live: null, // AbortController of the live stream
  liveRetry: 1000,
};

// APIError is a non-2xx answer; problem is its RFC 9457 body.
export class APIError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function problemOf(res) {
  try {
    return await res.json();
  } catch {
    return { title: res.statusText };
  }
}

// api calls the REST API with the key. A 401 logs out: the key was revoked
// or is unknown.
async function api(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${state.key}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.ok) return res.status === 204 ? null : res.json();
  const err = new APIError(res.status, await problemOf(res));
  if (res.status === 401) logout(`The API refused the key: ${err.message}`);
  throw err;
}

function query(params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

function notice(text) {
  $('#notice').textContent = text;
}

// context is what a refresh gives each panel: the time it is about, the
// zone, the currency, a GET memoized for this refresh (panels asking for the
// same figures share one request) and the actions.
function newContext() {
  const memo = new Map();
  const now = new Date();
  const ctx = {
    now,
    zone: state.zone,
    today: ymd(now, state.zone),
    currency: state.currency,
    has: route => state.routes.has(routeKey(...route.split(' '))),
    get(path, params) {
      const url = path + query(params);
      if (!memo.has(url)) memo.set(url, api(url));
      return memo.get(url);
    },
    // act runs an operate action, reports it, and refreshes the panels.
    async act(description, method, path, body) {
      try {
        await api(path, { method, body });
        notice(`${description}: done.`);
      } catch (err) {
        notice(err.status === 403
          ? `${description}: refused, the key lacks the operate scope.`
          : `${description} failed: ${err.message}`);
        throw err;
      } finally {
        scheduleRefresh(0);
      }
    },
  };
  return ctx;
}

// pickCurrency chooses the currency the money panels show: the user's
// choice, else the one with the most revenue today.
async function pickCurrency(ctx) {
  if (!ctx.has('GET /v1/revenue')) return;
  const today = await ctx.get('/v1/revenue', { granularity: 'day', from: ctx.today, tz: ctx.zone });
  const totals = new Map();
  for (const p of today.points) totals.set(p.currency, (totals.get(p.currency) || 0) + p.revenue_minor);
  const currencies = [...totals.keys()].sort();
  if (state.currency && !totals.has(state.currency)) currencies.push(state.currency);
  if (!state.currency && currencies.length) {
    state.currency = [...totals.entries()].sort((a, b) => b[1] - a[1])[0][0];
  }
  ctx.currency = state.currency;
  const sel = $('#currency');
  const have = [...sel.options].map(o => o.value).join(',');
  if (have !== currencies.sort().join(',')) {
    sel.replaceChildren(...currencies.map(c => el('option', { value: c, text: c })));
  }
  sel.value = state.currency;
}

async function refresh() {
  if (state.refreshing) {
    state.pending = true;
    return;
  }
  state.refreshing = true;
  state.lastStart = Date.now();
  const ctx = newContext();
  try {
    await pickCurrency(ctx);
  } catch (err) {
    if (err.status === 401) return finish();
    notice(`Could not read the currencies: ${err.message}`);
  }
  await Promise.all(state.panels.map(p => loadPanel(p, ctx)));
  finish();

  function finish() {
    state.refreshing = false;
    state.refreshes++;
    document.body.dataset.refreshes = String(state.refreshes);
    if (state.pending) {
      state.pending = false;
      scheduleRefresh();
    }
  }
}

async function loadPanel(p, ctx) {
  if (!state.key) return;
  p.section.setAttribute('aria-busy', 'true');
  try {
    const data = await p.def.load(ctx, p);
    p.def.render(p.body, data, ctx, p);
    p.section.dataset.state = 'ready';
    p.status.classList.remove('failed');
    p.status.textContent = `Updated ${new Intl.DateTimeFormat(undefined, {
      timeZone: ctx.zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
    }).format(ctx.now)}`;
  } catch (err) {
    if (err.status === 401) return;
    p.section.dataset.state = 'failed';
    p.status.classList.add('failed');
    p.status.textContent = `Could not load: ${err.message}`;
  } finally {
    p.section.removeAttribute('aria-busy');
  }
}

// scheduleRefresh refreshes soon, at most once per MIN_GAP (gap 0: now).
function scheduleRefresh(gap = MIN_GAP) {
  if (state.timer) return;
  const wait = Math.max(0, state.lastStart + gap - Date.now());
  state.timer = setTimeout(() => {
    state.timer = 0;
    refresh();
  }, wait);
}

function buildPanels() {
  const box = $('#panels');
  const shown = PANELS.filter(def => def.needs.every(r => state.routes.has(routeKey(...r.split(' ')))));
  state.panels = shown.map(def => {
    const title = el('h2', { id: `h-${def.id}`, text: def.title });
    const status = el('p', { class: 'state', text: 'Loading…' });
    const body = el('div', { class: 'body' });
    const section = el('section', {
      class: def.wide ? 'panel wide' : 'panel', id: `panel-${def.id}`,
      'aria-labelledby': `h-${def.id}`, dataset: { panel: def.id, state: 'loading' },
    }, el('header', {}, title, status), body);
    const slots = new Map();
    // slot keeps an element (a chart container) across refreshes.
    const slot = (name, make) => {
      if (!slots.has(name)) slots.set(name, make());
      return slots.get(name);
    };
    return { def, section, body, status, slot };
  });
  for (const p of state.panels) p.section.dataset.order = String(state.panels.indexOf(p));
  replace(box, ...state.panels.map(p => p.section));
}

// The live stream: /v1/live sends an "update" event whenever the stored
// data moves on. EventSource cannot send the Authorization header, so the
// stream is read with fetch.
async function openLive() {
  const ctrl = new AbortController();
  state.live = ctrl;
  let res;
  try {
    res = await fetch('/v1/live', {
      headers: { Authorization: `Bearer ${state.key}`, Accept: 'text/event-stream' },
      cache: 'no-store', signal: ctrl.signal,
    });
  } catch (err) {
    if (ctrl.signal.aborted) return { ok: false, aborted: true };
    return { ok: false, status: 0, detail: err.message };
  }
  if (!res.ok) {
    const problem = await problemOf(res);
    return { ok: false, status: res.status, detail: problem.detail || problem.title || res.statusText };
  }
  readLive(res, ctrl);
  return { ok: true };
}

async function readLive(res, ctrl) {
  setLive(true, 'Live');
  state.liveRetry = 1000;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let cut;
      while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
        onLiveEvent(block);
      }
    }
  } catch {
    // aborted, or the connection dropped: handled below
  }
  if (ctrl.signal.aborted || state.live !== ctrl) return;
  reconnectLive();
}

function onLiveEvent(block) {
  let event = 'message';
  let data = '';
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data += (data ? '\n' : '') + value;
  }
  if (event === 'update') {
    setLive(true, 'Live');
    scheduleRefresh();
  }
}

async function reconnectLive() {
  setLive(false, 'Reconnecting…');
  await new Promise(r => setTimeout(r, state.liveRetry));
  state.liveRetry = Math.min(state.liveRetry * 2, 30000);
  if (!state.key) return;
  const r = await openLive();
  if (r.aborted) return;
  if (!r.ok && (r.status === 401 || r.status === 403)) {
    logout(`The API refused the key: ${r.detail}`);
    return;
  }
  if (!r.ok) reconnectLive();
}

function setLive(on, text) {
  const s = $('#live-status');
  s.textContent = text;
  s.classList.toggle('on', on);
  s.classList.toggle('off', !on);
}

function showLogin(message = '') {
  $('#controls').hidden = true;
  $('#panels').hidden = true;
  $('#login').hidden = false;
  $('#login-error').textContent = message;
  const input = $('#api-key');
  input.setAttribute('aria-invalid', message ? 'true' : 'false');
  input.focus();
}

function logout(message = '') {
  state.key = '';
  sessionStorage.removeItem(KEY_STORE);
  if (state.live) state.live.abort();
  state.live = null;
  clearTimeout(state.timer);
  state.timer = 0;
  showLogin(message);
}

// start checks the key by opening the live stream (it needs the read
// scope), then shows the panels.
async function start() {
  const r = await openLive();
  if (!r.ok) {
    if (r.aborted) return;
    const msg = r.status === 401 ? `The API refused the key: ${r.detail}`
      : r.status === 403 ? `This key cannot read the dashboard: ${r.detail}`
        : `Cannot reach the API: ${r.detail}`;
    logout(msg);
    return;
  }
  sessionStorage.setItem(KEY_STORE, state.key);
  $('#login').hidden = true;
  $('#controls').hidden = false;
  $('#panels').hidden = false;
  buildPanels();
  refresh();
}

// keyFromFragment takes a key handed over in the URL fragment
// (/dashboard/#key=sp_..., as `shoppulse dev` prints; the fragment never
// reaches a server) and removes it from the address bar and history.
function keyFromFragment() {
  const key = new URLSearchParams(location.hash.slice(1)).get('key');
  if (!key) return;
  history.replaceState(null, '', location.pathname + location.search);
  state.key = key.trim();
}

async function main() {
  keyFromFragment();
  $('#zone').textContent = state.zone;
  $('#currency').addEventListener('change', e => {
    state.currency = e.target.value;
    scheduleRefresh(0);
  });
  $('#logout').addEventListener('click', () => logout('Logged out.'));
  $('#login-form').addEventListener('submit', e => {
    e.preventDefault();
    const key = $('#api-key').value.trim();
    if (!key) {
      showLogin('Enter an API key.');
      return;
    }
    $('#api-key').value = '';
    $('#login-error').textContent = 'Checking the key…';
    state.key = key;
    start();
  });
  try {
    const res = await fetch('/openapi.json', { cache: 'no-store' });
    const doc = await res.json();
    state.routes = new Set();
    for (const [path, ops] of Object.entries(doc.paths || {})) {
      for (const method of Object.keys(ops)) state.routes.add(routeKey(method, path));
    }
  } catch (err) {
    notice(`Cannot read the API description (/openapi.json): ${err.message}`);
    return;
  }
  if (state.key) start();
  else showLogin();
}

main();

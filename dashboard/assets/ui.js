// DOM, formatting and chart helpers shared by the panels. No inline event
// handlers anywhere (the page's Content-Security-Policy forbids them):
// listeners are attached with addEventListener.

// el builds an element. attrs: "text" sets textContent, "on<event>" a
// listener, "dataset" an object of data-* values, false/null values are
// skipped, anything else an attribute.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const moneyFormats = new Map();
function moneyFormat(currency) {
  let f = moneyFormats.get(currency);
  if (!f) {
    try {
      f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    } catch {
      f = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    moneyFormats.set(currency, f);
  }
  return f;
}

// minorDigits is how many minor-unit digits a currency has (2 for EUR, 0 for JPY).
export function minorDigits(currency) {
  return moneyFormat(currency).resolvedOptions().maximumFractionDigits ?? 2;
}

// major turns minor units into the currency's major units.
export function major(minor, currency) {
  return minor / 10 ** minorDigits(currency);
}

export function money(minor, currency) {
  if (minor === null || minor === undefined || Number.isNaN(minor)) return '–';
  return moneyFormat(currency).format(major(minor, currency));
}

const intFormat = new Intl.NumberFormat();
export function int(n) {
  return n === null || n === undefined ? '–' : intFormat.format(n);
}

export function pct(x, digits = 1) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return (x * 100).toFixed(digits) + '%';
}

// when formats an instant as a local time of day, or day and time when it
// is not today.
export function when(iso, zone) {
  if (!iso) return '–';
  const d = new Date(iso);
  const sameDay = ymd(d, zone) === ymd(new Date(), zone);
  const opts = sameDay
    ? { timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }
    : { timeZone: zone, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false };
  return new Intl.DateTimeFormat(undefined, opts).format(d);
}

// ymd is the calendar date of an instant in a zone, as YYYY-MM-DD.
export function ymd(d, zone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

// addDays shifts a YYYY-MM-DD date by n calendar days.
export function addDays(date, n) {
  const [y, m, d] = date.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return t.toISOString().slice(0, 10);
}

// change describes now against before: "+12.5% vs last week".
export function change(now, before, label = 'vs last week') {
  if (before === null || before === undefined || !Number.isFinite(now)) return { text: '', cls: '' };
  if (before === 0) return { text: now === 0 ? `no change ${label}` : `new ${label}`, cls: now > 0 ? 'up' : '' };
  const r = (now - before) / Math.abs(before);
  const sign = r > 0 ? '+' : r < 0 ? '−' : '±';
  return { text: `${sign}${Math.abs(r * 100).toFixed(1)}% ${label}`, cls: r > 0 ? 'up' : r < 0 ? 'down' : '' };
}

// table renders rows as an accessible table. columns: {label, value(row)
// -> string|Node, num}. key(row) names a row (kept in data-key, and used to
// keep the focus on a row's button across refreshes).
export function table({ caption, columns, rows, key, empty = 'Nothing to show.' }) {
  if (!rows || rows.length === 0) return el('p', { class: 'empty', text: empty });
  const head = el('tr', {}, columns.map(c => el('th', { scope: 'col', class: c.num ? 'num' : null, text: c.label })));
  const body = rows.map(r => el('tr', { dataset: key ? { key: key(r) } : {} },
    columns.map((c, i) => {
      const v = c.value(r);
      const cell = el(i === 0 ? 'th' : 'td', { class: [c.num ? 'num' : '', c.cls || ''].join(' ').trim() || null, scope: i === 0 ? 'row' : null });
      cell.append(v instanceof Node ? v : document.createTextNode(v === null || v === undefined ? '–' : String(v)));
      return cell;
    })));
  return el('div', { class: 'scroll' }, el('table', {}, caption ? el('caption', { text: caption }) : null,
    el('thead', {}, head), el('tbody', {}, body)));
}

export function badge(text, cls = text) {
  return el('span', { class: `badge ${cls}`, text });
}

// replace swaps a panel body's content, keeping the keyboard focus on the
// control with the same data-focus id if the focus was inside.
export function replace(body, ...nodes) {
  const active = document.activeElement;
  const focusID = active && body.contains(active) ? active.dataset.focus : undefined;
  body.replaceChildren(...nodes);
  if (focusID) {
    const again = body.querySelector(`[data-focus="${CSS.escape(focusID)}"]`);
    if (again) again.focus();
  }
}

const palette = ['#2f5bea', '#9aa3b5', '#13795b', '#d97706', '#b3261e', '#7c3aed', '#0e7490'];

// chart draws option into a chart container, reusing its ECharts instance
// (so a refresh updates the chart instead of rebuilding it).
export function chart(container, option) {
  const echarts = window.echarts;
  let inst = echarts.getInstanceByDom(container);
  if (!inst) {
    inst = echarts.init(container, null, { renderer: 'canvas' });
    new ResizeObserver(() => inst.resize()).observe(container);
  }
  inst.setOption({
    color: palette,
    animation: false,
    aria: { enabled: true, decal: { show: false } },
    textStyle: { fontFamily: 'system-ui, sans-serif' },
    ...option,
  }, { notMerge: true });
  return inst;
}

// chartBox is a chart container with its accessible name.
export function chartBox(label, cls = 'chart') {
  return el('div', { class: cls, role: 'img', 'aria-label': label });
}

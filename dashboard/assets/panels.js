// The dashboard's panels, declared in one place. Each panel:
//   id, title      its element id (panel-<id>) and heading
//   wide           spans the whole row
//   needs          the API routes it reads ("GET /v1/..."); a panel is shown
//                  only when /openapi.json lists every one, so a panel for a
//                  part of the platform that is not deployed yet stays hidden
//                  (path parameters match whatever their name: {id} = {po_id})
//   load(ctx)      fetches what it shows (ctx.get memoizes within a refresh)
//   render(body, data, ctx, panel)
//                  draws it; panel.slot(name, make) keeps an element (a chart)
//                  across refreshes
// To add a panel, append an entry; listPanel() covers "a list with actions"
// (its rows keyed by idField or key(row), optionally ordered by sort).
import {
  el, money, int, pct, when, addDays, change, table, badge, replace, chart, chartBox, major,
} from './ui.js';

const MINUTE = 60e3;
const DAY = 24 * 60 * MINUTE;
const WEEK = 7 * DAY;

const iso = ms => new Date(ms).toISOString();
const floorMinute = d => Math.floor(d.getTime() / MINUTE) * MINUTE;

function sum(points, field, currency) {
  return points.filter(p => !currency || p.currency === currency).reduce((s, p) => s + (p[field] || 0), 0);
}

function kpi(label, value, delta) {
  const c = delta || { text: '', cls: '' };
  return el('div', { class: 'kpi', dataset: { kpi: label } },
    el('dt', { text: label }),
    el('dd', {}, el('span', { class: 'value', text: value }), el('span', { class: `delta ${c.cls}`, text: c.text })));
}

// timeAxisChart draws lines over a time axis; series: {name, points: [[ms, y]], dashed}.
function timeAxisChart(box, { series, money: cur, zone, step = MINUTE }) {
  chart(box, {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 60, right: 16, top: 30, bottom: 30 },
    xAxis: {
      type: 'time',
      minInterval: step,
      axisLabel: {
        hideOverlap: true,
        formatter: v => new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: '2-digit', minute: '2-digit', hour12: false }).format(v),
      },
    },
    yAxis: { type: 'value', axisLabel: { formatter: v => (cur ? v.toLocaleString() : v) } },
    series: series.map(s => ({
      name: s.name, type: s.type || 'line', data: s.points, showSymbol: false,
      lineStyle: s.dashed ? { type: 'dashed' } : undefined, barMaxWidth: 18,
    })),
  });
}

export const PANELS = [
  {
    id: 'kpis',
    title: 'Today and this minute',
    wide: true,
    needs: ['GET /v1/revenue', 'GET /v1/funnel'],
    async load(ctx) {
      const now = ctx.now.getTime();
      const lastWeekDay = addDays(ctx.today, -7);
      const nowMinute = floorMinute(ctx.now);
      const minutes = { granularity: 'minute', tz: ctx.zone, currency: ctx.currency };
      const [today, lastWeek, funnel, funnelLastWeek, hour, hourLastWeek] = await Promise.all([
        ctx.get('/v1/revenue', { granularity: 'day', from: ctx.today, tz: ctx.zone }),
        ctx.get('/v1/revenue', { granularity: 'day', from: lastWeekDay, to: iso(now - WEEK), tz: ctx.zone }),
        ctx.get('/v1/funnel', { granularity: 'day', from: ctx.today, to: iso(now), tz: ctx.zone }),
        ctx.get('/v1/funnel', { granularity: 'day', from: lastWeekDay, to: iso(now - WEEK), tz: ctx.zone }),
        ctx.get('/v1/revenue', { ...minutes, from: iso(nowMinute - 59 * MINUTE), to: iso(nowMinute + MINUTE) }),
        ctx.get('/v1/revenue', { ...minutes, from: iso(nowMinute - 59 * MINUTE - WEEK), to: iso(nowMinute + MINUTE - WEEK) }),
      ]);
      return { today, lastWeek, funnel, funnelLastWeek, hour, hourLastWeek, nowMinute };
    },
    render(body, d, ctx, panel) {
      const cur = ctx.currency;
      const rev = sum(d.today.points, 'revenue_minor', cur);
      const revLW = sum(d.lastWeek.points, 'revenue_minor', cur);
      const orders = sum(d.today.points, 'orders', cur);
      const ordersLW = sum(d.lastWeek.points, 'orders', cur);
      const aov = orders ? rev / orders : null;
      const aovLW = ordersLW ? revLW / ordersLW : null;
      const conv = f => {
        const s = sum(f.points, 'sessions');
        return s ? sum(f.points, 'purchase') / s : null;
      };
      const cv = conv(d.funnel);
      const cvLW = conv(d.funnelLastWeek);
      const lastMinute = d.nowMinute - MINUTE;
      const at = (series, ms) => series.points.filter(p => Date.parse(p.start) === ms);
      const lm = at(d.hour, lastMinute);
      const lmLW = at(d.hourLastWeek, lastMinute - WEEK);
      const list = el('dl', { class: 'kpis' },
        kpi('Revenue today', money(rev, cur), change(rev, revLW)),
        kpi('Orders today', int(orders), change(orders, ordersLW)),
        kpi('Average order value', money(aov, cur), aov === null ? null : change(aov, aovLW)),
        kpi('Conversion today', pct(cv), cv === null ? null : change(cv, cvLW)),
        kpi('Revenue last minute', money(sum(lm, 'revenue_minor'), cur), change(sum(lm, 'revenue_minor'), sum(lmLW, 'revenue_minor'))),
        kpi('Orders last minute', int(sum(lm, 'orders')), change(sum(lm, 'orders'), sum(lmLW, 'orders'))),
      );
      const box = panel.slot('chart', () => chartBox(`Revenue per minute in ${cur}, the last hour against the same hour last week`));
      replace(body, list, box);
      const pts = (s, shift) => s.points.map(p => [Date.parse(p.start) + shift, major(p.revenue_minor, cur)]);
      timeAxisChart(box, {
        zone: ctx.zone, money: cur,
        series: [
          { name: `Revenue/min (${cur})`, points: pts(d.hour, 0) },
          { name: 'Same time last week', points: pts(d.hourLastWeek, WEEK), dashed: true },
        ],
      });
    },
  },
  {
    id: 'hourly',
    title: 'Revenue per hour against last week',
    needs: ['GET /v1/revenue'],
    async load(ctx) {
      const q = { granularity: 'hour', tz: ctx.zone, currency: ctx.currency };
      const lastWeekDay = addDays(ctx.today, -7);
      const [today, lastWeek] = await Promise.all([
        ctx.get('/v1/revenue', { ...q, from: ctx.today }),
        ctx.get('/v1/revenue', { ...q, from: lastWeekDay, to: addDays(lastWeekDay, 1) }),
      ]);
      return { today, lastWeek };
    },
    render(body, d, ctx, panel) {
      const cur = ctx.currency;
      const box = panel.slot('chart', () => chartBox(`Revenue per hour in ${cur}, today against the same day last week`));
      replace(body, box);
      timeAxisChart(box, {
        zone: ctx.zone, money: cur, step: 60 * MINUTE,
        series: [
          { name: `Today (${cur})`, type: 'bar', points: d.today.points.map(p => [Date.parse(p.start), major(p.revenue_minor, cur)]) },
          {
            name: 'Same day last week',
            dashed: true,
            points: d.lastWeek.points.map(p => [Date.parse(p.start) + WEEK, major(p.revenue_minor, cur)]),
          },
        ],
      });
    },
  },
  {
    id: 'funnel',
    title: 'Funnel today',
    needs: ['GET /v1/funnel'],
    load: ctx => ctx.get('/v1/funnel', { granularity: 'day', from: ctx.today, to: ctx.now.toISOString(), tz: ctx.zone }),
    render(body, d, ctx, panel) {
      const steps = [
        ['Sessions', 'sessions'], ['Viewed a product', 'product_view'], ['Added to cart', 'add_to_cart'],
        ['Checked out', 'checkout'], ['Purchased', 'purchase'],
      ].map(([name, f]) => ({ name, value: sum(d.points, f) }));
      const first = steps[0].value;
      const box = panel.slot('chart', () => chartBox('Sessions reaching each step of the funnel today', 'chart tall'));
      replace(body, box, table({
        caption: 'Sessions per step, and the share of all sessions',
        columns: [
          { label: 'Step', value: s => s.name },
          { label: 'Sessions', num: true, value: s => int(s.value) },
          { label: 'Of all', num: true, value: s => (first ? pct(s.value / first) : '–') },
        ],
        rows: steps,
      }));
      chart(box, {
        tooltip: { trigger: 'item' },
        series: [{
          type: 'funnel', name: 'Funnel', sort: 'none', minSize: '8%', gap: 2,
          label: { show: true, position: 'inside', color: '#fff', textBorderColor: 'rgba(0,0,0,.55)', textBorderWidth: 2 },
          data: steps,
        }],
      });
    },
  },
  topPanel('top-products', 'Top products today', 'products'),
  topPanel('top-categories', 'Top categories today', 'categories'),
  {
    id: 'anomalies',
    title: 'Anomalies',
    needs: ['GET /v1/anomalies'],
    async load(ctx) {
      const from = new Date(floorMinute(ctx.now) - 3 * 60 * MINUTE).toISOString();
      const [orders, recent] = await Promise.all([
        ctx.get('/v1/anomalies', { series: 'orders', anomalous: 'false', from, limit: 500, tz: ctx.zone }),
        ctx.get('/v1/anomalies', { limit: 10, tz: ctx.zone }),
      ]);
      return { orders: orders.items, recent: recent.items };
    },
    render(body, d, ctx, panel) {
      const box = panel.slot('chart', () => chartBox('Orders per minute over the last three hours against the expected value, anomalies marked'));
      replace(body, box, table({
        caption: 'Latest anomalous minutes, every series',
        key: a => `${a.series}@${a.minute}`,
        empty: 'No anomaly found.',
        columns: [
          { label: 'Series', value: a => a.series },
          { label: 'Minute', value: a => when(a.minute, ctx.zone) },
          { label: 'Actual', num: true, value: a => a.actual.toFixed(1) },
          { label: 'Expected', num: true, value: a => (a.expected === null ? '–' : a.expected.toFixed(1)) },
          { label: 'z', num: true, value: a => (a.z === null ? '–' : a.z.toFixed(1)) },
          { label: 'Sustained', value: a => (a.sustained ? 'yes' : 'no') },
        ],
        rows: d.recent,
      }));
      const pts = [...d.orders].sort((a, b) => Date.parse(a.minute) - Date.parse(b.minute));
      chart(box, {
        tooltip: { trigger: 'axis' },
        legend: { top: 0 },
        grid: { left: 50, right: 16, top: 30, bottom: 30 },
        xAxis: {
          type: 'time',
          axisLabel: { hideOverlap: true, formatter: v => new Intl.DateTimeFormat(undefined, { timeZone: ctx.zone, hour: '2-digit', minute: '2-digit', hour12: false }).format(v) },
        },
        yAxis: { type: 'value' },
        series: [
          { name: 'Orders/min', type: 'line', showSymbol: false, data: pts.map(a => [Date.parse(a.minute), a.actual]) },
          { name: 'Expected', type: 'line', showSymbol: false, lineStyle: { type: 'dashed' }, data: pts.filter(a => a.expected !== null).map(a => [Date.parse(a.minute), a.expected]) },
          { name: 'Anomalous', type: 'scatter', symbolSize: 9, itemStyle: { color: '#b3261e' }, data: pts.filter(a => a.anomalous).map(a => [Date.parse(a.minute), a.actual]) },
        ],
      });
    },
  },
  {
    id: 'stock',
    title: 'Stock alerts',
    needs: ['GET /v1/alerts', 'GET /v1/stock/low'],
    async load(ctx) {
      const [low, out, products] = await Promise.all([
        ctx.get('/v1/alerts', { status: 'open', type: 'low_stock', limit: 20 }),
        ctx.get('/v1/alerts', { status: 'open', type: 'stockout', limit: 20 }),
        ctx.get('/v1/stock/low', { limit: 20 }),
      ]);
      return { alerts: [...out.items, ...low.items], products: products.items };
    },
    render(body, d, ctx) {
      const canAck = ctx.has('POST /v1/alerts/{id}/acknowledge');
      replace(body,
        table({
          caption: 'Open stockout and low-stock alerts',
          key: a => String(a.id),
          empty: 'No open stock alert.',
          columns: [
            { label: 'Product / warehouse', value: a => a.entity },
            { label: 'Alert', value: a => badge(a.type === 'stockout' ? 'stockout' : 'low stock', a.severity) },
            { label: 'Since', value: a => when(a.opened_at, ctx.zone) },
            {
              label: 'Status', cls: 'actions',
              value: a => (canAck && a.status === 'unacknowledged' ? el('button', {
                type: 'button', text: 'Acknowledge', dataset: { action: 'acknowledge', focus: `ack:${a.id}` },
                'aria-label': `Acknowledge the alert on ${a.entity}`,
                onclick: e => {
                  e.currentTarget.disabled = true;
                  ctx.act(`Alert on ${a.entity} acknowledged`, 'POST', `/v1/alerts/${a.id}/acknowledge`, {}).catch(() => {});
                },
              }) : a.status),
            },
          ],
          rows: d.alerts,
        }),
        table({
          caption: 'Products at or below their reorder point',
          key: s => `${s.product_id}@${s.warehouse_id}`,
          empty: 'No product is low on stock.',
          columns: [
            { label: 'Product', value: s => s.product_id },
            { label: 'Warehouse', value: s => s.warehouse_id },
            { label: 'On hand', num: true, value: s => int(s.on_hand) },
            { label: 'Reorder point', num: true, value: s => int(s.reorder_point) },
          ],
          rows: d.products,
        }));
    },
  },
  {
    id: 'fraud',
    title: 'Fraud queue',
    wide: true,
    needs: ['GET /v1/fraud/queue'],
    load: ctx => ctx.get('/v1/fraud/queue', { limit: 20, tz: ctx.zone }),
    render(body, d, ctx) {
      const canLabel = ctx.has('PUT /v1/fraud/orders/{order_id}/label');
      const label = (o, l) => ctx.act(`Order ${o.order_id} marked ${l}`, 'PUT',
        `/v1/fraud/orders/${encodeURIComponent(o.order_id)}/label`, { label: l }).catch(() => {});
      replace(body, table({
        caption: 'Scored orders awaiting a decision, highest score first',
        key: o => o.order_id,
        empty: 'No order waits for a decision.',
        columns: [
          { label: 'Order', value: o => o.order_id },
          { label: 'Score', num: true, value: o => o.score.toFixed(2) },
          { label: 'Amount', num: true, value: o => money(o.total_minor, o.currency) },
          { label: 'Customer', value: o => o.customer_id },
          { label: 'Country', value: o => o.country },
          { label: 'Placed', value: o => when(o.time, ctx.zone) },
          { label: 'Model', value: o => o.model_version },
          ...(canLabel ? [{
            label: 'Decision', cls: 'actions',
            value: o => el('span', {},
              el('button', {
                type: 'button', class: 'danger', text: 'Fraud', dataset: { action: 'fraud', focus: `fraud:${o.order_id}` },
                'aria-label': `Mark order ${o.order_id} as fraud`, onclick: e => { e.currentTarget.disabled = true; label(o, 'fraud'); },
              }),
              el('button', {
                type: 'button', class: 'ok', text: 'Legitimate', dataset: { action: 'legitimate', focus: `legit:${o.order_id}` },
                'aria-label': `Mark order ${o.order_id} as legitimate`, onclick: e => { e.currentTarget.disabled = true; label(o, 'legitimate'); },
              })),
          }] : []),
        ],
        rows: d.items,
      }));
    },
  },
  // The batch side. These panels appear once the API serves their routes.
  {
    id: 'forecasts',
    title: 'Demand forecasts',
    wide: true,
    needs: ['GET /v1/forecasts'],
    load: ctx => ctx.get('/v1/forecasts', { limit: 10, days: 28 }),
    render(body, d, ctx, panel) {
      const box = panel.slot('chart', () => chartBox('Forecast demand per day and product over the next four weeks, in units'));
      replace(body, box, table({
        caption: 'Latest forecast per product: the method chosen for its demand class, and its MASE on the holdout (below the seasonal naive\'s is better)',
        key: f => f.product_id,
        empty: 'No forecast yet.',
        columns: [
          { label: 'Product', value: f => f.product_id },
          { label: 'Method', value: f => f.method },
          { label: 'Demand', value: f => f.demand_class },
          { label: 'MASE', num: true, value: f => (f.mase === null ? '–' : f.mase.toFixed(2)) },
          { label: 'Seasonal naive MASE', num: true, value: f => (f.snaive_mase === null ? '–' : f.snaive_mase.toFixed(2)) },
          { label: 'Units, 4 weeks', num: true, value: f => f.forecast_total.toFixed(0) },
          { label: 'As of', value: f => f.as_of },
        ],
        rows: d.items,
      }));
      chart(box, {
        tooltip: { trigger: 'axis' },
        legend: { top: 0, type: 'scroll' },
        grid: { left: 50, right: 16, top: 30, bottom: 30 },
        xAxis: { type: 'time', axisLabel: { hideOverlap: true } },
        yAxis: { type: 'value' },
        series: d.items.map(f => ({
          name: f.product_id, type: 'line', showSymbol: false, data: f.days.map(x => [Date.parse(x.date), x.forecast]),
        })),
      });
    },
  },
  listPanel({
    id: 'replenishment', title: 'Replenishment orders', path: '/v1/replenishment/orders', wide: true,
    caption: 'Purchase orders; those awaiting approval wait for a decision (the workflow\'s Update)',
    idField: 'po_id',
    cols: ['po_id', 'product_id', 'warehouse_id', 'supplier_id', 'quantity', 'value_minor', 'currency', 'status', 'approval_deadline'],
    actions: [
      { name: 'approve', label: 'Approve', cls: 'ok', method: 'POST', path: id => `/v1/replenishment/orders/${id}/approve`, when: r => r.status === 'awaiting_approval' },
      { name: 'reject', label: 'Reject', cls: 'danger', method: 'POST', path: id => `/v1/replenishment/orders/${id}/reject`, when: r => r.status === 'awaiting_approval' },
    ],
  }),
  listPanel({
    id: 'pricing', title: 'Pricing recommendations', path: '/v1/pricing/recommendations', wide: true,
    caption: 'Recommended prices per product',
    cols: ['product_id', 'currency', 'current_price_minor', 'recommended_price_minor', 'elasticity', 'status'],
    actions: [
      { name: 'approve', label: 'Approve', cls: 'ok', method: 'POST', path: id => `/v1/pricing/recommendations/${id}/approve`, when: r => r.status === 'proposed' },
      { name: 'reject', label: 'Reject', cls: 'danger', method: 'POST', path: id => `/v1/pricing/recommendations/${id}/reject`, when: r => r.status === 'proposed' },
    ],
  }),
  listPanel({
    id: 'data-quality', title: 'Data quality', path: '/v1/data-quality', wide: true,
    caption: 'Latest result of each check, per table; failed checks first',
    key: r => `${r.table}/${r.grain}/${r.check}`,
    cols: ['table', 'grain', 'check', 'period_start', 'passed', 'value', 'threshold', 'score'],
    sort: (a, b) => Number(a.passed) - Number(b.passed),
  }),
  {
    id: 'segments',
    title: 'Customer segments and churn risk',
    wide: true,
    needs: ['GET /v1/segments', 'GET /v1/churn'],
    async load(ctx) {
      const [segments, churn] = await Promise.all([
        ctx.get('/v1/segments'),
        ctx.get('/v1/churn', { limit: 10, max_p_alive: 0.5 }),
      ]);
      return { segments, churn: churn.items };
    },
    render(body, d, ctx, panel) {
      const rfm = [...d.segments.rfm_segments].reverse(); // the largest on top
      const box = panel.slot('chart', () => chartBox('Customers per RFM segment'));
      replace(body, box,
        table({
          caption: `K-means clusters${d.segments.as_of ? ` as of ${d.segments.as_of}` : ''}: size and mean recency, orders and spend`,
          key: c => String(c.cluster),
          empty: 'No segmentation yet.',
          columns: [
            { label: 'Cluster', value: c => String(c.cluster) },
            { label: 'Customers', num: true, value: c => int(c.customers) },
            { label: 'Recency, days', num: true, value: c => c.mean_recency_days.toFixed(1) },
            { label: 'Orders', num: true, value: c => c.mean_orders.toFixed(1) },
            { label: 'Spend, minor units', num: true, value: c => int(Math.round(c.mean_monetary_minor)) },
            { label: 'Mostly', value: c => c.top_segment },
          ],
          rows: d.segments.clusters,
        }),
        table({
          caption: 'Customers most likely gone (BG/NBD: chance still active below 50%), with their expected value',
          key: c => c.customer_id,
          empty: 'No customer at risk.',
          columns: [
            { label: 'Customer', value: c => c.customer_id },
            { label: 'Segment', value: c => c.segment || '–' },
            { label: 'Still active', num: true, value: c => pct(c.p_alive) },
            { label: 'Expected purchases', num: true, value: c => c.expected_purchases.toFixed(2) },
            { label: 'Lifetime value', num: true, value: c => money(c.clv_minor, c.currency) },
          ],
          rows: d.churn,
        }));
      chart(box, {
        tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
        grid: { left: 120, right: 24, top: 10, bottom: 24 },
        xAxis: { type: 'value', minInterval: 1 },
        yAxis: { type: 'category', data: rfm.map(s => s.segment), axisLabel: { width: 110, overflow: 'truncate' } },
        series: [{ name: 'Customers', type: 'bar', data: rfm.map(s => s.customers), barMaxWidth: 18 }],
      });
      if (rfm.length === 0) body.append(el('p', { class: 'empty', text: 'No segmentation yet.' }));
    },
  },
];

// topPanel ranks the values of one dimension by revenue today.
function topPanel(id, title, dimension) {
  return {
    id,
    title,
    needs: ['GET /v1/top/{dimension}'],
    load: ctx => ctx.get(`/v1/top/${dimension}`, { from: ctx.today, tz: ctx.zone, currency: ctx.currency, limit: 10 }),
    render(body, d, ctx, panel) {
      const cur = ctx.currency;
      const items = [...d.items].reverse(); // the best on top of a horizontal bar chart
      const box = panel.slot('chart', () => chartBox(`${title}, revenue in ${cur}`));
      replace(body, box);
      chart(box, {
        tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
        grid: { left: 110, right: 24, top: 10, bottom: 24 },
        xAxis: { type: 'value' },
        yAxis: { type: 'category', data: items.map(i => i.value), axisLabel: { width: 100, overflow: 'truncate' } },
        series: [{ name: `Revenue (${cur})`, type: 'bar', data: items.map(i => major(i.revenue_minor, cur)), barMaxWidth: 18 }],
      });
      if (items.length === 0) body.append(el('p', { class: 'empty', text: 'No sales yet today.' }));
    },
  };
}

// cell formats one field of a list item: money in minor units with the
// item's currency, instants in the zone, fractions with two digits.
function cell(r, f, zone) {
  const v = r[f];
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number' && f.endsWith('_minor') && r.currency) return money(v, r.currency);
  if (typeof v === 'number') return Number.isInteger(v) ? int(v) : v.toFixed(2);
  if (typeof v === 'string' && /(_at|_deadline|_start|^time)$/.test(f) && !Number.isNaN(Date.parse(v))) return when(v, zone);
  return v;
}

// listPanel shows a list route's items as a table: the columns are the
// items' scalar fields (or cols), and actions become buttons per row.
function listPanel({ id, title, path, wide, caption, cols, idField = 'id', key, sort, actions = [] }) {
  return {
    id,
    title,
    wide,
    needs: [`GET ${path}`],
    load: ctx => ctx.get(path, { limit: 20 }),
    render(body, d, ctx) {
      const items = [...(Array.isArray(d) ? d : d.items || [])];
      if (sort) items.sort(sort);
      const scalar = k => items[0][k] === null || typeof items[0][k] !== 'object';
      const fields = items[0] ? (cols ? cols.filter(k => k in items[0]) : Object.keys(items[0]).filter(scalar)) : [];
      const usable = actions.filter(a => ctx.has(`${a.method} ${a.path('{id}')}`));
      replace(body, table({
        caption,
        key: key || (r => String(r[idField])),
        empty: 'Nothing yet.',
        columns: [
          ...fields.map(f => ({
            label: f.replace(/_minor$/, '').replaceAll('_', ' '),
            num: typeof items[0][f] === 'number',
            value: r => cell(r, f, ctx.zone),
          })),
          ...(usable.length ? [{
            label: 'Action', cls: 'actions',
            value: r => el('span', {}, usable.filter(a => !a.when || a.when(r)).map(a => el('button', {
              type: 'button', class: a.cls, text: a.label, dataset: { action: a.name, focus: `${a.name}:${r[idField]}` },
              'aria-label': `${a.label} ${title.toLowerCase()} ${r[idField]}`,
              onclick: e => {
                e.currentTarget.disabled = true;
                ctx.act(`${a.label}: ${r[idField]}`, a.method, a.path(encodeURIComponent(r[idField])), {}).catch(() => {});
              },
            }))),
          }] : []),
        ],
        rows: items,
      }));
    },
  };
}

// Overview: node facts, totals, live charts of message rates and queued
// messages, memory and disk against their watermarks.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { get, seg } from '../api.js';
import { Facts, fmtBytes, fmtDuration, fmtNum, fmtRate, html, LoadError, rate, Table, usePoll } from '../lib.js';

export const isMonitor = (me) => me.tags.includes('administrator') || me.tags.includes('monitoring');

const RATE_SERIES = [
  ['publish', 'Publish', '#1f77b4'],
  ['deliver_get', 'Deliver', '#2ca02c'],
  ['ack', 'Ack', '#9467bd'],
  ['confirm', 'Confirm', '#17becf'],
  ['redeliver', 'Redeliver', '#ff7f0e'],
  ['unroutable', 'Unroutable', '#d62728'],
];
const QUEUED_SERIES = [
  ['ready', 'Ready', '#1f77b4'],
  ['unacked', 'Unacked', '#ff7f0e'],
  ['total', 'Total', '#7f7f7f'],
];

/** Ten minutes of samples (one per refresh), kept across page changes for the session. */
const HISTORY = 120;
const history = { t: [], rates: RATE_SERIES.map(() => []), queued: QUEUED_SERIES.map(() => []) };

function record(overview) {
  const s = overview.message_stats ?? {};
  const q = overview.queue_totals ?? {};
  history.t.push(Date.now() / 1000);
  const unroutable = rate(s, 'return_unroutable') + rate(s, 'drop_unroutable');
  const deliverGet = rate(s, 'deliver') + rate(s, 'deliver_no_ack') + rate(s, 'get') + rate(s, 'get_no_ack');
  const values = { publish: rate(s, 'publish'), deliver_get: deliverGet, ack: rate(s, 'ack'), confirm: rate(s, 'confirm'), redeliver: rate(s, 'redeliver'), unroutable };
  RATE_SERIES.forEach(([key], i) => history.rates[i].push(values[key]));
  const queued = { ready: q.messages_ready ?? 0, unacked: q.messages_unacknowledged ?? 0, total: q.messages ?? 0 };
  QUEUED_SERIES.forEach(([key], i) => history.queued[i].push(queued[key]));
  if (history.t.length > HISTORY) {
    history.t.shift();
    for (const a of [...history.rates, ...history.queued]) a.shift();
  }
}

/** Axis numbers in a few characters: 950, 1.5k, 150k, 2.3M. */
const compact = (n) => new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(n);

/** A uPlot line chart that follows its container's width and takes new data without being rebuilt. */
function Chart({ title, series, data, unit }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    const opts = {
      width: Math.max(280, el.clientWidth),
      height: 200,
      series: [{}, ...series.map(([, label, stroke]) => ({ label, stroke, width: 2, value: (_u, v) => (v == null ? '–' : unit === 'rate' ? fmtRate(v) : fmtNum(v)) }))],
      axes: [
        { space: 70, values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleTimeString('en-GB')) },
        { size: 56, values: (_u, ticks) => ticks.map(compact) },
      ],
      // At least the last two minutes, growing to the ten kept.
      scales: { x: { time: true, range: (_u, min, max) => [Math.min(min, max - 120), max] }, y: { range: (_u, min, max) => [0, Math.max(1, max * 1.1)] } },
      legend: { live: false },
    };
    plot.current = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => plot.current.setSize({ width: Math.max(280, el.clientWidth), height: 200 }));
    resize.observe(el);
    return () => (resize.disconnect(), plot.current.destroy());
  }, []);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  const last = (i) => data[i + 1][data[i + 1].length - 1];
  return html`<figure class="chart" data-points=${data[0].length}>
    <figcaption>${title}</figcaption>
    <div ref=${box} class="plot" role="img" aria-label=${`${title} over the last minutes`}></div>
    <ul class="latest" aria-label=${`${title}, latest values`}>
      ${series.map(([key, label], i) => html`<li data-series=${key}><span class="swatch" style=${`background:${series[i][2]}`}></span>${label}: <b>${unit === 'rate' ? fmtRate(last(i)) : fmtNum(last(i))}</b></li>`)}
    </ul>
  </figure>`;
}

function Gauge({ label, used, limit, alarm, inverse }) {
  // Memory alarms when used exceeds the limit; disk when free falls below it.
  const pct = inverse ? Math.min(100, (limit / Math.max(used, 1)) * 100) : Math.min(100, (used / Math.max(limit, 1)) * 100);
  const text = inverse ? `${fmtBytes(used)} free, alarm below ${fmtBytes(limit)}` : `${fmtBytes(used)} used of ${fmtBytes(limit)} watermark`;
  return html`<div class=${`gauge ${alarm ? 'alarm' : ''}`}>
    <div class="gauge-head"><strong>${label}</strong> <span class="state">${alarm ? 'ALARM' : 'OK'}</span></div>
    <div class="bar" role="meter" aria-label=${label} aria-valuemin="0" aria-valuemax="100" aria-valuenow=${Math.round(pct)}><span style=${`width:${pct}%`}></span></div>
    <small>${text}</small>
  </div>`;
}

export function OverviewPage({ me }) {
  const monitor = isMonitor(me);
  const { data, error } = usePoll(async () => {
    const overview = await get('/api/overview');
    const node = monitor ? await get(`/api/nodes/${seg(overview.node)}`) : null;
    record(overview);
    return { overview, node, charts: { rates: [history.t.slice(), ...history.rates.map((a) => a.slice())], queued: [history.t.slice(), ...history.queued.map((a) => a.slice())] } };
  }, []);
  if (!data) return html`<h1>Overview</h1><${LoadError} error=${error} />${error ? null : html`<p class="loading">Loading…</p>`}`;
  const { overview: o, node, charts } = data;
  const t = o.object_totals;
  const q = o.queue_totals;
  return html`
    <h1>Overview</h1>
    <${LoadError} error=${error} />
    <section aria-labelledby="node-h" class="cards">
      <h2 id="node-h" class="sr-only">Node</h2>
      <${Facts} items=${[
        ['Node', html`<span data-testid="node">${o.node}</span>`],
        ['Version', `${o.product_name} ${o.product_version} (RabbitMQ ${o.rabbitmq_version} API)`],
        node && ['Uptime', fmtDuration(node.uptime)],
        ['Runtime', o.erlang_version],
        ['Listeners', o.listeners.map((l) => `${l.protocol} ${l.ip_address}:${l.port}`).join(', ')],
      ]} />
    </section>
    <section aria-labelledby="totals-h">
      <h2 id="totals-h">Totals</h2>
      <ul class="totals" data-testid="totals">
        ${[['Connections', t.connections], ['Channels', t.channels], ['Exchanges', t.exchanges], ['Queues', t.queues], ['Consumers', t.consumers], ['Ready', q.messages_ready], ['Unacked', q.messages_unacknowledged]].map(
          ([k, v]) => html`<li><span>${k}</span><b data-total=${k.toLowerCase()}>${fmtNum(v)}</b></li>`,
        )}
      </ul>
    </section>
    <section aria-labelledby="charts-h">
      <h2 id="charts-h">Activity</h2>
      <div class="charts">
        <${Chart} title="Message rates" series=${RATE_SERIES} data=${charts.rates} unit="rate" />
        <${Chart} title="Queued messages" series=${QUEUED_SERIES} data=${charts.queued} unit="count" />
      </div>
    </section>
    ${node
      ? html`<section aria-labelledby="res-h">
          <h2 id="res-h">Resources</h2>
          <div class="gauges">
            <${Gauge} label="Memory" used=${node.mem_used} limit=${node.mem_limit} alarm=${node.mem_alarm} />
            <${Gauge} label="Disk" used=${node.disk_free} limit=${node.disk_free_limit} alarm=${node.disk_free_alarm} inverse />
          </div>
          <${Facts} items=${[['File descriptors', `${fmtNum(node.fd_used)} of ${fmtNum(node.fd_total)}`], ['Processors', fmtNum(node.processors)]]} />
        </section>`
      : null}
    <section aria-labelledby="lis-h">
      <h2 id="lis-h">Listeners</h2>
      <${Table} label="Listeners" columns=${[
        { head: 'Protocol', cell: (l) => l.protocol },
        { head: 'Address', cell: (l) => l.ip_address },
        { head: 'Port', cell: (l) => l.port, num: true },
      ]} rows=${o.listeners} />
    </section>`;
}

// Queues: a server-side paged, sorted, filtered list (the URL holds the page,
// so back/forward and reload keep it); create; one queue's counts, rates,
// consumers and bindings; get messages, purge, delete.
import { useState } from 'preact/hooks';
import { del, get, post, put, seg } from '../api.js';
import { Facts, Field, fmtArgs, fmtBytes, fmtNum, fmtRate, Form, html, link, LoadError, Outcome, parseArgs, rate, Table, useAction, usePoll, vhostFilter, yesNo, confirmed } from '../lib.js';
import { VhostField } from '../vhost-field.js';
import { BindingsTable, unbindPath } from './exchanges.js';

const queueHref = (vhost, name) => `#/queues/${seg(vhost)}/${seg(name)}`;
const PAGE_SIZES = ['20', '50', '100', '500'];
const COLUMNS = 'name,vhost,type,durable,auto_delete,exclusive,consumers,messages,messages_ready,messages_unacknowledged,message_stats';
const SORTABLE = [
  ['name', 'Name'],
  ['messages', 'Messages'],
  ['messages_ready', 'Ready'],
  ['messages_unacknowledged', 'Unacked'],
  ['consumers', 'Consumers'],
];

/** The list's state lives in the URL (#/queues?page=2&name=foo&sort=messages&desc=1&size=50). */
function listState(query) {
  return {
    page: Math.max(1, Number(query.get('page')) || 1),
    size: PAGE_SIZES.includes(query.get('size')) ? query.get('size') : '50',
    name: query.get('name') ?? '',
    regex: query.get('regex') === '1',
    sort: query.get('sort') ?? 'name',
    desc: query.get('desc') === '1',
  };
}

function hrefFor(s) {
  const q = new URLSearchParams();
  if (s.page > 1) q.set('page', String(s.page));
  if (s.size !== '50') q.set('size', s.size);
  if (s.name) q.set('name', s.name);
  if (s.regex) q.set('regex', '1');
  if (s.sort !== 'name') q.set('sort', s.sort);
  if (s.desc) q.set('desc', '1');
  const text = q.toString();
  return text ? `#/queues?${text}` : '#/queues';
}

export function QueuesPage({ query }) {
  const s = listState(query);
  const vhost = vhostFilter.get();
  const api = `${vhost ? `/api/queues/${seg(vhost)}` : '/api/queues'}?${new URLSearchParams({
    page: String(s.page), page_size: s.size, name: s.name, use_regex: String(s.regex), sort: s.sort, sort_reverse: String(s.desc), pagination: 'true', columns: COLUMNS,
  })}`;
  const { data, error, reload } = usePoll(() => get(api), [api]);
  const [outcome, run] = useAction();
  const go = (change) => (location.hash = hrefFor({ ...s, ...change }));
  const filter = (f) => go({ name: f.name, regex: f.regex, page: 1 });
  const sortHead = (key, label) => {
    const active = s.sort === key;
    const next = { sort: key, desc: active ? !s.desc : key !== 'name', page: 1 };
    return html`<a href=${hrefFor({ ...s, ...next })} aria-sort=${active ? (s.desc ? 'descending' : 'ascending') : undefined}>${label}${active ? (s.desc ? ' ▼' : ' ▲') : ''}</a>`;
  };
  const create = (f) =>
    run(async () => {
      const args = parseArgs(f.arguments);
      args['x-queue-type'] = f.type;
      for (const [key, field] of [['x-message-ttl', 'ttl'], ['x-expires', 'expires'], ['x-max-length', 'max_length'], ['x-max-length-bytes', 'max_length_bytes'], ['x-max-priority', 'max_priority'], ['x-delivery-limit', 'delivery_limit']]) {
        if (f[field] !== '') args[key] = Number(f[field]);
      }
      if (f.overflow) args['x-overflow'] = f.overflow;
      if (f.dlx) args['x-dead-letter-exchange'] = f.dlx;
      if (f.dlrk) args['x-dead-letter-routing-key'] = f.dlrk;
      if (f.sac) args['x-single-active-consumer'] = true;
      await put(`/api/queues/${seg(f.vhost)}/${seg(f.name)}`, { durable: f.durable, auto_delete: f.auto_delete, arguments: args });
      reload();
    }, `Queue ${f.name} created.`);
  const rows = data?.items ?? [];
  return html`<h1>Queues</h1>
    <${LoadError} error=${error} />
    <${Form} label="Filter queues" class="form inline" onSubmit=${filter}>
      <${Field} label="Name contains" name="name" type="search" defaultValue=${s.name} key=${`n${s.name}`} />
      <${Field} label="Regular expression" name="regex" type="checkbox" defaultChecked=${s.regex} key=${`r${s.regex}`} />
      <button type="submit">Filter</button>
    </${Form}>
    ${data
      ? html`<p class="summary" data-testid="queue-summary">
          ${fmtNum(data.filtered_count)} ${data.filtered_count === 1 ? 'queue' : 'queues'}${data.filtered_count !== data.total_count ? ` (of ${fmtNum(data.total_count)})` : ''}, page ${data.page_count === 0 ? 0 : data.page} of ${fmtNum(data.page_count)}
        </p>`
      : null}
    ${data === undefined && !error ? html`<p class="loading">Loading…</p>` : null}
    <${Table} label="Queues" empty="No queues." rowKey=${(q) => `${q.vhost}/${q.name}`} rows=${rows} columns=${[
      { head: 'Vhost', cell: (q) => q.vhost },
      { head: sortHead('name', 'Name'), cell: (q) => link(queueHref(q.vhost, q.name), q.name) },
      { head: 'Type', cell: (q) => q.type },
      { head: 'Features', cell: (q) => [q.durable ? 'D' : '', q.auto_delete ? 'AD' : '', q.exclusive ? 'Excl' : ''].filter(Boolean).join(' ') || '–' },
      ...SORTABLE.slice(1).map(([key, label]) => ({ head: sortHead(key, label), cell: (q) => fmtNum(q[key]), num: true })),
      { head: 'Incoming', cell: (q) => fmtRate(rate(q.message_stats, 'publish')), num: true },
      { head: 'Deliver', cell: (q) => fmtRate(rate(q.message_stats, 'deliver') + rate(q.message_stats, 'deliver_no_ack')), num: true },
      { head: 'Ack', cell: (q) => fmtRate(rate(q.message_stats, 'ack')), num: true },
    ]} />
    ${data && data.page_count > 1
      ? html`<nav class="pager" aria-label="Pages">
          <a href=${hrefFor({ ...s, page: 1 })} aria-disabled=${s.page <= 1}>First</a>
          <a href=${hrefFor({ ...s, page: Math.max(1, s.page - 1) })} aria-disabled=${s.page <= 1} rel="prev">Previous</a>
          <span>Page ${data.page} of ${data.page_count}</span>
          <a href=${hrefFor({ ...s, page: Math.min(data.page_count, s.page + 1) })} aria-disabled=${s.page >= data.page_count} rel="next">Next</a>
          <a href=${hrefFor({ ...s, page: data.page_count })} aria-disabled=${s.page >= data.page_count}>Last</a>
          <label>Per page <select onChange=${(e) => go({ size: e.currentTarget.value, page: 1 })}>${PAGE_SIZES.map((n) => html`<option selected=${n === s.size}>${n}</option>`)}</select></label>
        </nav>`
      : null}
    <details class="panel">
      <summary>Add a queue</summary>
      <${Form} label="Add a queue" onSubmit=${create}>
        <${VhostField} />
        <${Field} label="Name" name="name" required />
        <${Field} label="Type" name="type" as="select" options=${[['classic', 'Classic'], ['quorum', 'Quorum']]} />
        <${Field} label="Durable" name="durable" type="checkbox" defaultChecked />
        <${Field} label="Auto-delete" name="auto_delete" type="checkbox" />
        <div class="row">
          <${Field} label="Message TTL (ms)" name="ttl" type="number" min="0" />
          <${Field} label="Expires (ms)" name="expires" type="number" min="1" />
          <${Field} label="Max length" name="max_length" type="number" min="0" />
          <${Field} label="Max length bytes" name="max_length_bytes" type="number" min="0" />
          <${Field} label="Overflow" name="overflow" as="select" options=${[['', '(default)'], 'drop-head', 'reject-publish', 'reject-publish-dlx']} />
          <${Field} label="Max priority" name="max_priority" type="number" min="1" max="255" />
          <${Field} label="Delivery limit (quorum)" name="delivery_limit" type="number" min="0" />
          <${Field} label="Dead letter exchange" name="dlx" />
          <${Field} label="Dead letter routing key" name="dlrk" />
        </div>
        <${Field} label="Single active consumer" name="sac" type="checkbox" />
        <${Field} label="Other arguments (name = value, one a line)" name="arguments" as="textarea" rows="2" />
        <button type="submit">Add queue</button>
      </${Form}>
      <${Outcome} outcome=${outcome} />
    </details>`;
}

function Message({ m, encoding }) {
  const asBase64 = encoding === 'base64' || m.payload_encoding === 'base64';
  return html`<article class="message">
    <${Facts} items=${[
      ['Exchange', m.exchange === '' ? '(AMQP default)' : m.exchange],
      ['Routing key', m.routing_key],
      ['Redelivered', yesNo(m.redelivered)],
      ['Remaining in queue', fmtNum(m.message_count)],
      ['Properties', fmtArgs(m.properties)],
      ['Payload', html`${fmtNum(m.payload_bytes)} bytes, ${asBase64 ? 'base64' : 'text'}`],
    ]} />
    <pre class="payload" data-testid="payload">${m.payload}</pre>
  </article>`;
}

export function QueuePage({ vhost, name }) {
  const base = `/api/queues/${seg(vhost)}/${seg(name)}`;
  const { data, error, reload } = usePoll(async () => {
    const [q, bindings, consumers] = await Promise.all([get(base), get(`${base}/bindings`), get(`/api/consumers/${seg(vhost)}`)]);
    return { q, bindings, consumers: consumers.filter((c) => c.queue.name === name) };
  }, [base]);
  const [outcome, run] = useAction();
  const [got, setGot] = useState(null);
  const getMessages = (f) =>
    run(async () => {
      const list = await post(`${base}/get`, { count: Number(f.count), ackmode: f.ackmode, encoding: f.encoding, truncate: f.truncate ? Number(f.truncate) : null });
      setGot({ list, encoding: f.encoding });
      reload();
    }, null);
  const bind = (f) =>
    run(async () => {
      await post(`/api/bindings/${seg(vhost)}/e/${seg(f.source)}/q/${seg(name)}`, { routing_key: f.routing_key, arguments: parseArgs(f.arguments) });
      reload();
    }, `Bound from exchange ${f.source}.`);
  const unbind = (b) =>
    run(async () => {
      await del(unbindPath(b));
      reload();
    }, 'Binding removed.');
  const purge = () => {
    if (!confirmed(`Purge all ready messages of ${name}?`)) return;
    run(async () => {
      await del(`${base}/contents`);
      reload();
    }, 'Queue purged.');
  };
  const remove = () => {
    if (!confirmed(`Delete queue ${name}?`)) return;
    run(async () => {
      await del(base);
      location.hash = '#/queues';
    });
  };
  const q = data?.q;
  return html`<p class="crumbs">${link('#/queues', 'Queues')} / ${vhost}</p>
    <h1>Queue <span class="name">${name}</span></h1>
    <${LoadError} error=${error} />
    <${Outcome} outcome=${outcome} />
    ${q
      ? html`<ul class="totals" data-testid="queue-counts">
          ${[['Ready', q.messages_ready], ['Unacked', q.messages_unacknowledged], ['Total', q.messages], ['Consumers', q.consumers]].map(([k, v]) => html`<li><span>${k}</span><b data-count=${k.toLowerCase()}>${fmtNum(v)}</b></li>`)}
          ${[['Incoming', 'publish'], ['Deliver', 'deliver'], ['Ack', 'ack'], ['Redeliver', 'redeliver']].map(([k, key]) => html`<li><span>${k}</span><b>${fmtRate(rate(q.message_stats, key))}</b></li>`)}
        </ul>
        <${Facts} items=${[
          ['Virtual host', q.vhost],
          ['Type', q.type],
          ['Durable', yesNo(q.durable)],
          ['Auto-delete', yesNo(q.auto_delete)],
          ['Exclusive', yesNo(q.exclusive)],
          ['Arguments', fmtArgs(q.arguments)],
          ['Policy', q.policy ?? '–'],
          ['Operator policy', q.operator_policy ?? '–'],
          ['Effective policy definition', fmtArgs(q.effective_policy_definition)],
          ['Bytes', fmtBytes(q.message_bytes)],
          ['Paged out', fmtNum(q.messages_paged_out)],
          q.idle_since && ['Idle since', q.idle_since],
        ]} />
        <h2>Consumers</h2>
        <${Table} label="Consumers" empty="No consumers." rows=${data.consumers} columns=${[
          { head: 'Tag', cell: (c) => c.consumer_tag },
          { head: 'Channel', cell: (c) => link(`#/channels/${seg(c.channel_details.name)}`, c.channel_details.name) },
          { head: 'Ack required', cell: (c) => yesNo(c.ack_required) },
          { head: 'Exclusive', cell: (c) => yesNo(c.exclusive) },
          { head: 'Prefetch', cell: (c) => fmtNum(c.prefetch_count), num: true },
        ]} />
        <h2>Bindings</h2>
        <${BindingsTable} label="Bindings to this queue" rows=${data.bindings} side="destination" onUnbind=${unbind} />`
      : null}
    <h3>Bind from an exchange</h3>
    <${Form} label="Bind from an exchange" onSubmit=${bind}>
      <${Field} label="From exchange" name="source" required />
      <${Field} label="Routing key" name="routing_key" />
      <${Field} label="Arguments (name = value, one a line)" name="arguments" as="textarea" rows="2" />
      <button type="submit">Bind</button>
    </${Form}>
    <h2>Get messages</h2>
    <p class="hint">Getting a message with "Nack, requeue" puts it back at the head of the queue, marked redelivered.</p>
    <${Form} label="Get messages" onSubmit=${getMessages}>
      <div class="row">
        <${Field} label="Ack mode" name="ackmode" as="select" options=${[['ack_requeue_true', 'Nack, requeue'], ['ack_requeue_false', 'Ack (remove)'], ['reject_requeue_true', 'Reject, requeue'], ['reject_requeue_false', 'Reject, no requeue']]} />
        <${Field} label="Encoding" name="encoding" as="select" options=${[['auto', 'Text if possible'], ['base64', 'Base64']]} />
        <${Field} label="Messages" name="count" type="number" min="1" defaultValue="1" required />
        <${Field} label="Truncate at (bytes)" name="truncate" type="number" min="0" />
      </div>
      <button type="submit">Get messages</button>
    </${Form}>
    ${got
      ? got.list.length === 0
        ? html`<p class="empty" role="status">The queue is empty.</p>`
        : html`<section aria-label="Messages got">${got.list.map((m) => html`<${Message} m=${m} encoding=${got.encoding} />`)}</section>`
      : null}
    <h2>Purge and delete</h2>
    <div class="actions">
      <button type="button" onClick=${purge}>Purge messages</button>
      <button type="button" class="danger" onClick=${remove}>Delete this queue</button>
    </div>`;
}

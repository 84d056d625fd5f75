// Exchanges: list and create; one exchange's bindings (in and out), bind and
// unbind, publish a message, delete.
import { del, get, post, put, seg } from '../api.js';
import { Facts, Field, fmtArgs, fmtRate, Form, html, link, LoadError, Outcome, parseArgs, rate, Table, useAction, usePoll, vhostFilter, yesNo, confirmed } from '../lib.js';
import { VhostField } from '../vhost-field.js';

/** The default exchange is "amq.default" in URLs, "(AMQP default)" on screen. */
const urlName = (name) => (name === '' ? 'amq.default' : name);
export const exchangeHref = (vhost, name) => `#/exchanges/${seg(vhost)}/${seg(urlName(name))}`;
const shown = (name) => (name === '' ? '(AMQP default)' : name);

export function ExchangesPage({ me }) {
  const vhost = vhostFilter.get();
  const path = vhost ? `/api/exchanges/${seg(vhost)}` : '/api/exchanges';
  const { data, error, reload } = usePoll(() => get(path), [path]);
  const [outcome, run] = useAction();
  const create = (f) =>
    run(async () => {
      const body = { type: f.type, durable: f.durable, auto_delete: f.auto_delete, internal: f.internal, arguments: parseArgs(f.arguments) };
      if (f.alternate) body.arguments['alternate-exchange'] = f.alternate;
      await put(`/api/exchanges/${seg(f.vhost)}/${seg(f.name)}`, body);
      reload();
    }, `Exchange ${f.name} created.`);
  return html`<h1>Exchanges</h1>
    <${LoadError} error=${error} />
    ${data
      ? html`<${Table} label="Exchanges" rowKey=${(x) => `${x.vhost}/${x.name}`} rows=${data} columns=${[
          { head: 'Vhost', cell: (x) => x.vhost },
          { head: 'Name', cell: (x) => link(exchangeHref(x.vhost, x.name), shown(x.name)) },
          { head: 'Type', cell: (x) => x.type },
          { head: 'Features', cell: (x) => [x.durable ? 'D' : '', x.auto_delete ? 'AD' : '', x.internal ? 'I' : ''].filter(Boolean).join(' ') || '–' },
          { head: 'In', cell: (x) => fmtRate(rate(x.message_stats, 'publish_in')), num: true },
          { head: 'Out', cell: (x) => fmtRate(rate(x.message_stats, 'publish_out')), num: true },
        ]} />`
      : html`<p class="loading">Loading…</p>`}
    <details class="panel">
      <summary>Add an exchange</summary>
      <${Form} label="Add an exchange" onSubmit=${create}>
        <${VhostField} me=${me} />
        <${Field} label="Name" name="name" required />
        <${Field} label="Type" name="type" as="select" options=${['direct', 'fanout', 'topic', 'headers']} />
        <${Field} label="Durable" name="durable" type="checkbox" defaultChecked />
        <${Field} label="Auto-delete" name="auto_delete" type="checkbox" />
        <${Field} label="Internal" name="internal" type="checkbox" />
        <${Field} label="Alternate exchange" name="alternate" />
        <${Field} label="Other arguments (name = value, one a line)" name="arguments" as="textarea" rows="2" />
        <button type="submit">Add exchange</button>
      </${Form}>
      <${Outcome} outcome=${outcome} />
    </details>`;
}

export function BindingsTable({ rows, side, onUnbind, label }) {
  const other = (b) =>
    side === 'source'
      ? b.destination_type === 'queue'
        ? link(`#/queues/${seg(b.vhost)}/${seg(b.destination)}`, `queue ${b.destination}`)
        : link(exchangeHref(b.vhost, b.destination), `exchange ${b.destination}`)
      : link(exchangeHref(b.vhost, b.source), shown(b.source));
  const columns = [
    { head: side === 'source' ? 'To' : 'From', cell: other },
    { head: 'Routing key', cell: (b) => html`<code>${b.routing_key}</code>` },
    { head: 'Arguments', cell: (b) => fmtArgs(b.arguments) },
  ];
  if (onUnbind) columns.push({ head: 'Action', cell: (b) => (b.source === '' ? '–' : html`<button type="button" class="small" onClick=${() => onUnbind(b)}>Unbind</button>`) });
  return html`<${Table} label=${label} empty="No bindings." rows=${rows} columns=${columns} />`;
}

export const unbindPath = (b) => `/api/bindings/${seg(b.vhost)}/e/${seg(b.source)}/${b.destination_type === 'queue' ? 'q' : 'e'}/${seg(b.destination)}/${seg(b.properties_key)}`;

export function ExchangePage({ vhost, name }) {
  const base = `/api/exchanges/${seg(vhost)}/${seg(name)}`;
  const realName = name === 'amq.default' ? '' : name;
  const { data, error, reload } = usePoll(async () => {
    const [x, out, into] = await Promise.all([get(base), get(`${base}/bindings/source`), get(`${base}/bindings/destination`)]);
    return { x, out, into };
  }, [base]);
  const [outcome, run] = useAction();
  const [pubOutcome, runPublish] = useAction();
  const bind = (f) =>
    run(async () => {
      await post(`/api/bindings/${seg(vhost)}/e/${seg(name)}/${f.dtype}/${seg(f.destination)}`, { routing_key: f.routing_key, arguments: parseArgs(f.arguments) });
      reload();
    }, `Bound to ${f.dtype === 'q' ? 'queue' : 'exchange'} ${f.destination}.`);
  const unbind = (b) =>
    run(async () => {
      await del(unbindPath(b));
      reload();
    }, 'Binding removed.');
  const publish = (f) =>
    runPublish(
      async () => {
        const properties = { delivery_mode: Number(f.delivery_mode), headers: parseArgs(f.headers) };
        for (const k of ['content_type', 'correlation_id', 'reply_to', 'expiration', 'message_id', 'type']) if (f[k]) properties[k] = f[k];
        if (f.priority) properties.priority = Number(f.priority);
        return post(`${base}/publish`, { routing_key: f.routing_key, properties, payload: f.payload, payload_encoding: f.payload_encoding });
      },
      (r) => (r.routed ? 'Message published and routed.' : 'Message published, but not routed to any queue.'),
    );
  const remove = () => {
    if (!confirmed(`Delete exchange ${name}?`)) return;
    run(async () => {
      await del(base);
      location.hash = '#/exchanges';
    });
  };
  return html`<p class="crumbs">${link('#/exchanges', 'Exchanges')} / ${vhost}</p>
    <h1>Exchange <span class="name">${shown(realName)}</span></h1>
    <${LoadError} error=${error} />
    <${Outcome} outcome=${outcome} />
    ${data
      ? html`<${Facts} items=${[
          ['Virtual host', data.x.vhost],
          ['Type', data.x.type],
          ['Durable', yesNo(data.x.durable)],
          ['Auto-delete', yesNo(data.x.auto_delete)],
          ['Internal', yesNo(data.x.internal)],
          ['Arguments', fmtArgs(data.x.arguments)],
          ['Publish in', fmtRate(rate(data.x.message_stats, 'publish_in'))],
          ['Publish out', fmtRate(rate(data.x.message_stats, 'publish_out'))],
        ]} />
        <h2>Bindings from this exchange</h2>
        <${BindingsTable} label="Bindings from this exchange" rows=${data.out} side="source" onUnbind=${realName === '' ? null : unbind} />
        <h2>Bindings to this exchange</h2>
        <${BindingsTable} label="Bindings to this exchange" rows=${data.into} side="destination" />`
      : null}
    ${realName !== ''
      ? html`<h2>Add a binding from this exchange</h2>
        <${Form} label="Add a binding" onSubmit=${bind}>
          <${Field} label="Destination type" name="dtype" as="select" options=${[['q', 'Queue'], ['e', 'Exchange']]} />
          <${Field} label="Destination name" name="destination" required />
          <${Field} label="Routing key" name="routing_key" />
          <${Field} label="Arguments (name = value, one a line)" name="arguments" as="textarea" rows="2" />
          <button type="submit">Bind</button>
        </${Form}>`
      : null}
    <h2>Publish a message</h2>
    <${Form} label="Publish a message" onSubmit=${publish}>
      <${Field} label="Routing key" name="routing_key" />
      <${Field} label="Delivery mode" name="delivery_mode" as="select" options=${[['1', '1 – non-persistent'], ['2', '2 – persistent']]} />
      <${Field} label="Headers (name = value, one a line)" name="headers" as="textarea" rows="2" />
      <div class="row">
        <${Field} label="content_type" name="content_type" />
        <${Field} label="correlation_id" name="correlation_id" />
        <${Field} label="reply_to" name="reply_to" />
        <${Field} label="message_id" name="message_id" />
        <${Field} label="expiration (ms)" name="expiration" inputmode="numeric" />
        <${Field} label="priority" name="priority" type="number" min="0" max="255" />
        <${Field} label="type" name="type" />
      </div>
      <${Field} label="Payload" name="payload" as="textarea" rows="4" />
      <${Field} label="Payload encoding" name="payload_encoding" as="select" options=${[['string', 'Text'], ['base64', 'Base64']]} />
      <button type="submit">Publish message</button>
    </${Form}>
    <${Outcome} outcome=${pubOutcome} />
    ${realName !== ''
      ? html`<h2>Delete</h2><button type="button" class="danger" onClick=${remove}>Delete this exchange</button>`
      : null}`;
}

// Connections and channels: lists, details, closing a connection with a reason.
import { del, get, seg } from '../api.js';
import { Facts, Field, fmtArgs, fmtBytes, fmtNum, fmtRate, Form, html, link, LoadError, Outcome, rate, Table, useAction, usePoll, vhostFilter, yesNo } from '../lib.js';

const scoped = (what) => (vhostFilter.get() ? `/api/vhosts/${seg(vhostFilter.get())}/${what}` : `/api/${what}`);
const connHref = (name) => `#/connections/${seg(name)}`;
const chanHref = (name) => `#/channels/${seg(name)}`;

/** Flow control shows as the state: "running", "blocked"/"blocking" while a publisher is held back, "closing". */
const state = (s) => html`<span class=${`state state-${s}`}>${s}</span>`;
const tls = (c) => (c.ssl ? `yes${c.ssl_protocol ? ` (${c.ssl_protocol})` : ''}` : 'no');

export function ConnectionsPage() {
  const { data, error } = usePoll(() => get(scoped('connections')), [vhostFilter.get()]);
  return html`<h1>Connections</h1>
    <${LoadError} error=${error} />
    ${data === undefined && !error ? html`<p class="loading">Loading…</p>` : null}
    ${data
      ? html`<${Table} label="Connections" empty="No connections." rowKey=${(c) => c.name} rows=${data} columns=${[
          { head: 'Name', cell: (c) => link(connHref(c.name), c.user_provided_name ? `${c.name} (${c.user_provided_name})` : c.name) },
          { head: 'User', cell: (c) => c.user },
          { head: 'Vhost', cell: (c) => c.vhost },
          { head: 'Peer', cell: (c) => `${c.peer_host}:${c.peer_port}` },
          { head: 'TLS', cell: tls },
          { head: 'State', cell: (c) => state(c.state) },
          { head: 'Channels', cell: (c) => fmtNum(c.channels), num: true },
          { head: 'In', cell: (c) => `${fmtBytes(c.recv_oct_details?.rate ?? 0)}/s`, num: true },
          { head: 'Out', cell: (c) => `${fmtBytes(c.send_oct_details?.rate ?? 0)}/s`, num: true },
        ]} />`
      : null}`;
}

export function ConnectionPage({ name }) {
  const { data, error } = usePoll(async () => {
    const [c, channels] = await Promise.all([get(`/api/connections/${seg(name)}`), get(`/api/connections/${seg(name)}/channels`)]);
    return { c, channels };
  }, [name]);
  const [outcome, run] = useAction();
  const close = ({ reason }) =>
    run(async () => {
      await del(`/api/connections/${seg(name)}`, reason ? { 'x-reason': reason } : {});
      location.hash = '#/connections';
    }, 'Connection closed.');
  return html`<p class="crumbs">${link('#/connections', 'Connections')} /</p>
    <h1>Connection <span class="name">${name}</span></h1>
    <${LoadError} error=${error} />
    ${data
      ? html`<${Facts} items=${[
          ['User', data.c.user],
          ['Virtual host', data.c.vhost],
          ['Peer', `${data.c.peer_host}:${data.c.peer_port}`],
          ['Local', `${data.c.host}:${data.c.port}`],
          ['TLS', tls(data.c)],
          ['State', state(data.c.state)],
          ['Protocol', data.c.protocol],
          ['Auth mechanism', data.c.auth_mechanism],
          ['Heartbeat', `${data.c.timeout} s`],
          ['Frame max', fmtNum(data.c.frame_max)],
          ['Channel max', fmtNum(data.c.channel_max)],
          ['Received', `${fmtBytes(data.c.recv_oct)} (${fmtBytes(data.c.recv_oct_details?.rate ?? 0)}/s)`],
          ['Sent', `${fmtBytes(data.c.send_oct)} (${fmtBytes(data.c.send_oct_details?.rate ?? 0)}/s)`],
          ['Client', fmtArgs(data.c.client_properties)],
        ]} />
        <h2>Channels</h2>
        <${ChannelTable} rows=${data.channels} />`
      : null}
    <h2>Close this connection</h2>
    <${Form} label="Close connection" onSubmit=${close}>
      <${Field} label="Reason (sent to the client)" name="reason" defaultValue="Closed via management plugin" />
      <button type="submit" class="danger">Close connection</button>
    </${Form}>
    <${Outcome} outcome=${outcome} />`;
}

function ChannelTable({ rows }) {
  return html`<${Table} label="Channels" empty="No channels." rowKey=${(c) => c.name} rows=${rows} columns=${[
    { head: 'Channel', cell: (c) => link(chanHref(c.name), c.name) },
    { head: 'User', cell: (c) => c.user },
    { head: 'Vhost', cell: (c) => c.vhost },
    { head: 'Peer', cell: (c) => `${c.connection_details.peer_host}:${c.connection_details.peer_port}` },
    { head: 'Mode', cell: (c) => [c.confirm ? 'confirm' : '', c.transactional ? 'tx' : ''].filter(Boolean).join(' ') || '–' },
    { head: 'State', cell: (c) => state(c.state) },
    { head: 'Prefetch', cell: (c) => fmtNum(c.prefetch_count), num: true },
    { head: 'Consumers', cell: (c) => fmtNum(c.consumer_count), num: true },
    { head: 'Unacked', cell: (c) => fmtNum(c.messages_unacknowledged), num: true },
    { head: 'Publish', cell: (c) => fmtRate(rate(c.message_stats, 'publish')), num: true },
    { head: 'Deliver', cell: (c) => fmtRate(rate(c.message_stats, 'deliver') + rate(c.message_stats, 'deliver_no_ack')), num: true },
    { head: 'Ack', cell: (c) => fmtRate(rate(c.message_stats, 'ack')), num: true },
  ]} />`;
}

export function ChannelsPage() {
  const { data, error } = usePoll(() => get(scoped('channels')), [vhostFilter.get()]);
  return html`<h1>Channels</h1>
    <${LoadError} error=${error} />
    ${data === undefined && !error ? html`<p class="loading">Loading…</p>` : null}
    ${data ? html`<${ChannelTable} rows=${data} />` : null}`;
}

export function ChannelPage({ name }) {
  const { data: ch, error } = usePoll(() => get(`/api/channels/${seg(name)}`), [name]);
  const { data: consumers } = usePoll(async () => (ch ? (await get(`/api/consumers/${seg(ch.vhost)}`)).filter((c) => c.channel_details.name === name) : []), [name, ch?.vhost]);
  return html`<p class="crumbs">${link('#/channels', 'Channels')} /</p>
    <h1>Channel <span class="name">${name}</span></h1>
    <${LoadError} error=${error} />
    ${ch
      ? html`<${Facts} items=${[
          ['Connection', link(connHref(ch.connection_details.name), ch.connection_details.name)],
          ['User', ch.user],
          ['Virtual host', ch.vhost],
          ['State', state(ch.state)],
          ['Confirm mode', yesNo(ch.confirm)],
          ['Transactional', yesNo(ch.transactional)],
          ['Prefetch', `${fmtNum(ch.prefetch_count)} per consumer, ${fmtNum(ch.global_prefetch_count)} per channel`],
          ['Unacked', fmtNum(ch.messages_unacknowledged)],
          ['Unconfirmed', fmtNum(ch.messages_unconfirmed)],
          ['Publish', fmtRate(rate(ch.message_stats, 'publish'))],
          ['Deliver', fmtRate(rate(ch.message_stats, 'deliver'))],
          ['Ack', fmtRate(rate(ch.message_stats, 'ack'))],
        ]} />
        <h2>Consumers</h2>
        <${Table} label="Consumers" empty="No consumers." rows=${consumers ?? []} columns=${[
          { head: 'Tag', cell: (c) => c.consumer_tag },
          { head: 'Queue', cell: (c) => link(`#/queues/${seg(c.queue.vhost)}/${seg(c.queue.name)}`, c.queue.name) },
          { head: 'Ack required', cell: (c) => yesNo(c.ack_required) },
          { head: 'Exclusive', cell: (c) => yesNo(c.exclusive) },
          { head: 'Prefetch', cell: (c) => fmtNum(c.prefetch_count), num: true },
        ]} />`
      : null}`;
}

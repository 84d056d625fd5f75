// Admin sections for runtime settings: policies and operator policies (list,
// add or update, edit, delete) and virtual host limits (show, set, clear).
import { del, get, put, seg } from '../api.js';
import { Field, Form, html, LoadError, Outcome, Table, useAction, usePoll, confirmed } from '../lib.js';

const KINDS = [
  ['policy', 'Policy', '/api/policies'],
  ['operator-policy', 'Operator policy', '/api/operator-policies'],
];
const kindText = (kind) => KINDS.find(([k]) => k === kind)[1];
const kindApi = (kind) => KINDS.find(([k]) => k === kind)[2];
const APPLY_TO = [['all', 'Exchanges and queues'], ['queues', 'Queues'], ['classic_queues', 'Classic queues'], ['quorum_queues', 'Quorum queues'], ['exchanges', 'Exchanges']];
const LIMITS = [['max-connections', 'Max connections'], ['max-queues', 'Max queues']];

/** The definition textarea as an object, or an error saying what is wrong with it. */
function parseDefinition(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`The definition is not JSON: ${err.message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('The definition must be a JSON object, such as {"max-length": 1000}.');
  return value;
}

export function Policies() {
  const { data, error, reload } = usePoll(async () => {
    const [policies, operator, vhosts] = await Promise.all([get('/api/policies'), get('/api/operator-policies'), get('/api/vhosts?columns=name')]);
    return { policy: policies, 'operator-policy': operator, vhosts: vhosts.map((v) => v.name) };
  }, []);
  const [outcome, run] = useAction();
  const save = (f) =>
    run(async () => {
      const body = { pattern: f.pattern, definition: parseDefinition(f.definition), priority: Number(f.priority || 0), 'apply-to': f.apply_to };
      await put(`${kindApi(f.kind)}/${seg(f.vhost)}/${seg(f.name)}`, body);
      reload();
    }, `${kindText(f.kind)} ${f.name} saved.`);
  // Edit copies a policy into the form (saving under the same name updates it) and moves the cursor there.
  const edit = (kind, p) => {
    const form = document.querySelector('form[aria-label="Add or update a policy"]');
    const values = { kind, vhost: p.vhost, name: p.name, pattern: p.pattern, apply_to: p['apply-to'], priority: String(p.priority), definition: JSON.stringify(p.definition, null, 1) };
    for (const [field, value] of Object.entries(values)) form.elements[field].value = value;
    form.elements.pattern.focus();
  };
  const remove = (kind, p) => {
    if (!confirmed(`Delete ${kindText(kind).toLowerCase()} ${p.name} in ${p.vhost}?`)) return;
    run(async () => {
      await del(`${kindApi(kind)}/${seg(p.vhost)}/${seg(p.name)}`);
      reload();
    }, `${kindText(kind)} ${p.name} deleted.`);
  };
  const columns = (kind) => [
    { head: 'Vhost', cell: (p) => p.vhost },
    { head: 'Name', cell: (p) => p.name },
    { head: 'Pattern', cell: (p) => html`<code>${p.pattern}</code>` },
    { head: 'Apply to', cell: (p) => p['apply-to'] },
    { head: 'Definition', cell: (p) => html`<code>${JSON.stringify(p.definition)}</code>` },
    { head: 'Priority', cell: (p) => p.priority, num: true },
    {
      head: 'Actions',
      cell: (p) => html`<div class="actions">
        <button type="button" class="small" onClick=${() => edit(kind, p)} aria-label=${`Edit ${kindText(kind).toLowerCase()} ${p.name} in ${p.vhost}`}>Edit</button>
        <button type="button" class="small danger" onClick=${() => remove(kind, p)} aria-label=${`Delete ${kindText(kind).toLowerCase()} ${p.name} in ${p.vhost}`}>Delete</button>
      </div>`,
    },
  ];
  if (!data) return html`<h2>Policies</h2><${LoadError} error=${error} />`;
  return html`<h2>Policies</h2>
    <${LoadError} error=${error} />
    <${Outcome} outcome=${outcome} />
    <${Table} label="Policies" empty="No policies." rows=${data.policy} rowKey=${(p) => `${p.vhost}/${p.name}`} columns=${columns('policy')} />
    <h2>Operator policies</h2>
    <p class="hint">Operator policies cap what users' policies and arguments may set; where both set a limit the lower one wins.</p>
    <${Table} label="Operator policies" empty="No operator policies." rows=${data['operator-policy']} rowKey=${(p) => `${p.vhost}/${p.name}`} columns=${columns('operator-policy')} />
    <h3>Add or update a policy</h3>
    <${Form} label="Add or update a policy" onSubmit=${save}>
      <div class="row">
        <${Field} label="Kind" name="kind" as="select" options=${KINDS.map(([k, text]) => [k, text])} />
        <${Field} label="Virtual host" name="vhost" as="select" options=${data.vhosts} />
        <${Field} label="Name" name="name" required autocomplete="off" />
        <${Field} label="Pattern (regular expression)" name="pattern" required hint="Matched against queue and exchange names, e.g. ^orders\\." />
        <${Field} label="Apply to" name="apply_to" as="select" options=${APPLY_TO} />
        <${Field} label="Priority" name="priority" type="number" step="1" defaultValue="0" />
      </div>
      <${Field} label="Definition (JSON)" name="definition" as="textarea" rows="3" required hint='For example {"max-length": 1000, "overflow": "reject-publish"}' />
      <button type="submit">Save policy</button>
    </${Form}>`;
}

export function VhostLimits() {
  const { data, error, reload } = usePoll(async () => {
    const [limits, vhosts] = await Promise.all([get('/api/vhost-limits'), get('/api/vhosts?columns=name')]);
    return { limits, vhosts: vhosts.map((v) => v.name) };
  }, []);
  const [outcome, run] = useAction();
  const set = (f) =>
    run(async () => {
      if (!/^-?\d+$/.test(f.value.trim())) throw new Error('The limit is a whole number (a negative number means no limit).');
      await put(`/api/vhost-limits/${seg(f.vhost)}/${seg(f.limit)}`, { value: Number(f.value) });
      reload();
    }, `${f.limit} of ${f.vhost} set to ${f.value.trim()}.`);
  const clear = (vhost, limit) =>
    run(async () => {
      await del(`/api/vhost-limits/${seg(vhost)}/${seg(limit)}`);
      reload();
    }, `${limit} of ${vhost} cleared.`);
  const limitCell = (l, name) =>
    l.value[name] === undefined
      ? '–'
      : html`${l.value[name].toLocaleString('en-US')} <button type="button" class="small danger" onClick=${() => clear(l.vhost, name)} aria-label=${`Clear ${name} of ${l.vhost}`}>Clear</button>`;
  if (!data) return html`<h2>Virtual host limits</h2><${LoadError} error=${error} />`;
  return html`<h2>Virtual host limits</h2>
    <p class="hint">Virtual hosts not listed have no limits.</p>
    <${LoadError} error=${error} />
    <${Outcome} outcome=${outcome} />
    <${Table} label="Virtual host limits" empty="No limits set." rows=${data.limits} rowKey=${(l) => l.vhost} columns=${[
      { head: 'Vhost', cell: (l) => l.vhost },
      ...LIMITS.map(([name, text]) => ({ head: text, cell: (l) => limitCell(l, name), num: true })),
    ]} />
    <h3>Set a limit</h3>
    <${Form} label="Set a virtual host limit" onSubmit=${set}>
      <div class="row">
        <${Field} label="Virtual host" name="vhost" as="select" options=${data.vhosts} />
        <${Field} label="Limit" name="limit" as="select" options=${LIMITS} />
        <${Field} label="Value" name="value" type="number" step="1" required />
      </div>
      <button type="submit">Set limit</button>
    </${Form}>`;
}

// Admin: users, virtual hosts, permissions and topic permissions, policies and
// limits (in policies.js), and the definitions file (export as a download,
// import from an upload).
import { useState } from 'preact/hooks';
import { del, get, post, put, seg } from '../api.js';
import { Field, Form, html, LoadError, Outcome, Table, useAction, usePoll, confirmed } from '../lib.js';
import { Policies, VhostLimits } from './policies.js';

const TABS = [
  ['users', 'Users'],
  ['vhosts', 'Virtual hosts'],
  ['permissions', 'Permissions'],
  ['policies', 'Policies'],
  ['limits', 'Limits'],
  ['definitions', 'Definitions'],
];
const TAG_CHOICES = ['administrator', 'monitoring', 'policymaker', 'management', 'impersonator'];

export const isAdmin = (me) => me.tags.includes('administrator');

export function AdminPage({ me, tab }) {
  if (!isAdmin(me)) return html`<h1>Admin</h1><p>Administration needs a user tagged <code>administrator</code>; ${me.name} is not.</p>`;
  const Page = { users: Users, vhosts: Vhosts, permissions: Permissions, policies: Policies, limits: VhostLimits, definitions: Definitions }[tab];
  return html`<h1>Admin</h1>
    <nav class="tabs" aria-label="Admin sections">
      ${TABS.map(([key, text]) => html`<a href=${`#/admin/${key}`} aria-current=${key === tab ? 'page' : undefined}>${text}</a>`)}
    </nav>
    ${Page ? html`<${Page} me=${me} />` : html`<p>No such section.</p>`}`;
}

const tagsText = (tags) => (tags.length ? tags.join(', ') : '(none)');

function Users({ me }) {
  const { data, error, reload } = usePoll(() => get('/api/users'), []);
  const [outcome, run] = useAction();
  const add = (f) =>
    run(async () => {
      // An empty password field keeps an existing user's password (a new user then has none).
      await put(`/api/users/${seg(f.name)}`, f.password === '' ? { tags: f.tags } : { password: f.password, tags: f.tags });
      reload();
    }, `User ${f.name} saved.`);
  const setTags = (u) => {
    const tags = prompt(`Tags for ${u.name} (comma-separated):`, u.tags.join(','));
    if (tags === null) return;
    run(async () => {
      await put(`/api/users/${seg(u.name)}`, { tags });
      reload();
    }, `Tags of ${u.name} changed.`);
  };
  const setPassword = (u) => {
    const password = prompt(`New password for ${u.name}:`);
    if (password === null) return;
    run(() => put(`/api/users/${seg(u.name)}`, { password, tags: u.tags.join(',') }), `Password of ${u.name} changed.`);
  };
  const remove = (u) => {
    if (u.name === me.name && !confirmed('This is the user you are logged in as. Delete it anyway?')) return;
    if (u.name !== me.name && !confirmed(`Delete user ${u.name}?`)) return;
    run(async () => {
      await del(`/api/users/${seg(u.name)}`);
      reload();
    }, `User ${u.name} deleted.`);
  };
  return html`<h2>Users</h2>
    <${LoadError} error=${error} />
    <${Outcome} outcome=${outcome} />
    ${data
      ? html`<${Table} label="Users" rowKey=${(u) => u.name} rows=${data} columns=${[
          { head: 'Name', cell: (u) => u.name },
          { head: 'Tags', cell: (u) => tagsText(u.tags) },
          { head: 'Password', cell: (u) => (u.password_hash ? 'set' : 'none') },
          {
            head: 'Actions',
            cell: (u) => html`<div class="actions">
              <button type="button" class="small" onClick=${() => setTags(u)} aria-label=${`Set tags of ${u.name}`}>Tags</button>
              <button type="button" class="small" onClick=${() => setPassword(u)} aria-label=${`Change password of ${u.name}`}>Password</button>
              <button type="button" class="small danger" onClick=${() => remove(u)} aria-label=${`Delete user ${u.name}`}>Delete</button>
            </div>`,
          },
        ]} />`
      : null}
    <h3>Add or update a user</h3>
    <${Form} label="Add a user" onSubmit=${add}>
      <${Field} label="Name" name="name" required autocomplete="off" />
      <${Field} label="Password" name="password" type="password" autocomplete="new-password" hint="Leave empty to keep an existing user's password" />
      <${Field} label="Tags (comma-separated)" name="tags" list="tag-choices" hint=${TAG_CHOICES.join(', ')} />
      <datalist id="tag-choices">${TAG_CHOICES.map((t) => html`<option value=${t} />`)}</datalist>
      <button type="submit">Save user</button>
    </${Form}>`;
}

function Vhosts() {
  const { data, error, reload } = usePoll(() => get('/api/vhosts'), []);
  const [outcome, run] = useAction();
  const add = (f) =>
    run(async () => {
      await put(`/api/vhosts/${seg(f.name)}`, { description: f.description, tags: f.tags });
      reload();
    }, `Virtual host ${f.name} added.`);
  const remove = (v) => {
    if (!confirmed(`Delete virtual host ${v.name} and everything in it?`)) return;
    run(async () => {
      await del(`/api/vhosts/${seg(v.name)}`);
      reload();
    }, `Virtual host ${v.name} deleted.`);
  };
  return html`<h2>Virtual hosts</h2>
    <${LoadError} error=${error} />
    <${Outcome} outcome=${outcome} />
    ${data
      ? html`<${Table} label="Virtual hosts" rowKey=${(v) => v.name} rows=${data} columns=${[
          { head: 'Name', cell: (v) => v.name },
          { head: 'Description', cell: (v) => v.description || '–' },
          { head: 'Tags', cell: (v) => tagsText(v.tags ?? []) },
          { head: 'Messages', cell: (v) => (v.messages ?? 0).toLocaleString('en-US'), num: true },
          { head: 'Actions', cell: (v) => html`<button type="button" class="small danger" onClick=${() => remove(v)} aria-label=${`Delete virtual host ${v.name}`}>Delete</button>` },
        ]} />`
      : null}
    <h3>Add a virtual host</h3>
    <${Form} label="Add a virtual host" onSubmit=${add}>
      <${Field} label="Name" name="name" required />
      <${Field} label="Description" name="description" />
      <${Field} label="Tags (comma-separated)" name="tags" />
      <button type="submit">Add virtual host</button>
    </${Form}>`;
}

function Permissions() {
  const { data, error, reload } = usePoll(async () => {
    const [perms, topics, users, vhosts] = await Promise.all([get('/api/permissions'), get('/api/topic-permissions'), get('/api/users?columns=name'), get('/api/vhosts?columns=name')]);
    return { perms, topics, users: users.map((u) => u.name), vhosts: vhosts.map((v) => v.name) };
  }, []);
  const [outcome, run] = useAction();
  const setPerm = (f) =>
    run(async () => {
      await put(`/api/permissions/${seg(f.vhost)}/${seg(f.user)}`, { configure: f.configure, write: f.write, read: f.read });
      reload();
    }, `Permissions of ${f.user} in ${f.vhost} set.`);
  const clearPerm = (p) =>
    run(async () => {
      await del(`/api/permissions/${seg(p.vhost)}/${seg(p.user)}`);
      reload();
    }, `Permissions of ${p.user} in ${p.vhost} cleared.`);
  const setTopic = (f) =>
    run(async () => {
      await put(`/api/topic-permissions/${seg(f.vhost)}/${seg(f.user)}`, { exchange: f.exchange, write: f.write, read: f.read });
      reload();
    }, `Topic permissions of ${f.user} in ${f.vhost} set.`);
  const clearTopic = (t) =>
    run(async () => {
      await del(`/api/topic-permissions/${seg(t.vhost)}/${seg(t.user)}`);
      reload();
    }, `Topic permissions of ${t.user} in ${t.vhost} cleared.`);
  if (!data) return html`<h2>Permissions</h2><${LoadError} error=${error} />`;
  return html`<h2>Permissions</h2>
    <${LoadError} error=${error} />
    <${Outcome} outcome=${outcome} />
    <${Table} label="Permissions" rows=${data.perms} rowKey=${(p) => `${p.vhost}/${p.user}`} columns=${[
      { head: 'Vhost', cell: (p) => p.vhost },
      { head: 'User', cell: (p) => p.user },
      { head: 'Configure', cell: (p) => html`<code>${p.configure}</code>` },
      { head: 'Write', cell: (p) => html`<code>${p.write}</code>` },
      { head: 'Read', cell: (p) => html`<code>${p.read}</code>` },
      { head: 'Actions', cell: (p) => html`<button type="button" class="small danger" onClick=${() => clearPerm(p)} aria-label=${`Clear permissions of ${p.user} in ${p.vhost}`}>Clear</button>` },
    ]} />
    <h3>Set permissions</h3>
    <${Form} label="Set permissions" onSubmit=${setPerm}>
      <div class="row">
        <${Field} label="User" name="user" as="select" options=${data.users} />
        <${Field} label="Virtual host" name="vhost" as="select" options=${data.vhosts} />
        <${Field} label="Configure regexp" name="configure" defaultValue=".*" />
        <${Field} label="Write regexp" name="write" defaultValue=".*" />
        <${Field} label="Read regexp" name="read" defaultValue=".*" />
      </div>
      <button type="submit">Set permissions</button>
    </${Form}>
    <h2>Topic permissions</h2>
    <${Table} label="Topic permissions" rows=${data.topics} columns=${[
      { head: 'Vhost', cell: (t) => t.vhost },
      { head: 'User', cell: (t) => t.user },
      { head: 'Exchange', cell: (t) => t.exchange },
      { head: 'Write', cell: (t) => html`<code>${t.write}</code>` },
      { head: 'Read', cell: (t) => html`<code>${t.read}</code>` },
      { head: 'Actions', cell: (t) => html`<button type="button" class="small danger" onClick=${() => clearTopic(t)} aria-label=${`Clear topic permissions of ${t.user} in ${t.vhost}`}>Clear</button>` },
    ]} />
    <h3>Set topic permissions</h3>
    <${Form} label="Set topic permissions" onSubmit=${setTopic}>
      <div class="row">
        <${Field} label="User" name="user" as="select" options=${data.users} />
        <${Field} label="Virtual host" name="vhost" as="select" options=${data.vhosts} />
        <${Field} label="Exchange" name="exchange" defaultValue="amq.topic" />
        <${Field} label="Write regexp" name="write" defaultValue=".*" />
        <${Field} label="Read regexp" name="read" defaultValue=".*" />
      </div>
      <button type="submit">Set topic permissions</button>
    </${Form}>`;
}

function Definitions() {
  const [outcome, run] = useAction();
  const [file, setFile] = useState(null);
  const download = () =>
    run(async () => {
      const defs = await get('/api/definitions');
      const url = URL.createObjectURL(new Blob([JSON.stringify(defs, null, 2)], { type: 'application/json' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `warren-definitions-${new Date().toISOString().slice(0, 10)}.json`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    }, 'Definitions exported.');
  const upload = () =>
    run(async () => {
      if (!file) throw new Error('Choose a definitions file first.');
      const text = await file.text();
      try {
        JSON.parse(text);
      } catch (err) {
        throw new Error(`${file.name} is not JSON: ${err.message}`);
      }
      await post('/api/definitions', text);
    }, `Definitions from ${file?.name} imported.`);
  return html`<h2>Definitions</h2>
    <p>The definitions file holds users, virtual hosts, permissions, policies, exchanges, queues and bindings — not messages.</p>
    <h3>Export</h3>
    <button type="button" onClick=${download}>Download definitions</button>
    <h3>Import</h3>
    <div class="field">
      <label for="defs-file">Definitions file (JSON)</label>
      <input id="defs-file" type="file" accept="application/json,.json" onChange=${(e) => setFile(e.currentTarget.files[0] ?? null)} />
    </div>
    <button type="button" onClick=${upload}>Upload definitions</button>
    <${Outcome} outcome=${outcome} />`;
}

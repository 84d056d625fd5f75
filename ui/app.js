// The Warren management UI: login, navigation and hash routing (#/queues/…),
// so every page has its own URL and back/forward/reload work.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { credentials, forgetCredentials, get, request, saveCredentials, whenUnauthenticated } from './api.js';
import { Field, Form, html, Outcome, useAction, usePoll, vhostFilter } from './lib.js';
import { OverviewPage } from './pages/overview.js';
import { ChannelPage, ChannelsPage, ConnectionPage, ConnectionsPage } from './pages/connections.js';
import { ExchangePage, ExchangesPage } from './pages/exchanges.js';
import { QueuePage, QueuesPage } from './pages/queues.js';
import { AdminPage } from './pages/admin.js';

/** The current route: path segments (decoded) and query parameters of the hash. */
function currentRoute() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  return { parts, query: new URLSearchParams(query) };
}

function useRoute() {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

const NAV = [
  ['overview', 'Overview', '#/'],
  ['connections', 'Connections', '#/connections'],
  ['channels', 'Channels', '#/channels'],
  ['exchanges', 'Exchanges', '#/exchanges'],
  ['queues', 'Queues', '#/queues'],
  ['admin', 'Admin', '#/admin'],
];

function page(route, me) {
  const [section = 'overview', a, b] = route.parts;
  switch (section) {
    case 'overview': return html`<${OverviewPage} me=${me} />`;
    case 'connections': return a === undefined ? html`<${ConnectionsPage} />` : html`<${ConnectionPage} name=${a} />`;
    case 'channels': return a === undefined ? html`<${ChannelsPage} />` : html`<${ChannelPage} name=${a} />`;
    case 'exchanges': return a === undefined ? html`<${ExchangesPage} me=${me} />` : html`<${ExchangePage} vhost=${a} name=${b ?? ''} />`;
    case 'queues': return a === undefined ? html`<${QueuesPage} me=${me} query=${route.query} />` : html`<${QueuePage} vhost=${a} name=${b} />`;
    case 'admin': return html`<${AdminPage} me=${me} tab=${a ?? 'users'} />`;
    default: return html`<h1>Not found</h1><p>There is no page at this address. <a href="#/">Go to the overview</a>.</p>`;
  }
}

function VhostPicker() {
  // Polled like the pages, so a vhost added or deleted in Admin shows up here too.
  const { data } = usePoll(() => get('/api/vhosts?columns=name'), []);
  const vhosts = data ? data.map((v) => v.name) : [];
  const [current, setCurrent] = useState(vhostFilter.get());
  const change = (e) => {
    vhostFilter.set(e.currentTarget.value);
    setCurrent(e.currentTarget.value);
    dispatchEvent(new HashChangeEvent('hashchange'));
  };
  return html`<label class="vhost-picker">Virtual host
    <select value=${current} onChange=${change}>
      <option value="">All</option>
      ${vhosts.map((v) => html`<option value=${v}>${v}</option>`)}
    </select></label>`;
}

function Shell({ me, onLogout }) {
  const route = useRoute();
  const section = route.parts[0] ?? 'overview';
  useEffect(() => {
    const label = NAV.find(([key]) => key === section)?.[1] ?? 'Warren';
    document.title = `${label} · Warren`;
  }, [section]);
  // On a move to another page (not a new page of the same list), focus its heading, so keyboard
  // and screen-reader users start at the top of the new content rather than in the old nav link.
  const path = route.parts.join('/');
  const firstPath = useRef(path);
  useEffect(() => {
    if (path === firstPath.current) return;
    firstPath.current = null;
    const heading = document.querySelector('main h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
  }, [path]);
  return html`
    <header class="top">
      <a class="brand" href="#/">Warren</a>
      <nav aria-label="Main">
        <ul>${NAV.filter(([key]) => key !== 'admin' || me.tags.includes('administrator')).map(([key, text, href]) => html`<li><a href=${href} aria-current=${key === section ? 'page' : undefined}>${text}</a></li>`)}</ul>
      </nav>
      <div class="who">
        <${VhostPicker} />
        <span class="user">${me.name}</span>
        <button type="button" onClick=${onLogout}>Log out</button>
      </div>
    </header>
    <main id="main">${page(route, me)}</main>`;
}

function Login({ message }) {
  const [outcome, run] = useAction();
  const formRef = useRef(null);
  // \`autofocus\` on an element rendered after load is applied late (or not at all once the
  // document has had a focus), so the user name field is focused explicitly.
  useEffect(() => formRef.current?.querySelector('input[name="user"]')?.focus(), []);
  const submit = ({ user, password }) =>
    run(async () => {
      const auth = btoaUtf8(`${user}:${password}`);
      const me = await request('GET', '/api/whoami', { auth });
      saveCredentials(user, password);
      dispatchEvent(new CustomEvent('warren-login', { detail: me }));
    });
  return html`<main class="login" ref=${formRef}>
    <h1>Warren</h1>
    <p>Log in with a management user of this broker.</p>
    ${message && !outcome ? html`<p class="error" role="alert">${message}</p>` : null}
    <${Form} onSubmit=${submit} label="Log in">
      <${Field} label="User name" name="user" autocomplete="username" required autofocus />
      <${Field} label="Password" name="password" type="password" autocomplete="current-password" />
      <button type="submit">Log in</button>
    </${Form}>
    <${Outcome} outcome=${outcome} />
  </main>`;
}

function btoaUtf8(s) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(s)));
}

function App() {
  const [me, setMe] = useState(null);
  const [checking, setChecking] = useState(credentials() !== null);
  const [message, setMessage] = useState(null);
  useEffect(() => {
    const onLogin = (e) => {
      setMessage(null);
      setMe(e.detail);
    };
    addEventListener('warren-login', onLogin);
    const stop = whenUnauthenticated(() => {
      forgetCredentials();
      setMe(null);
      setMessage('Your credentials were refused: please log in again.');
    });
    if (credentials() !== null) {
      get('/api/whoami').then(
        (who) => (setMe(who), setChecking(false)),
        (err) => (setMessage(err.message), setChecking(false)),
      );
    }
    return () => (removeEventListener('warren-login', onLogin), stop());
  }, []);
  const logout = () => {
    forgetCredentials();
    sessionStorage.removeItem('warren.vhost');
    setMe(null);
  };
  if (checking) return html`<p class="loading">Loading…</p>`;
  return me ? html`<${Shell} me=${me} onLogout=${logout} />` : html`<${Login} message=${message} />`;
}

const root = document.getElementById('app');
root.textContent = ''; // the static "Loading" line
render(html`<${App} />`, root);

// The "Virtual host" field of create forms: the vhosts this user may use.
import { useEffect, useState } from 'preact/hooks';
import { get } from './api.js';
import { Field, html, vhostFilter } from './lib.js';

export function VhostField() {
  const [vhosts, setVhosts] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    get('/api/vhosts?columns=name').then((l) => setVhosts(l.map((v) => v.name)), setError);
  }, []);
  if (error) return html`<p class="error" role="alert">${error.message}</p>`;
  if (!vhosts) return html`<p class="loading">Loading virtual hosts…</p>`;
  const chosen = vhostFilter.get();
  const ordered = chosen && vhosts.includes(chosen) ? [chosen, ...vhosts.filter((v) => v !== chosen)] : vhosts;
  return html`<${Field} label="Virtual host" name="vhost" as="select" options=${ordered} />`;
}

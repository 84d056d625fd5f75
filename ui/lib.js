// Shared view pieces: htm bound to Preact, polling without flicker, action
// feedback, tables, forms and formatting.
import { h } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

export const REFRESH_MS = 5000;

/**
 * Loads data now and every REFRESH_MS. The previous data stays on screen
 * while the next load runs (no flicker); a failed load keeps it too and
 * reports the error beside it.
 */
export function usePoll(load, deps) {
  const [state, setState] = useState({ data: undefined, error: null });
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let live = true;
    let timer;
    const run = async () => {
      try {
        const data = await loadRef.current();
        if (live) setState({ data, error: null });
      } catch (error) {
        if (live) setState((s) => ({ data: s.data, error }));
      }
      if (live) timer = setTimeout(run, REFRESH_MS);
    };
    run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}

/**
 * Runs user actions and keeps their outcome for display: a success line or
 * the API's error in words.
 */
export function useAction() {
  const [outcome, setOutcome] = useState(null);
  const run = useCallback(async (fn, success) => {
    setOutcome({ busy: true });
    try {
      const result = await fn();
      setOutcome(success ? { ok: typeof success === 'function' ? success(result) : success } : null);
      return true;
    } catch (err) {
      setOutcome({ error: err.message });
      return false;
    }
  }, []);
  return [outcome, run];
}

export function Outcome({ outcome }) {
  if (!outcome) return null;
  if (outcome.error) return html`<p class="error" role="alert">${outcome.error}</p>`;
  if (outcome.ok) return html`<p class="ok" role="status">${outcome.ok}</p>`;
  return html`<p class="busy" role="status">Working…</p>`;
}

export function LoadError({ error }) {
  return error ? html`<p class="error" role="alert">${error.message}</p>` : null;
}

/** A form whose submit handler gets its fields as an object (checkboxes as booleans). */
export function Form({ onSubmit, children, label, class: cls = 'form' }) {
  const submit = (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const values = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      values[el.name] = el.type === 'checkbox' ? el.checked : el.value;
    }
    onSubmit(values, form);
  };
  return html`<form class=${cls} aria-label=${label} onSubmit=${submit}>${children}</form>`;
}

let fieldIds = 0;
/** A labelled input; `as` selects a select or textarea. */
export function Field({ label, name, as = 'input', options, hint, ...rest }) {
  const id = useRef(`f${++fieldIds}`).current;
  let control;
  if (as === 'select') {
    control = html`<select id=${id} name=${name} ...${rest}>${options.map((o) => {
      const [value, text] = Array.isArray(o) ? o : [o, o];
      return html`<option value=${value}>${text}</option>`;
    })}</select>`;
  } else if (as === 'textarea') control = html`<textarea id=${id} name=${name} ...${rest}></textarea>`;
  else control = html`<input id=${id} name=${name} ...${rest} />`;
  if (rest.type === 'checkbox') return html`<div class="field check">${control}<label for=${id}>${label}</label></div>`;
  return html`<div class="field"><label for=${id}>${label}</label>${control}${hint ? html`<small>${hint}</small>` : null}</div>`;
}

/** A table that scrolls sideways on narrow screens instead of breaking the page. */
export function Table({ columns, rows, empty = 'None.', label, rowKey }) {
  return html`<div class="table-wrap" role="region" aria-label=${label} tabindex="0">
    <table>
      <thead><tr>${columns.map((c) => html`<th scope="col" class=${c.num ? 'num' : ''}>${c.head}</th>`)}</tr></thead>
      <tbody>
        ${rows.length === 0
          ? html`<tr><td colspan=${columns.length} class="empty">${empty}</td></tr>`
          : rows.map((r, i) => html`<tr key=${rowKey ? rowKey(r) : i}>${columns.map((c) => html`<td class=${c.num ? 'num' : ''} data-label=${c.head}>${c.cell(r)}</td>`)}</tr>`)}
      </tbody>
    </table>
  </div>`;
}

/** Key/value facts of one object. */
export function Facts({ items }) {
  return html`<dl class="facts">${items.filter(Boolean).map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`;
}

export const link = (href, text) => html`<a href=${href}>${text}</a>`;

export const fmtNum = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '–');
export const fmtRate = (n) => (typeof n === 'number' ? `${n.toLocaleString('en-US', { maximumFractionDigits: 1 })}/s` : '–');
export const rate = (stats, key) => stats?.[`${key}_details`]?.rate ?? 0;

export function fmtBytes(n) {
  if (typeof n !== 'number') return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toLocaleString('en-US', { maximumFractionDigits: i === 0 ? 0 : 1 })} ${units[i]}`;
}

export function fmtDuration(ms) {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${hh}h ${mm}m`;
  if (hh > 0) return `${hh}h ${mm}m`;
  return `${mm}m ${s % 60}s`;
}

export const yesNo = (b) => (b ? 'yes' : 'no');

/** JSON text for an object's arguments, or a dash when there are none. */
export const fmtArgs = (a) => (a && Object.keys(a).length > 0 ? html`<code>${JSON.stringify(a)}</code>` : '–');

/**
 * Parses "key = value" lines into an arguments/headers object: numbers and
 * true/false become typed values, anything else stays a string.
 */
export function parseArgs(text) {
  const out = {};
  for (const raw of (text ?? '').split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq < 1) throw new Error(`Each argument line is "name = value"; this one is not: ${line}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    out[key] = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value === 'true' ? true : value === 'false' ? false : value;
  }
  return out;
}

/** The vhost chosen in the header ("" = all), kept for the session. */
export const vhostFilter = {
  get: () => sessionStorage.getItem('warren.vhost') ?? '',
  set: (v) => sessionStorage.setItem('warren.vhost', v),
};

/** Asks before a destructive action (a real dialog, keyboard-usable). */
export const confirmed = (text) => window.confirm(text);

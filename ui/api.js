// The management API client: Basic credentials kept in sessionStorage only
// (gone when the tab closes), JSON in and out, and errors turned into words.

const KEY = 'warren.credentials';

export function credentials() {
  return sessionStorage.getItem(KEY);
}

export function saveCredentials(user, password) {
  // btoa only takes Latin-1: encode UTF-8 first so any user name works.
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  sessionStorage.setItem(KEY, btoa(String.fromCharCode(...bytes)));
}

export function forgetCredentials() {
  sessionStorage.removeItem(KEY);
}

/** An API failure, with a sentence for the user. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Listeners told when the credentials stop working (the app shows the login form). */
const onUnauthenticated = new Set();
export const whenUnauthenticated = (fn) => (onUnauthenticated.add(fn), () => onUnauthenticated.delete(fn));

/**
 * One API request. `credentials: 'omit'` keeps the browser from showing its
 * own Basic-auth dialog on a 401: the Authorization header is set here.
 */
export async function request(method, path, { body, headers = {}, auth = credentials() } = {}) {
  const init = { method, credentials: 'omit', headers: { ...headers, accept: 'application/json' } };
  if (auth) init.headers.authorization = `Basic ${auth}`;
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `The broker did not answer (${err.message}). Is it running?`);
  }
  const text = await res.text();
  let json = null;
  if (text !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (res.ok) return json;
  const reason = json && typeof json.reason === 'string' ? json.reason : text || res.statusText;
  if (res.status === 401 && json && json.error === 'not_authorized') {
    for (const fn of onUnauthenticated) fn();
    throw new ApiError(401, 'Login failed: wrong user name or password.');
  }
  throw new ApiError(res.status, `${describeStatus(res.status)}: ${reason}`);
}

function describeStatus(status) {
  switch (status) {
    case 400: return 'Refused (400)';
    case 401: return 'Not allowed (401)';
    case 404: return 'Not found (404)';
    case 405: return 'Not supported (405)';
    case 409: return 'Conflict (409)';
    case 503: return 'Unavailable (503)';
    default: return `Error ${status}`;
  }
}

export const get = (path) => request('GET', path);
export const put = (path, body) => request('PUT', path, { body: body ?? {} });
export const post = (path, body) => request('POST', path, { body: body ?? {} });
export const del = (path, headers) => request('DELETE', path, { headers });

/** A path segment: vhost "/" is "%2F", names may hold any character. */
export const seg = (s) => encodeURIComponent(s);

/**
 * AMQP URIs as RabbitMQ documents them:
 *   amqp[s]://[user[:password]@]host[:port][/vhost][?heartbeat=s&frame_max=n&channel_max=n&connection_timeout=ms]
 *
 * User, password and vhost are percent-decoded (write the vhost "/" as %2F;
 * a raw "/" inside the vhost is an error). As amqplib does, a missing or
 * empty path means the default vhost "/" (the spec's empty vhost is not
 * addressable on any broker). Defaults: guest/guest, localhost, 5672 (5671 for amqps).
 */
export interface AmqpUrl {
  tls: boolean;
  host: string;
  port: number;
  user: string;
  password: string;
  vhost: string;
  /** From ?heartbeat= (seconds); default 0 (no heartbeats: a benchmark must not be interrupted by one). */
  heartbeat: number;
  /** From ?frame_max=; 0 = accept what the server offers. */
  frameMax: number;
  /** From ?channel_max=; 0 = accept what the server offers. */
  channelMax: number;
  /** From ?connection_timeout= (ms); default 10000. */
  connectTimeout: number;
}

export class UrlError extends Error {}

const URL_RE = /^(amqps?):\/\/(?:([^:@/?#]*)(?::([^@/?#]*))?@)?(\[[0-9a-fA-F:.]+\]|[^:/?#[\]@]*)(?::(\d*))?(?:\/([^?#]*))?(?:\?([^#]*))?$/;

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new UrlError(`bad percent-encoding in the ${what}: '${part}'`);
  }
}

function intParam(name: string, raw: string, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) > max) throw new UrlError(`URL parameter ${name} expects an integer 0..${max}, got '${raw}'`);
  return Number(raw);
}

export function parseAmqpUrl(text: string): AmqpUrl {
  const m = URL_RE.exec(text.trim());
  if (!m) throw new UrlError(`not an AMQP URL: '${text}' (expected amqp://user:pass@host:port/vhost)`);
  const [, scheme, rawUser, rawPass, rawHost, rawPort, rawPath, rawQuery] = m;
  const tls = scheme === 'amqps';
  let host = decode(rawHost ?? '', 'host');
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (host === '') host = 'localhost';
  let port = tls ? 5671 : 5672;
  if (rawPort !== undefined && rawPort !== '') {
    port = Number(rawPort);
    if (port < 1 || port > 65535) throw new UrlError(`port out of range in '${text}'`);
  }
  if (rawPath !== undefined && rawPath.includes('/')) {
    throw new UrlError(`the vhost in '${text}' contains '/': percent-encode it (%2F)`);
  }
  const vhost = rawPath === undefined || rawPath === '' ? '/' : decode(rawPath, 'vhost');
  const url: AmqpUrl = {
    tls,
    host,
    port,
    user: rawUser === undefined ? 'guest' : decode(rawUser, 'user'),
    password: rawPass === undefined ? (rawUser === undefined ? 'guest' : '') : decode(rawPass, 'password'),
    vhost,
    heartbeat: 0,
    frameMax: 0,
    channelMax: 0,
    connectTimeout: 10_000,
  };
  if (rawQuery) {
    for (const pair of rawQuery.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const key = decode(eq < 0 ? pair : pair.slice(0, eq), 'query');
      const value = decode(eq < 0 ? '' : pair.slice(eq + 1), 'query');
      switch (key) {
        case 'heartbeat': url.heartbeat = intParam(key, value, 65535); break;
        case 'frame_max': url.frameMax = intParam(key, value, 0xffffffff); break;
        case 'channel_max': url.channelMax = intParam(key, value, 65535); break;
        case 'connection_timeout': url.connectTimeout = intParam(key, value, 3_600_000); break;
        default: // other clients' parameters (auth_mechanism, verify…): ignored, as most clients do
      }
    }
  }
  if (url.frameMax !== 0 && url.frameMax < 4096) throw new UrlError(`frame_max must be 0 or at least 4096, got ${url.frameMax}`);
  return url;
}

/** The URL for display: the password replaced by "***". */
export function redactUrl(text: string): string {
  return text.replace(/^(amqps?:\/\/[^:@/?#]*:)[^@/?#]*@/, '$1***@');
}

/** A short "host:port/vhost" label. */
export function describeUrl(url: AmqpUrl): string {
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  return `${url.tls ? 'amqps' : 'amqp'}://${host}:${url.port}/${encodeURIComponent(url.vhost)}`;
}

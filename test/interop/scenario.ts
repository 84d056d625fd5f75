/**
 * The interop scenario every client runs, and the tools to check it.
 *
 * A client (a script under clients/ for other languages, or code in the test
 * for the JS clients) gets a prefix `p` and:
 *  1. connects;
 *  2. declares a direct exchange `p.direct` and three queues `p.props`,
 *     `p.props-js`, `p.props-raw`, each bound with key "props";
 *  3. publishes one message with every basic property (FULL_PROPERTIES, with
 *     headers holding a nested table, an array and several value types) to
 *     `p.direct`, consumes it from `p.props` and acks it; the test then reads
 *     the copy in `p.props-js` with amqplib (cross-check of the decoded
 *     properties) and the copy in `p.props-raw` over a raw socket (byte-exact
 *     check against the client's own encoding of the properties, where the
 *     client can show it);
 *  4. basic.get of `p.from-js`, where the test published a message with every
 *     property through amqplib, then basic.get of the now empty queue;
 *  5. publisher confirms: three persistent messages to `p.confirms`;
 *  6. topic pub/sub: `p.topic` with `p.t-logs` bound to "logs.#" and
 *     `p.t-errors` bound to "*.error"; publishes four routing keys and reads
 *     back who got what;
 *  7. passive declare of the missing queue `p.missing` → 404 NOT_FOUND, and
 *     the connection is still usable afterwards.
 *
 * Scripts print one JSON object per line, `{"step": ...}`; values JSON lacks
 * travel tagged: {"$decimal": "3.14"}, {"$timestamp": 1700000000}, {"$bytes": "00ff"}.
 */
import { spawn } from 'node:child_process';
import amqp, { type MessageProperties, type Options } from 'amqplib';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** The message properties, snake_case as in the spec, values in the tagged JSON form. */
export type Props = JsonObject;

export interface Spec {
  prefix: string;
  body_hex: string;
  props: Props;
  topic: { bindings: Array<[string, string]>; publish: string[] };
}

/** Headers every client can send: a nested table, an array and several value types. */
export const CORE_HEADERS: JsonObject = {
  'x-string': 'héllo ✓ wörld',
  'x-int': 42,
  'x-negative': -7,
  'x-big': 100_000,
  'x-long': 1_099_511_627_776, // 2^40: needs a 64-bit field
  'x-true': true,
  'x-false': false,
  'x-nested': { level: 1, inner: { deep: 'yes', list: [1, 2, 3] } },
  'x-array': [1, 'two', true, { k: 'v' }],
};

/** The full set of basic properties (headers = CORE_HEADERS + `extraHeaders`). */
export function fullProperties(client: string, extraHeaders: JsonObject = {}): Props {
  return {
    content_type: 'application/x-warren-interop',
    content_encoding: 'utf-8',
    headers: { ...CORE_HEADERS, ...extraHeaders },
    delivery_mode: 2,
    priority: 7,
    correlation_id: `corr-${client}`,
    reply_to: `${client}.replies`,
    expiration: '600000',
    message_id: `msg-${client}-1`,
    timestamp: 1_700_000_000,
    type: 'interop.full',
    user_id: 'guest',
    app_id: `warren-interop-${client}`,
  };
}

/** The body: UTF-8 text with multi-byte characters and raw bytes, so nothing may re-encode it. */
export const BODY = Buffer.concat([Buffer.from('interop body — ✓ ü 日本', 'utf8'), Buffer.from([0x00, 0xff, 0x7f, 0x80])]);

export const TOPIC: Spec['topic'] & { expected: Record<string, string[]> } = {
  bindings: [['t-logs', 'logs.#'], ['t-errors', '*.error']],
  publish: ['logs.info', 'logs.error', 'app.error', 'app.info'],
  expected: { 't-logs': ['logs.info', 'logs.error'], 't-errors': ['logs.error', 'app.error'] },
};

/** Headers of the message the test publishes through amqplib for the clients to basic.get. */
export const FROM_JS_EXTRA_HEADERS: JsonObject = {
  'x-float': 1.5,
  'x-decimal': { $decimal: '3.14' },
  'x-timestamp': { $timestamp: 1_700_000_000 },
  'x-bytes': { $bytes: '00ff10' },
  'x-void': null,
};
export const FROM_JS_PROPS = fullProperties('from-js', FROM_JS_EXTRA_HEADERS);

export function specFor(prefix: string, extraHeaders: JsonObject = {}, body: Buffer = BODY): Spec {
  return { prefix, body_hex: body.toString('hex'), props: fullProperties(prefix, extraHeaders), topic: { bindings: TOPIC.bindings, publish: TOPIC.publish } };
}

export const missingQueueText = (prefix: string): string => `NOT_FOUND - no queue '${prefix}.missing' in vhost '/'`;

// ---------------------------------------------------------------- amqplib <-> tagged JSON

function decimalString(places: number, digits: number): string {
  if (places === 0) return String(digits);
  const s = String(digits).padStart(places + 1, '0');
  return `${s.slice(0, -places)}.${s.slice(-places)}`;
}

/** Tagged JSON → what amqplib encodes with the same AMQP type. */
export function toAmqplibValue(v: Json): unknown {
  if (Array.isArray(v)) return v.map(toAmqplibValue);
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const x = v[keys[0]!];
      if (keys[0] === '$decimal' && typeof x === 'string') {
        const [int = '', frac = ''] = x.split('.');
        return { '!': 'decimal', value: { places: frac.length, digits: Number(int + frac) } };
      }
      if (keys[0] === '$timestamp') return { '!': 'timestamp', value: x };
      if (keys[0] === '$bytes' && typeof x === 'string') return Buffer.from(x, 'hex');
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toAmqplibValue(x)]));
  }
  return v;
}

/** amqplib's decoded value → tagged JSON. */
export function fromAmqplibValue(v: unknown): Json {
  if (Buffer.isBuffer(v)) return { $bytes: v.toString('hex') };
  if (Array.isArray(v)) return v.map(fromAmqplibValue);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (o['!'] === 'decimal') {
      const d = o.value as { places: number; digits: number };
      return { $decimal: decimalString(d.places, d.digits) };
    }
    if (o['!'] === 'timestamp') return { $timestamp: o.value as number };
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, fromAmqplibValue(x)]));
  }
  if (typeof v === 'bigint') return Number(v);
  return v as Json;
}

const PROP_NAMES: Array<[snake: string, camel: keyof MessageProperties & keyof Options.Publish]> = [
  ['content_type', 'contentType'], ['content_encoding', 'contentEncoding'], ['headers', 'headers'],
  ['delivery_mode', 'deliveryMode'], ['priority', 'priority'], ['correlation_id', 'correlationId'],
  ['reply_to', 'replyTo'], ['expiration', 'expiration'], ['message_id', 'messageId'],
  ['timestamp', 'timestamp'], ['type', 'type'], ['user_id', 'userId'], ['app_id', 'appId'],
];

export function toAmqplibOptions(props: Props): Options.Publish {
  const out: Record<string, unknown> = {};
  for (const [snake, camel] of PROP_NAMES) if (props[snake] !== undefined) out[camel] = toAmqplibValue(props[snake]!);
  return out as Options.Publish;
}

export function fromAmqplibProperties(p: MessageProperties): Props {
  const out: Props = {};
  for (const [snake, camel] of PROP_NAMES) {
    const v = (p as unknown as Record<string, unknown>)[camel];
    if (v !== undefined && v !== null) out[snake] = fromAmqplibValue(v);
  }
  return out;
}

// ---------------------------------------------------------------- broker-side helpers (amqplib and raw socket)

export type AmqplibConnection = Awaited<ReturnType<typeof amqp.connect>>;

/** Declares `p.from-js` and publishes the full-property message into it (confirmed). */
export async function prepareFromJs(conn: AmqplibConnection, prefix: string, body: Buffer = BODY): Promise<void> {
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(`${prefix}.from-js`, { durable: false });
  ch.sendToQueue(`${prefix}.from-js`, body, toAmqplibOptions(FROM_JS_PROPS));
  await ch.waitForConfirms();
  await ch.close();
}

/**
 * Runs `fn` on a fresh amqplib channel; closes the channel afterwards unless the
 * broker closed it (a channel error then rejects, it never hangs the connection).
 */
export async function withChannel<T>(conn: AmqplibConnection, fn: (ch: Awaited<ReturnType<AmqplibConnection['createChannel']>>) => Promise<T>): Promise<T> {
  const ch = await conn.createChannel();
  let closed = false;
  ch.on('error', () => { closed = true; });
  ch.on('close', () => { closed = true; });
  try {
    return await fn(ch);
  } finally {
    if (!closed) await ch.close().catch(() => undefined);
  }
}

/** basic.get through amqplib: body and properties in the tagged JSON form, or null when empty. */
export function amqplibGet(conn: AmqplibConnection, queue: string): Promise<{ body: Buffer; props: Props; routingKey: string; exchange: string } | null> {
  return withChannel(conn, async (ch) => {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return null;
    return { body: m.content, props: fromAmqplibProperties(m.properties), routingKey: m.fields.routingKey, exchange: m.fields.exchange };
  });
}

export function messageCount(conn: AmqplibConnection, queue: string): Promise<number> {
  return withChannel(conn, async (ch) => (await ch.checkQueue(queue)).messageCount);
}


// ---------------------------------------------------------------- running a client script

export interface Step { step: string; [key: string]: unknown }

export interface ClientRun {
  steps: Step[];
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

/**
 * Runs a client script to completion (killed after `timeoutMs`), parsing the
 * JSON lines of its stdout. Never rejects: a crash shows in `code`/`stderr`.
 */
export function runClient(command: string, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<ClientRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end(options.input ?? '');
    const timer = setTimeout(() => {
      stderr += `\n[interop] killed after ${options.timeoutMs ?? 30_000} ms`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 30_000);
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      const steps: Step[] = [];
      for (const line of stdout.split('\n')) {
        const t = line.trim();
        if (!t) continue;
        try {
          const v = JSON.parse(t) as unknown;
          steps.push(v !== null && typeof v === 'object' && 'step' in v ? (v as Step) : { step: 'raw', text: t });
        } catch {
          steps.push({ step: 'raw', text: t });
        }
      }
      resolve({ steps, stdout, stderr, code, signal, ms: Date.now() - started });
    };
    child.once('error', (err) => {
      stderr += `\n[interop] spawn failed: ${err.message}`;
      finish(null, null);
    });
    child.once('close', finish);
  });
}

/** Every step named `name`. */
export function stepsOf(run: ClientRun, name: string): Step[] {
  return run.steps.filter((s) => s.step === name);
}

/** The one step named `name`; throws with the client's output when it is missing. */
export function stepOf(run: ClientRun, name: string): Step {
  const s = stepsOf(run, name);
  if (s.length !== 1) throw new Error(`expected one "${name}" step, got ${s.length}; exit ${run.code}${run.signal ? ` (${run.signal})` : ''}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
  return s[0]!;
}

/** The scenario's topic result as { queue suffix: routing keys received }. */
export function topicResult(run: ClientRun): Record<string, unknown> {
  return Object.fromEntries(stepsOf(run, 'topic').map((s) => [s.queue as string, s.routing_keys]));
}

export { rawGet } from '../helpers/raw-client.js';

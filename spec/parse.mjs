// Parser for spec/amqp0-9-1.spec (format in spec/README.md). Shared by the
// generator and the tests so that both read the definition the same way.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SPEC_PATH = fileURLToPath(new URL('./amqp0-9-1.spec', import.meta.url));

const PRIMITIVES = new Set(['bit', 'octet', 'short', 'long', 'longlong', 'shortstr', 'longstr', 'table', 'timestamp']);

/** @param {string} [text] */
export function parseSpec(text = readFileSync(SPEC_PATH, 'utf8')) {
  const spec = { version: null, port: null, constants: [], domains: new Map(), classes: [] };
  let cls = null;
  let method = null;
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const fail = (why) => { throw new Error(`spec line ${index + 1}: ${why}: ${raw.trim()}`); };
    const [keyword, ...rest] = line.split(/\s+/);
    switch (keyword) {
      case 'protocol': {
        const [major, minor, revision, portWord, port] = rest;
        if (portWord !== 'port') fail('expected "protocol M m r port N"');
        spec.version = { major: Number(major), minor: Number(minor), revision: Number(revision) };
        spec.port = Number(port);
        break;
      }
      case 'constant': {
        const [name, value, errorClass] = rest;
        if (!name || !/^\d+$/.test(value ?? '')) fail('bad constant');
        spec.constants.push({ name, value: Number(value), class: errorClass ?? null });
        break;
      }
      case 'domain': {
        const [name, type] = rest;
        if (!PRIMITIVES.has(type)) fail(`unknown type ${type}`);
        spec.domains.set(name, type);
        break;
      }
      case 'class': {
        const [name, id] = rest;
        cls = { name, id: Number(id), properties: [], methods: [] };
        method = null;
        spec.classes.push(cls);
        break;
      }
      case 'property': {
        if (!cls) fail('property outside a class');
        const [name, domain] = rest;
        cls.properties.push({ name, domain, type: resolve(domain) ?? fail(`unknown domain ${domain}`) });
        break;
      }
      case 'method': {
        if (!cls) fail('method outside a class');
        const [name, id, ...flags] = rest;
        method = {
          name, id: Number(id), synchronous: false, content: false, toServer: false, toClient: false,
          replies: [], fields: [],
        };
        for (let i = 0; i < flags.length; i++) {
          const flag = flags[i];
          if (flag === 'sync') method.synchronous = true;
          else if (flag === 'content') method.content = true;
          else if (flag === 'to-server') method.toServer = true;
          else if (flag === 'to-client') method.toClient = true;
          else if (flag === 'reply') method.replies = (flags[++i] ?? fail('reply needs names')).split(',');
          else fail(`unknown method flag ${flag}`);
        }
        if (!method.toServer && !method.toClient) fail('method needs to-server and/or to-client');
        cls.methods.push(method);
        break;
      }
      default: {
        if (!method) fail('field outside a method');
        const match = /^(\S+)\s+(\S+)(?:\s*=\s*(.+))?$/.exec(line);
        if (!match) fail('bad field');
        const [, name, domain, defaultText] = match;
        const type = resolve(domain) ?? fail(`unknown domain ${domain}`);
        method.fields.push({ name, domain, type, default: defaultText === undefined ? undefined : JSON.parse(defaultText) });
      }
    }
  });
  return spec;

  function resolve(domain) {
    return spec.domains.get(domain) ?? null;
  }
}

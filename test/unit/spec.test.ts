// Checks our hand-written spec/amqp0-9-1.spec against RabbitMQ's official
// machine-readable definition (amqp-rabbitmq-0.9.1.json), field by field.
// The official file lives outside the repo (../shared/spec/); when it is not
// there the suite is skipped. WARREN_SHARED_SPEC overrides its location.
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

// ---- shape of spec/parse.mjs's result (the parser is plain, untyped JS) ----
interface OurField { name: string; domain: string; type: string; default: unknown }
interface OurProperty { name: string; domain: string; type: string }
interface OurMethod {
  name: string; id: number; synchronous: boolean; content: boolean;
  toServer: boolean; toClient: boolean; replies: string[]; fields: OurField[];
}
interface OurClass { name: string; id: number; properties: OurProperty[]; methods: OurMethod[] }
interface OurSpec {
  version: { major: number; minor: number; revision: number } | null;
  port: number | null;
  constants: { name: string; value: number; class: string | null }[];
  domains: Map<string, string>;
  classes: OurClass[];
}

// ---- shape of the official JSON ----
interface JsonField { name: string; type?: string; domain?: string; 'default-value'?: unknown }
interface JsonMethod { name: string; id: number; synchronous?: boolean; content?: boolean; arguments: JsonField[] }
interface JsonClass { name: string; id: number; properties?: { name: string; type: string }[]; methods: JsonMethod[] }
interface JsonSpec {
  'major-version': number; 'minor-version': number; revision: number; port: number;
  constants: { name: string; value: number; class?: string }[];
  domains: [string, string][];
  classes: JsonClass[];
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const officialPath = process.env.WARREN_SHARED_SPEC
  ? path.resolve(process.env.WARREN_SHARED_SPEC)
  : path.resolve(repoRoot, '../shared/spec/amqp-rabbitmq-0.9.1.json');
const exists = existsSync(officialPath);
if (!exists) {
  console.warn(`spec.test: skipping, official AMQP definition not found at ${officialPath}`);
}

async function loadOurs(): Promise<OurSpec> {
  // Imported through a computed URL so that TypeScript does not try to type
  // the untyped .mjs module; we describe its result with OurSpec instead.
  const parserUrl = pathToFileURL(path.join(repoRoot, 'spec/parse.mjs')).href;
  const mod = (await import(parserUrl)) as { parseSpec: () => OurSpec };
  return mod.parseSpec();
}

describe.skipIf(!exists)('spec/amqp0-9-1.spec matches amqp-rabbitmq-0.9.1.json', () => {
  let ours: OurSpec;
  let json: JsonSpec;
  let jsonDomains: Map<string, string>;
  /** JSON classes in id order (the JSON itself lists tx before confirm). */
  let jsonClasses: JsonClass[];

  beforeAll(async () => {
    ours = await loadOurs();
    json = JSON.parse(readFileSync(officialPath, 'utf8')) as JsonSpec;
    jsonDomains = new Map(json.domains);
    jsonClasses = [...json.classes].sort((a, b) => a.id - b.id);
  });

  /** The primitive type of a JSON field (its type, or its domain's type). */
  const jsonFieldType = (field: JsonField): string | undefined =>
    field.type ?? (field.domain === undefined ? undefined : jsonDomains.get(field.domain));

  it('has the same version and port', () => {
    expect(ours.version).toEqual({ major: json['major-version'], minor: json['minor-version'], revision: json.revision });
    expect(ours.port).toBe(json.port);
  });

  it('has the same constants, values and error classes, in order', () => {
    const mismatches: string[] = [];
    const oursByName = new Map(ours.constants.map((c) => [c.name, c]));
    for (const c of json.constants) {
      const mine = oursByName.get(c.name);
      if (!mine) { mismatches.push(`constant ${c.name}: missing`); continue; }
      if (mine.value !== c.value) mismatches.push(`constant ${c.name}: value ${mine.value} != ${c.value}`);
      if (mine.class !== (c.class ?? null)) mismatches.push(`constant ${c.name}: class ${mine.class} != ${c.class ?? null}`);
    }
    const jsonNames = new Set(json.constants.map((c) => c.name));
    for (const c of ours.constants) if (!jsonNames.has(c.name)) mismatches.push(`constant ${c.name}: not in the JSON`);
    expect(mismatches).toEqual([]);
    expect(ours.constants.map((c) => c.name)).toEqual(json.constants.map((c) => c.name));
  });

  it('has the same domains and types', () => {
    const mismatches: string[] = [];
    for (const [name, type] of jsonDomains) {
      const mine = ours.domains.get(name);
      if (mine === undefined) mismatches.push(`domain ${name}: missing`);
      else if (mine !== type) mismatches.push(`domain ${name}: type ${mine} != ${type}`);
    }
    for (const name of ours.domains.keys()) if (!jsonDomains.has(name)) mismatches.push(`domain ${name}: not in the JSON`);
    expect(mismatches).toEqual([]);
  });

  it('has 8 classes, 66 methods and 14 basic properties', () => {
    expect(ours.classes).toHaveLength(8);
    expect(ours.classes.reduce((n, c) => n + c.methods.length, 0)).toBe(66);
    expect(ours.classes.find((c) => c.name === 'basic')?.properties).toHaveLength(14);
    // and so does the JSON, so the comparisons below cover everything
    expect(json.classes).toHaveLength(8);
    expect(json.classes.reduce((n, c) => n + c.methods.length, 0)).toBe(66);
  });

  it('has the same classes, in id order', () => {
    expect(ours.classes.map((c) => [c.name, c.id])).toEqual(jsonClasses.map((c) => [c.name, c.id]));
  });

  it('has the same methods, flags, fields, types, domains and defaults', () => {
    const mismatches: string[] = [];
    for (const jc of jsonClasses) {
      const oc = ours.classes.find((c) => c.name === jc.name);
      if (!oc) { mismatches.push(`${jc.name}: class missing`); continue; }
      if (oc.id !== jc.id) mismatches.push(`${jc.name}: id ${oc.id} != ${jc.id}`);
      const ourNames = oc.methods.map((m) => m.name);
      const jsonNames = jc.methods.map((m) => m.name);
      if (ourNames.join() !== jsonNames.join()) {
        mismatches.push(`${jc.name}: methods [${ourNames.join(' ')}] != [${jsonNames.join(' ')}]`);
      }
      for (const jm of jc.methods) {
        const where = `${jc.name}.${jm.name}`;
        const om = oc.methods.find((m) => m.name === jm.name);
        if (!om) { mismatches.push(`${where}: method missing`); continue; }
        if (om.id !== jm.id) mismatches.push(`${where}: id ${om.id} != ${jm.id}`);
        if (om.synchronous !== (jm.synchronous ?? false)) mismatches.push(`${where}: sync ${om.synchronous} != ${jm.synchronous ?? false}`);
        if (om.content !== (jm.content ?? false)) mismatches.push(`${where}: content ${om.content} != ${jm.content ?? false}`);
        const ourFields = om.fields.map((f) => f.name);
        const jsonFields = jm.arguments.map((f) => f.name);
        if (ourFields.join() !== jsonFields.join()) {
          mismatches.push(`${where}: fields [${ourFields.join(' ')}] != [${jsonFields.join(' ')}]`);
        }
        jm.arguments.forEach((jf, index) => {
          const at = `${where}.${jf.name}`;
          const of = om.fields[index];
          if (!of || of.name !== jf.name) return; // already reported as a field-list mismatch
          const type = jsonFieldType(jf);
          if (of.type !== type) mismatches.push(`${at}: type ${of.type} != ${type}`);
          if (jf.domain !== undefined && of.domain !== jf.domain) mismatches.push(`${at}: domain ${of.domain} != ${jf.domain}`);
          if ('default-value' in jf) {
            if (of.default === undefined) mismatches.push(`${at}: default missing, JSON has ${JSON.stringify(jf['default-value'])}`);
            else if (!isDeepStrictEqual(of.default, jf['default-value'])) {
              mismatches.push(`${at}: default ${JSON.stringify(of.default)} != ${JSON.stringify(jf['default-value'])}`);
            }
          } else if (of.default !== undefined) {
            mismatches.push(`${at}: default ${JSON.stringify(of.default)}, JSON has none`);
          }
        });
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('has the same basic properties, in flag order', () => {
    const mismatches: string[] = [];
    for (const jc of jsonClasses) {
      const oc = ours.classes.find((c) => c.name === jc.name);
      const mine = (oc?.properties ?? []).map((p) => `${p.name}:${p.type}`);
      const theirs = (jc.properties ?? []).map((p) => `${p.name}:${p.type}`);
      if (mine.join() !== theirs.join()) mismatches.push(`${jc.name}: properties [${mine.join(' ')}] != [${theirs.join(' ')}]`);
    }
    expect(mismatches).toEqual([]);
  });

  it('has a direction for every method, and replies only to existing methods', () => {
    const mismatches: string[] = [];
    for (const oc of ours.classes) {
      const names = new Set(oc.methods.map((m) => m.name));
      for (const om of oc.methods) {
        const where = `${oc.name}.${om.name}`;
        if (!om.toServer && !om.toClient) mismatches.push(`${where}: neither to-server nor to-client`);
        for (const reply of om.replies) if (!names.has(reply)) mismatches.push(`${where}: reply ${reply} is not a method of ${oc.name}`);
        if (om.synchronous && om.replies.length === 0) mismatches.push(`${where}: sync but no reply`);
        if (!om.synchronous && om.replies.length > 0) mismatches.push(`${where}: reply but not sync`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});

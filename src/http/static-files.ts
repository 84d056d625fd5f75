import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The web UI's static files: the page and its modules from the package's
 * `ui/` folder, and a few library files from node_modules. Only files named
 * in the table built here at start are served — a request path is a key
 * into it, never joined onto a directory — so no path can escape. These
 * files hold no data and are served without authentication; every API call
 * the page makes carries Basic credentials.
 */

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** `ui/` beside `src/` (tests) or `dist/` (the package): both are two levels above this module. */
const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/** The libraries the page imports (by its import map), resolved where Node would find them. */
function vendorFiles(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const dirOf = (specifier: string): string => dirname(require.resolve(specifier));
  return {
    '/ui/vendor/preact.js': join(dirOf('preact'), 'preact.module.js'),
    '/ui/vendor/preact-hooks.js': join(dirOf('preact/hooks'), 'hooks.module.js'),
    '/ui/vendor/htm.js': join(dirOf('htm'), 'htm.module.js'),
    '/ui/vendor/uplot.js': join(dirOf('uplot'), 'uPlot.esm.js'),
    '/ui/vendor/uplot.css': join(dirOf('uplot'), 'uPlot.min.css'),
  };
}

/** Every file of `ui/` (one level of subfolders), keyed by its URL path. */
function uiFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, prefix: string, depth: number): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() && depth > 0) walk(join(dir, e.name), `${prefix}${e.name}/`, depth - 1);
      else if (e.isFile() && MIME[extension(e.name)]) out[`/ui/${prefix}${e.name}`] = join(dir, e.name);
    }
  };
  try {
    walk(UI_DIR, '', 1);
  } catch (err) {
    // A package built without ui/ still serves the API: "/" is then simply not found.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return out;
}

const extension = (name: string): string => {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot);
};

export class StaticFiles {
  private readonly files: Map<string, string>;

  constructor() {
    const ui = uiFiles();
    this.files = new Map(Object.entries({ ...ui, ...vendorFiles() }));
    const index = ui['/ui/index.html'];
    if (index !== undefined) this.files.set('/', index);
  }

  /** Whether a GET of this path is a static file (the API's paths never are). */
  has(path: string): boolean {
    return this.files.has(path);
  }

  async serve(path: string, res: ServerResponse, headOnly: boolean): Promise<void> {
    const file = this.files.get(path)!;
    const bytes = await readFile(file);
    res.writeHead(200, {
      'content-type': MIME[extension(file)] ?? 'application/octet-stream',
      'content-length': String(bytes.length),
      // Revalidated each load, so an upgraded broker serves its own UI.
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    res.end(headOnly ? undefined : bytes);
  }
}

/**
 * The web UI in a real browser: Debian's chromium driven by playwright-core
 * (never a downloaded browser). Shared by the UI test files
 * (test/integration/ui-*.test.ts): `useUiBrowser()` in a describe starts a
 * broker with the management API and one browser for the file. Every page
 * load records console errors, uncaught exceptions, failed requests and HTTP
 * errors; each test ends by asserting there were none (unless it tolerated
 * them), and tests save screenshots in test-artifacts/ui/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from './broker.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'ui');
/** Page conditions are polled by playwright; generous, as the machine is shared and loaded. */
export const UI_WAIT = 30_000;

/** The broker under test and its management URL (set once useUiBrowser's beforeAll ran). */
export const ui = { broker: null as unknown as Broker, base: '' };

/** One browser for the file: a persistent context on a fresh profile; each page is its own tab (own sessionStorage). */
let browser: BrowserContext;
let profile = '';
const pages: Page[] = [];
let problems: { text: string; url: string }[] = [];
/** Problems a test provokes on purpose (matched against the request URL), cleared after each test. */
let tolerated: RegExp[] = [];
/** What the next prompt() dialogs are answered with (confirm() dialogs are accepted). */
export const promptAnswers: string[] = [];

/** This test provokes failed requests to URLs matching `url` on purpose: they are not problems. */
export function tolerate(url: RegExp): void {
  tolerated.push(url);
}

/** Starts the broker and the browser for the enclosing describe; after each test, asserts the pages had no problems. */
export function useUiBrowser(): void {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    ui.broker = await startBroker({ management: { port: 0 }, vhosts: ['/', 'other'] });
    ui.broker.setPermissions('guest', 'other', { configure: '.*', write: '.*', read: '.*' });
    ui.base = `http://127.0.0.1:${ui.broker.managementHttpPort}`;
    profile = mkdtempSync(join(tmpdir(), 'warren-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    browser.setDefaultTimeout(UI_WAIT);
  }, 60_000);

  afterEach(async () => {
    for (const p of pages.splice(0)) await p.close();
    const seen = problems.filter((p) => !tolerated.some((re) => re.test(p.url))).map((p) => p.text);
    problems = [];
    tolerated = [];
    expect(seen).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await ui.broker?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });
}

/** A new tab (its own sessionStorage, so its own login) whose every problem is recorded. */
export async function newPage(width = 1280, height = 900): Promise<Page> {
  const page = await browser.newPage();
  pages.push(page);
  await page.setViewportSize({ width, height });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push({ text: `console error: ${m.text()}`, url: m.location().url });
  });
  page.on('pageerror', (e) => problems.push({ text: `uncaught: ${e.message}`, url: '' }));
  page.on('requestfailed', (r) => {
    // A poll cut short by navigating away is not a failure of the page.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push({ text: `request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`, url: r.url() });
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push({ text: `HTTP ${r.status()}: ${r.request().method()} ${r.url()}`, url: r.url() });
  });
  page.on('dialog', (d) => void d.accept(d.type() === 'prompt' ? promptAnswers.shift() : undefined));
  return page;
}

export async function logIn(page: Page, user: string, password: string): Promise<void> {
  await page.goto(`${ui.base}/`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Polls a page condition (expect.poll's own default, one second, is too short for a 5 s refresh on a loaded machine). */
export function onPage<T>(read: () => T | Promise<T>): ReturnType<typeof expect.poll<T>> {
  return expect.poll(read, { timeout: UI_WAIT, interval: 100 });
}

/** Opens a "Add a …" panel (a <details>) and returns its form. */
export async function openForm(page: Page, name: string) {
  await page.getByText(name, { exact: true }).first().click();
  return page.getByRole('form', { name });
}

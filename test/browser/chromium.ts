import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Where the browser suite leaves its screenshots (kept as CI artifacts; ignored by git). */
export const SCREENSHOT_DIR = path.join(__dirname, '..', '..', 'test-artifacts', 'screenshots');

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Flags that keep Chromium off the network (this machine's network is closed: background requests would be
 * refused, many at a time) and let it run as root in a container, plus a fake microphone when a test asks.
 */
function chromiumArgs(fakeAudioWav?: string, fakeMediaUi = true): string[] {
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-extensions',
    '--metrics-recording-only',
    '--no-default-browser-check',
    // Audio plays without a user gesture in tests (the test call starts from a click anyway).
    '--autoplay-policy=no-user-gesture-required',
  ];
  if (fakeAudioWav) {
    // The fake UI accepts every permission prompt; without it, permissions are the context's (`permissions`).
    if (fakeMediaUi) args.push('--use-fake-ui-for-media-stream');
    args.push('--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${fakeAudioWav}`);
  }
  return args;
}

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Save a full-page screenshot as test-artifacts/screenshots/NAME.png and return its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile, one context and one page. */
export async function openBrowser(options: { fakeAudioWav?: string; fakeMediaUi?: boolean; permissions?: string[]; baseURL?: string } = {}): Promise<BrowserSession> {
  if (!fs.existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install chromium, or set CHROMIUM_PATH`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-chromium-'));
  // launchPersistentContext would own the profile; a plain launch with a fresh temporary profile is enough here.
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: chromiumArgs(options.fakeAudioWav, options.fakeMediaUi), env: { ...process.env, HOME: profile } });
  const context = await browser.newContext({ baseURL: options.baseURL, permissions: options.permissions ?? [] });
  const page = await context.newPage();
  return {
    browser,
    context,
    page,
    async screenshot(name: string) {
      fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
      const file = path.join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await browser.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { ManualClock, waitFor } from '../../src/clock';
import { speechLikeAudio, type SimulatedCall } from '../../src/sim/bandwidth-caller';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { callerFor, startTestServer, type TestServer } from '../helpers/server';
import { openBrowser, type BrowserSession } from './chromium';
import { submitSignIn } from './sign-in';

/** What the test reads of the page's <audio> element (the suite compiles without the DOM's types). */
interface AudioElement {
  readyState: number;
  duration: number;
  error: { code: number } | null;
  addEventListener(type: 'loadedmetadata' | 'error', listener: () => void): void;
}

const GREETING = 'Thanks for calling Acme Plumbing, this is the assistant. How can I help you today?';
const REPLY = 'I can book a plumber for tomorrow morning.';
const CALLER_SAYS = 'My kitchen sink is leaking.';

/**
 * The operator's console in Chromium (docs/console.md), against a real server whose Bandwidth caller and
 * OpenAI Realtime are the stand-ins of src/sim, as the integration tests drive them: one ManualClock moves
 * the call; the browser watches it through the same pages and API an operator uses.
 */
describe('the console in a browser', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let server: TestServer;
  let browser: BrowserSession;
  let page: Page;
  let callId: string;

  beforeAll(async () => {
    clock = new ManualClock(Date.now());
    openai = await startRealtimeStandIn({
      clock,
      chunkMs: 100,
      speedFactor: 4,
      firstDeltaLatencyMs: 300,
      script: (ctx) => (ctx.n === 1 ? { text: GREETING, audioMs: 3000 } : { text: REPLY, audioMs: 1500 }),
      transcribe: () => CALLER_SAYS,
    });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING, AGENT_RECORD: 'true' }, { clock });
    browser = await openBrowser({ baseURL: server.url });
    page = browser.page;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await openai?.close();
  });

  /** Move the call's clock in steps until the page shows what `ready` waits for. */
  async function advanceUntil(ready: () => Promise<boolean>, what: string, stepMs = 100, maxMs = 15_000): Promise<void> {
    for (let movedMs = 0; movedMs <= maxMs; movedMs += stepMs) {
      if (await ready()) return;
      await clock.advanceAsync(stepMs);
    }
    throw new Error(`the page never showed ${what}`);
  }

  it('refuses a wrong admin token with the sign-in page', async () => {
    await page.goto('/console/live');
    await page.locator('#token').waitFor();
    await browser.screenshot('console-sign-in');
    await submitSignIn(page, 'sb_not-the-token');
    await expect(page.locator('#sign-in-error').textContent()).resolves.toMatch(/^wrong admin token/);
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    expect((await page.context().cookies()).map((c) => c.name)).toEqual([]);
    await browser.screenshot('console-sign-in-refused');
  });

  it('signs in with the admin token and lands on the live view', async () => {
    await submitSignIn(page, server.app.credentials.credentials.adminToken);
    await page.waitForURL('**/console/live');
    await page.locator('#no-calls').waitFor();
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'sb_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookies.find((c) => c.name === 'sb_csrf')).toMatchObject({ httpOnly: false, sameSite: 'Strict' });
    // The session cookie is out of the page scripts' reach.
    expect(await page.evaluate('document.cookie')).not.toContain('sb_session');
  });

  it('shows a simulated call appear live, its transcript arrive line by line, and leave when it ends', async () => {
    const call: SimulatedCall = callerFor(server, clock, { audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 7 }) });
    await dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
    callId = call.callId;
    const card = page.locator(`article[data-call-id="${callId}"]`);
    await card.waitFor();
    await expect(card.locator('.agent').textContent()).resolves.toBe('default');
    await expect(card.locator('.mode').textContent()).resolves.toBe('stream');
    await expect(card.locator('.state').textContent()).resolves.toBe('streaming');
    const lines = card.locator('.transcript li');
    await advanceUntil(async () => (await lines.count()) >= 1, 'the greeting line');
    await expect(lines.nth(0).locator('.text').textContent()).resolves.toBe(GREETING);
    expect(await lines.count()).toBe(1);
    await advanceUntil(async () => (await lines.count()) >= 3, 'the caller’s line and the reply');
    await expect(lines.locator('.text').allTextContents()).resolves.toEqual([GREETING, CALLER_SAYS, REPLY]);
    await expect(card.locator('.duration').textContent()).resolves.toMatch(/^\d+:\d\d$/);
    await browser.screenshot('console-live');

    await call.hangup();
    await advanceUntil(async () => server.app.bridge.size === 0, 'the session to end');
    await card.waitFor({ state: 'detached' });
    await page.locator('#no-calls').waitFor();
  });

  it('lists the call in the history and opens its detail: timeline, transcript and a playable, seekable recording', async () => {
    const row = await server.app.store.calls.get(callId);
    const file = row!.recordingPath!;
    // The WAV header is written when the recording closes (the sizes are placeholders until then).
    await waitFor(() => fs.existsSync(file) && !fs.readFileSync(file).subarray(4, 8).equals(Buffer.from([0xff, 0xff, 0xff, 0xff])), 5000, 'the WAV to be closed');

    await page.click('a[data-nav="calls"]');
    await page.waitForURL('**/console/calls');
    const listed = page.locator(`#calls tr[data-call-id="${callId}"]`);
    await listed.waitFor();
    await expect(listed.locator('td').nth(5).textContent()).resolves.toBe('completed');
    await browser.screenshot('console-calls');
    // The API's filters: a state that matches nothing leaves the table empty.
    await page.selectOption('#f-state', 'rejected');
    await page.click('#filters button[type="submit"]');
    await page.waitForURL('**/console/calls?state=rejected');
    await page.locator('#calls td.empty').waitFor();
    await page.goBack();

    await page.locator(`#calls tr[data-call-id="${callId}"] a`).click();
    await page.waitForURL(`**/console/calls/${callId}`);
    await page.locator('#timeline tbody tr').first().waitFor();
    const types = await page.locator('#timeline tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event-type')));
    expect(types).toEqual(expect.arrayContaining(['initiate', 'disconnect']));
    await expect(page.locator('#transcript li .text').allTextContents()).resolves.toEqual([GREETING, CALLER_SAYS, REPLY]);
    // The caller barged in on the greeting: the line says so, and how much of it was heard.
    const greeting = page.locator('#transcript li').first();
    await expect(greeting.locator('.mark').textContent()).resolves.toBe('truncated');
    await expect(greeting.locator('.heard').textContent()).resolves.toMatch(/^heard 0:0\d \(\d+ ms\)$/);
    await expect(page.locator('#summary [data-fact="State"]').textContent()).resolves.toBe('completed');
    await expect(page.locator('#summary [data-fact="Outcome"]').textContent()).resolves.toBe('caller-hung-up');

    const durationS = await page.locator('#recording').evaluate(
      (audio: AudioElement) =>
        new Promise<number>((resolve, reject) => {
          if (audio.readyState >= 1 && audio.duration > 0) return resolve(audio.duration);
          audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
          audio.addEventListener('error', () => reject(new Error(`audio error ${audio.error?.code}`)));
        }),
    );
    expect(durationS).toBeGreaterThan(0);
    // Seekable: the browser's own Range request (with the session cookie) gets a 206.
    const ranged = await page.evaluate(async (id) => {
      const res = await fetch(`/api/calls/${id}/recording`, { headers: { range: 'bytes=0-43' }, credentials: 'same-origin' });
      return { status: res.status, contentRange: res.headers.get('content-range'), bytes: (await res.arrayBuffer()).byteLength };
    }, callId);
    expect(ranged).toEqual({ status: 206, contentRange: `bytes 0-43/${fs.statSync(file).size}`, bytes: 44 });
    await browser.screenshot('console-call');
  });

  it('edits an agent, showing the API’s validation error next to the field it names', async () => {
    await page.click('a[data-nav="agents"]');
    await page.waitForURL('**/console/agents');
    await page.locator('#agents tr[data-agent-id="default"]').waitFor();
    // A new agent from its name alone: the API derives the id.
    await page.fill('#agent-new-name', 'Front desk');
    await page.fill('#agent-new-instructions', 'Greet callers and book appointments.');
    await page.click('#agent-new button[type="submit"]');
    await page.locator('#agents tr[data-agent-id="front-desk"]').waitFor();
    await page.locator('#agent-form').waitFor();

    await page.fill('#agent-form-language', 'English');
    await page.click('#agent-form button[type="submit"]');
    const error = page.locator('#agent-form-language-error');
    await error.waitFor({ state: 'visible' });
    await expect(error.textContent()).resolves.toBe('language: must be a language code like en or en-US');
    await expect(page.locator('.field[data-field="language"]').getAttribute('class')).resolves.toContain('invalid');
    await browser.screenshot('console-agents');

    await page.fill('#agent-form-language', 'en-GB');
    await page.click('#agent-form button[type="submit"]');
    await page.locator('#agent-editor .saved').waitFor();
    expect((await server.app.store.agents.get('front-desk'))?.agent.language).toBe('en-GB');
    await expect(page.locator('#agent-form-language-error').isHidden()).resolves.toBe(true);
  });

  it('signs out: the session ends and the console asks to sign in again', async () => {
    await page.click('#sign-out');
    await page.waitForURL('**/console/sign-in');
    await page.goto('/console/calls');
    await page.locator('#token').waitFor();
    expect(await page.evaluate(async () => (await fetch('/api/calls')).status)).toBe(401);
  });
});

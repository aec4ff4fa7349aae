import { waitFor } from '../../src/clock';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { startTestServer, type TestServer } from '../helpers/server';
import { TEST_CALL_WAV } from '../test-call/fixture-wav';
import path from 'node:path';
import { openBrowser, SCREENSHOT_DIR, type BrowserSession } from './chromium';
import { signInThroughPage } from './sign-in';

/** What the tests read of the page's globals. */
interface PageGlobals {
  document: { getElementById(id: string): { textContent: string | null } | null };
  switchboardTestCall(): { callId: string; framesSent: number; playAudioChunks: number; playedMs: number; clears: number } | null;
}

const GREETING = 'Hello, this is the test agent. What can I do for you?';

/**
 * The browser test call (docs/console.md, "Test call") in Chromium: the page captures the fake microphone (a WAV in
 * fixtures/), encodes μ-law in its AudioWorklet and speaks Bandwidth's media-stream protocol to the real server,
 * whose bridge talks to the Realtime stand-in; the greeting comes back as playAudio and is played by the page.
 * The browser signs in through the console's sign-in page, as an operator does; the page's API calls carry the
 * session cookie and, on POST, the CSRF header.
 */
describe('the browser test call', () => {
  let openai: RealtimeStandIn;
  let server: TestServer;
  let browser: BrowserSession | undefined;

  beforeEach(async () => {
    // Real time: the page's audio runs on the audio thread's clock, which nothing can fake.
    openai = await startRealtimeStandIn({ script: (ctx) => (ctx.n === 1 ? { text: GREETING, audioMs: 6000 } : { text: 'Sure, I can help with that.', audioMs: 1200 }) });
    server = await startTestServer({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: openai.url, PUBLIC_BASE_URL: '', AGENT_GREETING: GREETING });
  });
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
    await server?.close();
    await openai?.close();
  });

  async function openPage(options: { fakeAudioWav?: string; fakeMediaUi?: boolean; permissions?: string[] }) {
    browser = await openBrowser({ ...options, baseURL: server.url });
    // Without a session the test call's address answers with the sign-in page, which comes back here after.
    await signInThroughPage(browser.page, '/console/test-call', server.app.credentials.credentials.adminToken);
    const errors: string[] = [];
    browser.page.on('pageerror', (err) => errors.push(err.message));
    browser.page.on('response', (res) => {
      if (res.status() >= 400) errors.push(`${res.status()} ${new URL(res.url()).pathname}`);
    });
    browser.page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`${msg.text()} ${msg.location().url}`);
    });
    await browser.page.waitForSelector('#agent:not([disabled])');
    return { page: browser.page, errors };
  }

  const counter = async (page: BrowserSession['page'], id: string) => Number(await page.locator(`#${id}`).textContent());
  /**
   * Wait until the page's counter `id` reaches `atLeast`. A function, not a string: the page's CSP forbids eval
   * (and this file has no DOM types, hence the narrow view of the page's globals).
   */
  const counterReaches = (page: BrowserSession['page'], id: string, atLeast: number, timeout: number) =>
    page.waitForFunction(
      ([counterId, minimum]) => Number((globalThis as unknown as PageGlobals).document.getElementById(counterId)?.textContent) >= minimum,
      [id, atLeast] as const,
      { timeout },
    );

  it('speaks to the agent through the fake microphone and plays its greeting back', async () => {
    const { page, errors } = await openPage({ fakeAudioWav: TEST_CALL_WAV, permissions: ['microphone'] });
    // A page of the console: its navigation marks this page, and signs out.
    await expect(page.locator('header.chrome a[aria-current="page"]').getAttribute('data-nav')).resolves.toBe('test-call');
    await page.locator('#sign-out').waitFor();
    await page.click('#call');
    await page.waitForSelector('#status[data-state="live"]', { timeout: 15_000 });

    // The greeting arrives as playAudio and the playback worklet plays it (its played-ms counter runs).
    await counterReaches(page, 'played-ms', 1000, 20_000);
    expect(await counter(page, 'play-chunks')).toBeGreaterThan(0);
    // The microphone's 20 ms frames reach the model: appended audio, and the fake speech is heard as speech.
    await counterReaches(page, 'frames-sent', 100, 20_000);
    const session = openai.sessions[0]!;
    expect(session.appendedMs).toBeGreaterThanOrEqual(1000);
    await waitFor(() => session.sent.some((e) => e.type === 'input_audio_buffer.speech_started'), 15_000, 'speech from the fake microphone');
    // The fake speech (3 s into the file) talks over the 6 s greeting: barge-in, and the page is told to clear.
    await counterReaches(page, 'clears', 1, 10_000);
    expect(session.truncates.length).toBeGreaterThanOrEqual(1);
    await browser!.screenshot('test-call');

    const { callId } = await page.evaluate(() => (globalThis as unknown as PageGlobals).switchboardTestCall()!);
    // The console's live view, opened while the call lasts (another tab, same session), shows it as a test call.
    const live = await browser!.context.newPage();
    await live.goto('/console/live');
    const card = live.locator(`article[data-call-id="${callId}"]`);
    await expect(card.locator('.test-call-mark').textContent()).resolves.toBe('Test call');
    await expect(card.locator('.state').textContent()).resolves.toBe('streaming');
    await live.screenshot({ path: path.join(SCREENSHOT_DIR, 'test-call-live.png'), fullPage: true });
    await live.close();
    await page.click('#hangup');
    await page.waitForSelector('#status[data-state="ended"]');
    await waitFor(() => !session.open, 10_000, 'the model session to close');
    // The transcript, read back from the call's record: the agent's greeting, cut by the barge-in.
    const greeting = page.locator('#transcript li.role-agent').first();
    await greeting.waitFor({ timeout: 10_000 });
    await expect(greeting.getAttribute('data-truncated')).resolves.toBe('true');
    await expect(greeting.locator('.mark').textContent()).resolves.toBe('truncated');
    await browser!.screenshot('test-call-ended');

    // Its page in the console marks it as a test call; the live view showed it while it lasted (test/console).
    await page.click('#call-id a');
    await page.waitForURL(`**/console/calls/${callId}`);
    await expect(page.locator('#title .test-call-mark').textContent()).resolves.toBe('Test call');
    await expect(page.locator('dd[data-fact="Direction"]').textContent()).resolves.toBe('browser (a test call from the console)');
    await browser!.screenshot('test-call-detail');
    const call = await server.app.store.calls.get(callId);
    expect(call).toMatchObject({ direction: 'browser', state: 'completed', outcome: 'caller-hung-up' });
    expect(errors).toEqual([]);
  });

  it('explains a refused microphone (NotAllowedError) and creates no call', async () => {
    // A microphone exists, but the permission is not granted and no prompt is answered: getUserMedia is refused.
    const { page } = await openPage({ fakeAudioWav: TEST_CALL_WAV, fakeMediaUi: false, permissions: [] });
    await page.click('#call');
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toMatch(/^Microphone access was refused\. Allow the microphone for this site/);
    await browser!.screenshot('test-call-microphone-refused');
    expect(await page.locator('#call').isDisabled()).toBe(false);
    expect((await server.app.store.calls.list({ limit: 10 })).items).toHaveLength(0);
  });

  it('explains a missing microphone (NotFoundError)', async () => {
    // No device at all (no fake one), the permission granted.
    const { page } = await openPage({ permissions: ['microphone'] });
    await page.click('#call');
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toMatch(/^No microphone was found\. Connect one/);
    expect((await server.app.store.calls.list({ limit: 10 })).items).toHaveLength(0);
  });

  it('shows the server’s message when the API refuses', async () => {
    const { page } = await openPage({ fakeAudioWav: TEST_CALL_WAV, permissions: ['microphone'] });
    await server.app.store.agents.delete('default');
    await page.click('#call');
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible' });
    // The server's own message, shown by the console's error banner.
    await expect(error.locator('.banner').textContent()).resolves.toBe('agent default does not exist');
  });
});

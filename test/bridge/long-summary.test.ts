import type { XmlElement } from '../../src/bandwidth/bxml/xml';
import { ManualClock, waitFor } from '../../src/clock';
import { CALLBACK_URL_MAX_CHARS } from '../../src/constants';
import { speechLikeAudio } from '../../src/sim/bandwidth-caller';
import { startBandwidthRestStandIn, type BandwidthRestStandIn } from '../../src/sim/bandwidth-rest';
import { dialThroughSetup } from '../../src/sim/drive';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';
import { callerFor, standInEnv, startTestServer, type TestServer } from '../helpers/server';

const HUMAN = '+19195550177';
/** 1,000 CJK characters: 3,000 bytes of UTF-8, ~9,000 characters once percent-encoded into a URL. */
const SUMMARY = '客户想要退款并更改账单上的信用卡信息请尽快处理'.repeat(42).slice(0, 1000);

/**
 * DESIGN §4.6: every URL Switchboard hands Bandwidth stays within 1,024 characters whatever the
 * transfer summary's length or script, because the summary lives in the store, not in the URL. The
 * real server between the Bandwidth caller, the REST stand-in and the Realtime stand-in.
 */
describe('a warm transfer with a 1,000-character CJK summary', () => {
  let clock: ManualClock;
  let openai: RealtimeStandIn;
  let rest: BandwidthRestStandIn;
  let server: TestServer;

  afterEach(async () => {
    await server?.close();
    await rest?.close();
    await openai?.close();
  });

  it('keeps every URL short, and the human still hears the whole summary', async () => {
    clock = new ManualClock(0);
    const transferCall = { name: 'transfer_call', arguments: { destination: 'human', reason: '账单问题', summary: SUMMARY } };
    openai = await startRealtimeStandIn({
      clock,
      script: (ctx) => (ctx.n === 1 ? { text: 'Hello.', audioMs: 800 } : ctx.n === 2 ? { functionCall: transferCall } : { text: 'Transferring you now.', audioMs: 800 }),
      transcribe: () => 'I want to talk to a person.',
    });
    rest = await startBandwidthRestStandIn();
    server = await startTestServer(
      { ...standInEnv(openai.url, rest, HUMAN) },
      { clock },
    );
    const call = callerFor(server, clock, {
      audio: speechLikeAudio({ startMs: 1500, durationMs: 900, seed: 5 }),
      transfer: () => ({ outcome: 'answered', ringMs: 2000, talkMs: 3000 }),
    });
    rest.attach(call);
    await dialThroughSetup(call, 400, (ms) => clock.advanceAsync(ms));
    await clock.advanceAsync(6000);
    await waitFor(() => rest.requests.some((r) => r.operation === 'updateCall'), 5000, 'the redirect');
    for (let i = 0; i < 20 && !call.callbacks.some((c) => c.eventType === 'transferComplete'); i++) await clock.advanceAsync(1000);
    await rest.idle();

    // The transfer went through, and the whisper carried the summary in full.
    const transfer = call.transfers[0]!;
    expect(transfer.outcome).toBe('answered');
    expect(transfer.whisper!.texts.join(' ')).toContain(SUMMARY);

    // Every URL handed to Bandwidth: the Calls API redirect body, every URL attribute of every BXML
    // document, and every URL Bandwidth then called back.
    const urls: string[] = [];
    for (const r of rest.requests.filter((x) => x.operation === 'updateCall')) {
      const body = r.body as Record<string, unknown>;
      for (const key of ['redirectUrl', 'redirectFallbackUrl']) if (typeof body[key] === 'string') urls.push(body[key]);
    }
    const walk = (e: XmlElement) => {
      for (const [name, value] of Object.entries(e.attributes)) if (/Url$|^destination$/.test(name)) urls.push(value);
      for (const c of e.children) if (c.kind === 'element') walk(c);
    };
    for (const doc of call.documents) walk(doc.root);
    for (const cb of call.callbacks) urls.push(cb.url);
    expect(urls.some((u) => u.includes('/redirect?t='))).toBe(true);
    expect(urls.filter((u) => u.includes('/transfer-answer?t=')).length).toBeGreaterThanOrEqual(2); // handed out, then called
    const longest = Math.max(...urls.map((u) => u.length));
    expect(longest).toBeLessThanOrEqual(CALLBACK_URL_MAX_CHARS);
    for (const u of urls) expect(decodeURIComponent(u)).not.toContain('客户');
  });
});

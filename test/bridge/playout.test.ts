import { ManualClock } from '../../src/clock';
import { PlayoutQueue, PlayoutScheduler } from '../../src/bridge/playout';
import type { AudioChunk } from '../../src/bridge/transports';

const ms = (n: number) => Buffer.alloc(n * 8, 0x55); // n ms of μ-law

/** refillBelowMs = leadMs: top up on every tick (one frame per message once steady). An ideal carrier: no playout delay. */
function setup(leadMs = 100, refillBelowMs = leadMs) {
  const clock = new ManualClock(1000);
  const sent: { atMs: number; bytes: number }[] = [];
  const queue = new PlayoutQueue(clock, { leadMs, refillBelowMs, carrierDelayMs: 0 }, (c: AudioChunk) => sent.push({ atMs: clock.now(), bytes: c.bytes }));
  const scheduler = new PlayoutScheduler(clock, 20);
  return { clock, sent, queue, scheduler };
}

describe('PlayoutQueue', () => {
  it('holds audio until a caller is attached, then sends the lead at once', () => {
    const { queue, sent, scheduler } = setup(100);
    queue.enqueue('item_1', 'resp_1', 0, ms(1000));
    expect(sent).toEqual([]);
    queue.setActive(true);
    scheduler.add(queue);
    expect(sent).toEqual([{ atMs: 1000, bytes: 800 }]);
  });

  it('paces at real time: never more than the lead ahead, in whole 20 ms frames', () => {
    const { clock, queue, sent, scheduler } = setup(100);
    queue.setActive(true);
    scheduler.add(queue);
    queue.enqueue('item_1', 'resp_1', 0, ms(2000));
    clock.advance(1000);
    const totalMs = sent.reduce((a, s) => a + s.bytes, 0) / 8;
    expect(totalMs).toBeGreaterThanOrEqual(1100 - 20);
    expect(totalMs).toBeLessThanOrEqual(1100 + 20);
    for (const s of sent.slice(1)) expect(s.bytes % 160).toBe(0);
    expect(queue.aheadMs()).toBeLessThanOrEqual(120);
    expect(sent.length).toBeGreaterThanOrEqual(50); // one message per tick after the first burst
  });

  it('with a refill mark, sends ~lead − mark per message and never lets the carrier fall below the mark minus a tick', () => {
    const { clock, queue, sent, scheduler } = setup(200, 100);
    queue.setActive(true);
    scheduler.add(queue);
    queue.enqueue('item_1', 'resp_1', 0, ms(3000));
    expect(sent).toEqual([{ atMs: 1000, bytes: 1600 }]); // the whole lead at once
    let minAheadMs = Infinity;
    for (let t = 0; t < 2000; t += 20) {
      clock.advance(20);
      minAheadMs = Math.min(minAheadMs, queue.aheadMs());
    }
    expect(minAheadMs).toBeGreaterThanOrEqual(100);
    expect(queue.aheadMs()).toBeLessThanOrEqual(200);
    const totalMs = sent.reduce((a, s) => a + s.bytes, 0) / 8;
    expect(totalMs).toBeGreaterThanOrEqual(2000 + 100);
    expect(totalMs).toBeLessThanOrEqual(2000 + 200);
    for (const s of sent.slice(1)) expect(s.bytes).toBeGreaterThanOrEqual(100 * 8); // ≥ 5 frames per message
    expect(sent.length).toBeLessThanOrEqual(1 + 2000 / 100); // vs ~100 messages at one frame per tick
  });

  it('sends every byte once, in order, whatever the delta sizes and arrival times', () => {
    const clock = new ManualClock(0);
    const out: Buffer[] = [];
    const queue = new PlayoutQueue(clock, { leadMs: 200, refillBelowMs: 100, carrierDelayMs: 0 }, (_c, bytes) => out.push(Buffer.from(bytes)));
    const scheduler = new PlayoutScheduler(clock, 20);
    queue.setActive(true);
    scheduler.add(queue);
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const sentIn: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const delta = Buffer.alloc(1 + Math.floor(random() * 1600));
      for (let b = 0; b < delta.length; b++) delta[b] = Math.floor(random() * 256);
      sentIn.push(delta);
      queue.enqueue(`item_${Math.floor(i / 30)}`, `resp_${Math.floor(i / 30)}`, 0, delta);
      clock.advance(Math.floor(random() * 60));
    }
    clock.advance(120_000);
    expect(Buffer.concat(out).equals(Buffer.concat(sentIn))).toBe(true);
  });

  it('sends new audio immediately when the carrier is below its lead (no wait for the tick)', () => {
    const { clock, queue, sent, scheduler } = setup(100);
    queue.setActive(true);
    scheduler.add(queue);
    clock.advance(7);
    queue.enqueue('item_1', 'resp_1', 0, ms(300));
    expect(sent).toEqual([{ atMs: 1007, bytes: 800 }]);
  });

  it('reports what was heard of each item at a barge-in, from the carrier timeline', () => {
    const { clock, queue, scheduler } = setup(100);
    queue.setActive(true);
    scheduler.add(queue);
    queue.enqueue('item_1', 'resp_1', 0, ms(400));
    queue.markDone('item_1');
    queue.enqueue('item_2', 'resp_1', 0, ms(2000));
    clock.advance(650);
    const heard = queue.interrupt();
    // item_1 played 0–400 ms (fully heard, done) → not reported; item_2 started at 400 ms → 250 ms heard, and
    // 340 ms sent: the lead (100 ms, in whole frames, topped up at the 640 ms tick) ahead of what played.
    expect(heard).toEqual([{ itemId: 'item_2', responseId: 'resp_1', contentIndex: 0, receivedMs: 2000, sentMs: 340, heardMs: 250, done: false }]);
    expect(queue.queuedMs).toBe(0);
    expect(queue.isPlaying()).toBe(false);
  });

  it('counts a gap when the carrier ran dry before the next item', () => {
    const { clock, queue, scheduler } = setup(100);
    queue.setActive(true);
    scheduler.add(queue);
    queue.enqueue('item_1', 'resp_1', 0, ms(100));
    queue.markDone('item_1');
    clock.advance(500); // item_1 played 0–100; 400 ms of silence
    queue.enqueue('item_2', 'resp_2', 0, ms(1000));
    clock.advance(300);
    expect(queue.interrupt()).toEqual([expect.objectContaining({ itemId: 'item_2', heardMs: 300 })]);
  });

  it('never reports more heard than was sent (clamped), and 0 for unsent items', () => {
    const { clock, queue, scheduler } = setup(100);
    queue.setActive(true);
    scheduler.add(queue);
    queue.enqueue('item_1', 'resp_1', 0, ms(60));
    clock.advance(200);
    queue.enqueue('item_2', 'resp_2', 0, ms(500));
    queue.setActive(false);
    const heard = queue.interrupt();
    expect(heard.find((h) => h.itemId === 'item_1')?.heardMs).toBe(60);
  });

  it('the scheduler stops its timer when the last queue leaves', () => {
    const { clock, queue, scheduler } = setup();
    scheduler.add(queue);
    expect(clock.pendingTimers).toBe(1);
    scheduler.remove(queue);
    expect(clock.pendingTimers).toBe(0);
  });
});

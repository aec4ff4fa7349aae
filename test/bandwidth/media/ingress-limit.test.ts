import { IngressLimit } from '../../../src/bandwidth/media/ingress-limit';

const FRAME = 160; // 20 ms of μ-law

describe('IngressLimit', () => {
  it('a network stall of any length, then its backlog at once, then real time: nothing dropped', () => {
    const limit = new IngressLimit(0);
    let t = 0;
    for (; t < 10_000; t += 20) expect(limit.admit(FRAME, t)).toBe(true);
    t += 3000;
    for (let k = 0; k < 150; k++) expect(limit.admit(FRAME, t)).toBe(true); // the 3 s backlog together
    for (let k = 0; k < 100; k++, t += 20) expect(limit.admit(FRAME, t)).toBe(true);
    expect(limit.droppedMs).toBe(0);
  });

  it('many stalls over an hour: nothing dropped, never flooding', () => {
    const limit = new IngressLimit(0);
    let t = 0;
    for (let stall = 0; stall < 4; stall++) {
      for (let k = 0; k < 45_000; k++, t += 20) limit.admit(FRAME, t);
      t += 1500;
      for (let k = 0; k < 75; k++) limit.admit(FRAME, t);
    }
    expect(limit.droppedMs).toBe(0);
    expect(limit.flooding).toBe(false);
  });

  it('faster than real time beyond the burst is dropped at once, and a flood is flagged after 2 s dropped', () => {
    const limit = new IngressLimit(0);
    let admitted = 0;
    for (let k = 0; k < 200; k++) if (limit.admit(FRAME, 0)) admitted++;
    expect(admitted).toBe(50); // the 1 s burst
    expect(limit.droppedMs).toBe(150 * 20);
    expect(limit.flooding).toBe(true);
  });

  it('a peer 1 % fast is held to real time plus the burst', () => {
    const limit = new IngressLimit(0);
    let admittedMs = 0;
    for (let k = 0; k < 30_000; k++) if (limit.admit(FRAME, k * 19.8)) admittedMs += 20;
    expect(admittedMs).toBeLessThanOrEqual(30_000 * 19.8 + 1000);
    expect(limit.droppedMs).toBeGreaterThan(0);
  });
});

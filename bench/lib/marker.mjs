/**
 * Frame markers: how one process's "sent" is matched with another process's "arrived" without a lookup
 * table between them. A marker is written over the first bytes of a μ-law frame (caller → model) or of an
 * audio delta (model → caller). Every marker byte is 0xF0 | nibble: a μ-law code of segment 0, i.e. a
 * sample within ±124 of zero (below -48 dBFS). So a marker is near-silence to the stand-in's VAD and to
 * anything else that listens, and it survives any relay that forwards μ-law bytes unchanged, which both
 * relays under test do (zero-transcode PCMU).
 *
 * Times are microseconds of CLOCK_MONOTONIC: on Linux `process.hrtime.bigint()` reads CLOCK_MONOTONIC,
 * one clock for every process on the machine, so a time written by the load generator can be subtracted
 * from a time read in the stand-in. Markers carry the low 32 bits (wraps every ~71 minutes); the
 * difference is taken modulo 2^32.
 */

export const FRAME_MS = 20;
export const FRAME_BYTES = 160; // μ-law 8 kHz: 8 bytes per ms
export const MULAW_SILENCE = 0xff;

/** Caller → model: magic, call index (16 bits), sequence number (24 bits), send time (32 bits). */
export const IN_MAGIC = Buffer.from([0xf5, 0xfa, 0xf1, 0xfe, 0xf3, 0xfc]);
export const IN_MARKER_BYTES = IN_MAGIC.length + 4 + 6 + 8;

/** Model → caller: magic, response number in the session (16 bits), delta index in the response (16 bits), send time (32 bits). */
export const OUT_MAGIC = Buffer.from([0xf2, 0xfd, 0xf4, 0xf9, 0xf6, 0xfb]);
export const OUT_MARKER_BYTES = OUT_MAGIC.length + 4 + 4 + 8;

const TWO_32 = 2 ** 32;

/** CLOCK_MONOTONIC in microseconds (a Number: exact, the machine's uptime in µs is far below 2^53). */
export function nowUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Microseconds from a marker's 32-bit send time to `atUs` (a full monotonic time). */
export function elapsedUs(atUs, sentLow32) {
  return (((atUs % TWO_32) - sentLow32) % TWO_32 + TWO_32) % TWO_32;
}

function putNibbles(buf, offset, value, count) {
  let v = value;
  for (let i = count - 1; i >= 0; i--) {
    buf[offset + i] = 0xf0 | (v % 16);
    v = Math.floor(v / 16);
  }
}

function getNibbles(buf, offset, count) {
  let v = 0;
  for (let i = 0; i < count; i++) {
    const b = buf[offset + i];
    if (b === undefined || (b & 0xf0) !== 0xf0) return -1;
    v = v * 16 + (b & 0x0f);
  }
  return v;
}

export function writeInMarker(buf, offset, callIndex, seq, sentUs) {
  IN_MAGIC.copy(buf, offset);
  let o = offset + IN_MAGIC.length;
  putNibbles(buf, o, callIndex & 0xffff, 4);
  o += 4;
  putNibbles(buf, o, seq % 2 ** 24, 6);
  o += 6;
  putNibbles(buf, o, sentUs % TWO_32, 8);
}

/** The marker at `offset`, or undefined when the bytes there are not one. */
export function readInMarker(buf, offset) {
  if (offset + IN_MARKER_BYTES > buf.length) return undefined;
  for (let i = 0; i < IN_MAGIC.length; i++) if (buf[offset + i] !== IN_MAGIC[i]) return undefined;
  let o = offset + IN_MAGIC.length;
  const callIndex = getNibbles(buf, o, 4);
  o += 4;
  const seq = getNibbles(buf, o, 6);
  o += 6;
  const sentLow = getNibbles(buf, o, 8);
  if (callIndex < 0 || seq < 0 || sentLow < 0) return undefined;
  return { callIndex, seq, sentLow };
}

export function writeOutMarker(buf, offset, responseSeq, deltaIndex, sentUs) {
  OUT_MAGIC.copy(buf, offset);
  let o = offset + OUT_MAGIC.length;
  putNibbles(buf, o, responseSeq & 0xffff, 4);
  o += 4;
  putNibbles(buf, o, deltaIndex & 0xffff, 4);
  o += 4;
  putNibbles(buf, o, sentUs % TWO_32, 8);
}

export function readOutMarker(buf, offset) {
  if (offset + OUT_MARKER_BYTES > buf.length) return undefined;
  let o = offset + OUT_MAGIC.length;
  const responseSeq = getNibbles(buf, o, 4);
  o += 4;
  const deltaIndex = getNibbles(buf, o, 4);
  o += 4;
  const sentLow = getNibbles(buf, o, 8);
  if (responseSeq < 0 || deltaIndex < 0 || sentLow < 0) return undefined;
  return { responseSeq, deltaIndex, sentLow };
}

/** A growable list of numbers (latencies), with percentiles. */
export class Samples {
  constructor(initial = 4096) {
    this.data = new Float64Array(initial);
    this.length = 0;
  }

  push(v) {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  /** Nearest-rank { n, p50, p90, p99, max, mean } in the unit pushed. */
  summary() {
    const n = this.length;
    if (n === 0) return { n: 0, p50: null, p90: null, p99: null, max: null, mean: null };
    const sorted = this.data.slice(0, n).sort();
    const at = (q) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i];
    return { n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1], mean: sum / n };
  }
}

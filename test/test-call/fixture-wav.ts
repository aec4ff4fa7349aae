import path from 'node:path';
import { mulawToPcm16, pcm16ToBytes } from '../../src/bridge/codec';
import { buildWav } from '../../src/bridge/wav';
import { renderMulaw, speechLikeAudio } from '../../src/sim/bandwidth-audio';

/** Chromium's fake microphone for the browser test call (--use-file-for-fake-audio-capture; it loops the file). */
export const TEST_CALL_WAV = path.join(__dirname, '..', '..', 'fixtures', 'audio', 'test-call-speech.wav');

/** The file's timeline: silence while the greeting plays, then the tester speaks, then silence until it loops. */
export const TEST_CALL_WAV_TIMELINE = { speechStartMs: 3000, speechMs: 1200, totalMs: 7000 };

/**
 * The fixture's bytes: the stand-in's speech-like audio (src/sim/bandwidth-audio.ts), 16-bit PCM mono at 16 kHz
 * (upsampled from its 8 kHz by linear interpolation; Chromium resamples it to the capture rate).
 */
export function testCallWav(): Buffer {
  const { speechStartMs, speechMs, totalMs } = TEST_CALL_WAV_TIMELINE;
  const mulaw = renderMulaw(speechLikeAudio({ startMs: speechStartMs, durationMs: speechMs, seed: 11 }), 0, totalMs * 8);
  const narrow = mulawToPcm16(mulaw);
  const wide = new Int16Array(narrow.length * 2);
  for (let i = 0; i < narrow.length; i++) {
    const next = i + 1 < narrow.length ? narrow[i + 1]! : narrow[i]!;
    wide[2 * i] = narrow[i]!;
    wide[2 * i + 1] = Math.round((narrow[i]! + next) / 2);
  }
  return buildWav({ encoding: 'pcm16', sampleRate: 16000, channels: 1, data: pcm16ToBytes(wide) });
}

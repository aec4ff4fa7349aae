/**
 * The floor: the cheapest relay that still forwards every frame as its own message, kept here to show
 * what a per-frame relay cannot go below on this machine. It is the naive relay (bench/naive-relay.mjs)
 * with every byte of JSON work taken out:
 *
 * - a Bandwidth `media` frame is recognised and its payload found with `Buffer.indexOf` on the received
 *   bytes, and the `input_audio_buffer.append` is assembled by copying that payload between two constant
 *   byte strings into one Buffer, sent as a text frame: no string decoding, no JSON.parse/stringify;
 * - an OpenAI `response.output_audio.delta` becomes a playAudio the same way; every other OpenAI event is
 *   dropped unread.
 *
 * Everything left is what any relay of separate 20 ms frames must do: read each WebSocket frame from one
 * socket and write one to another (ws framing, masking toward OpenAI, one `writev` each). It is not a
 * usable product (no auth, no pacing, no barge-in, and it trusts both peers' byte layout), only a
 * measuring stick: if it costs most of what the naive relay costs, no relay that keeps one message per
 * frame can be several times cheaper than the naive one.
 *
 * Everything but the per-message path is shared with the naive relay (bench/lib/relay-shell.mjs).
 *
 *   PORT=0 HOST=127.0.0.1 OPENAI_BASE_URL=ws://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-test node bench/floor-relay.mjs
 */
import { startBaselineRelay } from './lib/relay-shell.mjs';

const QUOTE = 0x22;
const MEDIA_EVENT = Buffer.from('"eventType":"media"');
const STOP_EVENT = Buffer.from('"eventType":"stop"');
const PAYLOAD_KEY = Buffer.from('"payload":"');
const APPEND_HEAD = Buffer.from('{"type":"input_audio_buffer.append","audio":"');
const APPEND_TAIL = Buffer.from('"}');
const DELTA_EVENT = Buffer.from('"type":"response.output_audio.delta"');
const DELTA_KEY = Buffer.from('"delta":"');
const PLAY_HEAD = Buffer.from('{"eventType":"playAudio","media":{"contentType":"audio/pcmu","payload":"');
const PLAY_TAIL = Buffer.from('"}}');

/** `head` + the quoted value after `key` in `frame` + `tail`, as one Buffer; undefined if there is none. */
function rewrap(frame, key, head, tail) {
  const k = frame.indexOf(key);
  if (k < 0) return undefined;
  const start = k + key.length;
  const end = frame.indexOf(QUOTE, start);
  if (end < 0) return undefined;
  const out = Buffer.allocUnsafe(head.length + (end - start) + tail.length);
  head.copy(out, 0);
  frame.copy(out, head.length, start, end);
  tail.copy(out, head.length + (end - start));
  return out;
}

startBaselineRelay('floor', {
  toOpenAI(data) {
    if (data.indexOf(MEDIA_EVENT) >= 0) return rewrap(data, PAYLOAD_KEY, APPEND_HEAD, APPEND_TAIL);
    return data.indexOf(STOP_EVENT) >= 0 ? 'stop' : undefined;
  },
  toCaller(data) {
    return data.indexOf(DELTA_EVENT) >= 0 ? rewrap(data, DELTA_KEY, PLAY_HEAD, PLAY_TAIL) : undefined;
  },
});

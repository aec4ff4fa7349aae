/**
 * The baseline: the straightforward Bandwidth ⇄ OpenAI Realtime relay that peer samples implement, kept
 * here so the relay benchmark can run it in the same harness as Switchboard. Deliberately naive, and
 * deliberately doing less than Switchboard does (no auth, no store, no pre-warm: bench/lib/relay-shell.mjs):
 *
 * - every Bandwidth frame is JSON.parse'd, and each `media` payload is sent on as
 *   JSON.stringify({type:'input_audio_buffer.append', audio});
 * - every OpenAI event is JSON.parse'd, and each `response.output_audio.delta` is sent to the caller at
 *   once as one JSON.stringify'd playAudio: no pacing, no barge-in, no truncation, no transcript.
 *
 *   PORT=0 HOST=127.0.0.1 OPENAI_BASE_URL=ws://127.0.0.1:PORT/v1 OPENAI_API_KEY=sk-test node bench/naive-relay.mjs
 */
import { startBaselineRelay } from './lib/relay-shell.mjs';

startBaselineRelay('naive', {
  toOpenAI(data) {
    const msg = JSON.parse(data.toString());
    if (msg.eventType === 'media') return JSON.stringify({ type: 'input_audio_buffer.append', audio: msg.payload });
    return msg.eventType === 'stop' ? 'stop' : undefined;
  },
  toCaller(data) {
    const event = JSON.parse(data.toString());
    if (event.type !== 'response.output_audio.delta') return undefined;
    return JSON.stringify({ eventType: 'playAudio', media: { contentType: 'audio/pcmu', payload: event.delta } });
  },
});

/**
 * The Realtime stand-in in playback mode (docs/simulator.md): its script and transcriber are fed the model
 * events of a whole-call recording, in order. The stand-in still plays the protocol itself (VAD on the
 * appended audio, truncates, cancels, tool outputs: RT §1.3–§1.6), so it reacts to what Switchboard sends
 * now as the recording shows the model did then: response n of the replay is response n of the recording
 * (same transcript, the same audio bytes, same function call, at the same pace: its latency from its
 * trigger, its deltas' sizes and gaps, RecordedTiming), and the caller's n-th turn is transcribed as it was. A recording whose first session was refused (HTTP 429/5xx) refuses the same way.
 */
import type { TapeEntry } from '../record/tape-format';
import type { WholeCall } from '../record/tape-reader';
import { RecordingError } from '../record/tape-reader';
import type { RecordedVadEvent } from './realtime-recorded-vad';
import type { RefuseSpec } from './realtime-server';
import type { RecordedTiming, ResponsePlan, Script, Transcriber } from './realtime-script';

export interface RealtimePlayback {
  script: Script;
  transcribe: Transcriber;
  refuse?: RefuseSpec;
  /** Responses in the recording (what the script hands out, in order). */
  plans: ResponsePlan[];
  /** The VAD turns of each session that appended audio, in order of first append (realtime-recorded-vad.ts). */
  recordedVad: () => RecordedVadEvent[] | undefined;
  /**
   * Responses the model started on its own on a sideband (openai-sip: it heard the caller over SIP, which the
   * replay cannot play), and the SIP caller's key presses: their recorded events, to send as they were, at
   * their recorded time.
   */
  injections: Injection[];
}

export interface Injection {
  t: number;
  /** The recorded Realtime session (1-based) and the call id it was opened for. */
  session: number;
  sessionCallId: string;
  events: Record<string, unknown>[];
}

/** Output audio bytes per ms by the session's output format once configured (OpenAI reference §1.3; `session.created` still shows the default). */
function bytesPerMs(entries: TapeEntry[]): number {
  for (const e of entries) {
    if (e.src !== 'realtime' || e.dir !== 'in' || e.type !== 'session.updated') continue;
    const type = (e.event?.session as { audio?: { output?: { format?: { type?: string } } } } | undefined)?.audio?.output?.format?.type;
    if (type === 'audio/pcm') return 48;
    if (type) return 8;
  }
  return 8;
}

export function realtimePlayback(call: WholeCall): RealtimePlayback {
  const perMs = bytesPerMs(call.entries);
  const plans: ResponsePlan[] = [];
  const transcripts: string[] = [];
  let open: { text?: string; audio: Buffer[]; audioBytes: number; functionCall?: { name: string; arguments: Record<string, unknown> }; startedT: number; timing: RecordedTiming; audioDoneT?: number } | undefined;
  const close = () => {
    if (!open) return;
    const audioMs = Math.round(open.audioBytes / perMs);
    // The recorded bytes themselves: a production recording replays with the words the caller heard then.
    const audio = open.audioBytes > 0 ? { audio: { bytes: Buffer.concat(open.audio), bytesPerMs: perMs } } : {};
    const timing = { timing: open.timing };
    if (audioMs > 0 || open.text) plans.push({ text: open.text ?? '', audioMs: Math.max(audioMs, 1), ...audio, ...timing, ...(open.functionCall ? { functionCall: open.functionCall } : {}) });
    else if (open.functionCall) plans.push({ functionCall: open.functionCall, ...timing });
    else plans.push({ text: '', audioMs: 1 });
    open = undefined;
  };
  let refusals = 0;
  let refusedStatus = 0;
  // A session that never appended audio is a sideband (the audio goes over SIP): no VAD can start its responses.
  const appended = new Set(call.entries.filter((e) => e.type === 'input_audio_buffer.append').map((e) => e.session));
  const sessionCallIds = new Map(call.entries.filter((e) => e.type === 'connect').map((e) => [e.session, String(e.event?.sessionCallId ?? '')]));
  const pendingCreates = new Map<number | undefined, number>();
  const injections: Injection[] = [];
  let injecting: Injection | undefined;
  // What last asked each session for a response (our response.create, or the caller's turn ending: server VAD),
  // and when: a response's recorded pace counts from it, as the stand-in starts its response there.
  const triggeredAt = new Map<number | undefined, number>();
  call.entries.forEach((e, i) => {
    if (e.src !== 'realtime') return;
    if (e.dir === 'out') {
      if (e.type === 'response.create') {
        pendingCreates.set(e.session, (pendingCreates.get(e.session) ?? 0) + 1);
        triggeredAt.set(e.session, e.t);
      }
      return;
    }
    if (e.type === 'input_audio_buffer.speech_stopped') triggeredAt.set(e.session, e.t);
    // A SIP caller's key press reaches us on the sideband (RT §1.5 `input_audio_buffer.dtmf_event_received`,
    // SIP only): the replay cannot press keys over SIP, so the event is sent as it came, at its time.
    if (e.type === 'input_audio_buffer.dtmf_event_received') {
      injections.push({ t: e.t, session: e.session ?? 1, sessionCallId: sessionCallIds.get(e.session) ?? '', events: [e.event ?? {}] });
      return;
    }
    if (injecting) {
      injecting.events.push(e.audio ? { ...e.event, delta: call.audio(e.audio).toString('base64') } : (e.event ?? {}));
      if (e.type === 'response.done') injecting = undefined;
      return;
    }
    if (e.type === 'response.created' && !appended.has(e.session)) {
      const pending = pendingCreates.get(e.session) ?? 0;
      if (pending > 0) pendingCreates.set(e.session, pending - 1);
      else {
        injecting = { t: e.t, session: e.session ?? 1, sessionCallId: sessionCallIds.get(e.session) ?? '', events: [e.event ?? {}] };
        injections.push(injecting);
        return;
      }
    }
    switch (e.type) {
      case 'refused':
        refusals++;
        refusedStatus = Number(e.event?.status ?? 0);
        return;
      case 'response.created': {
        close();
        const startedT = Math.min(e.t, triggeredAt.get(e.session) ?? e.t);
        triggeredAt.delete(e.session);
        open = { audio: [], audioBytes: 0, startedT, timing: { deltas: [] } };
        return;
      }
      case 'response.output_item.added':
        if (open && open.timing.firstOutputMs === undefined) open.timing.firstOutputMs = e.t - open.startedT;
        return;
      case 'response.output_audio.delta':
        if (open && e.audio) {
          open.audio.push(call.audio(e.audio));
          open.audioBytes += e.audio.bytes;
          open.timing.deltas.push({ atMs: e.t - open.startedT, bytes: e.audio.bytes });
        }
        return;
      case 'response.output_audio.done':
        if (open) open.audioDoneT = e.t;
        return;
      case 'response.output_audio_transcript.done':
        if (open) {
          open.text = String(e.event?.transcript ?? '');
          if (open.audioDoneT !== undefined) open.timing.transcriptDelayMs = Math.max(0, e.t - open.audioDoneT);
        }
        return;
      case 'response.function_call_arguments.done': {
        if (!open) return;
        try {
          open.functionCall = { name: String(e.event?.name), arguments: JSON.parse(String(e.event?.arguments ?? '{}')) as Record<string, unknown> };
        } catch {
          throw new RecordingError(`index.jsonl entry ${i + 1} (response.function_call_arguments.done): field event.arguments: not JSON`);
        }
        return;
      }
      case 'response.done':
        close();
        return;
      case 'conversation.item.input_audio_transcription.completed':
        transcripts.push(String(e.event?.transcript ?? ''));
        return;
    }
  });
  close();
  const queue = [...plans];
  const vadQueue = vadTurns(call.entries);
  return {
    plans,
    recordedVad: () => vadQueue.shift(),
    injections,
    // Past the recording, the model stays silent: a replay that asks for more responses than the call had shows up in the diff.
    script: () => queue.shift() ?? { text: '', audioMs: 1 },
    transcribe: (_ms, n) => transcripts[n - 1] ?? '',
    ...(refusals > 0 ? { refuse: { status: refusedStatus || 500, times: refusals } } : {}),
  };
}

/** Input audio bytes per ms by the session's input format (OpenAI reference §1.3), as configured by the time of `index`. */
function inputBytesPerMs(format: { type?: string } | undefined): number | undefined {
  if (format?.type === 'audio/pcm') return 48;
  return format?.type ? 8 : undefined;
}

/**
 * Where each session's server VAD put the caller's turns (RT §1.5 `speech_started.audio_start_ms`,
 * `speech_stopped.audio_end_ms`), and how much audio had been appended when it said so; sessions in the order
 * they first appended audio (the order a replay's sessions ask, realtime-server.ts `recordedVad`).
 */
function vadTurns(entries: TapeEntry[]): RecordedVadEvent[][] {
  const perMsOf = new Map<number | undefined, number>();
  const bySession = new Map<number | undefined, { appendedMs: number; events: RecordedVadEvent[] }>();
  for (const e of entries) {
    if (e.src !== 'realtime') continue;
    if (e.type === 'session.updated' && e.dir === 'in') {
      const perMs = inputBytesPerMs((e.event?.session as { audio?: { input?: { format?: { type?: string } } } } | undefined)?.audio?.input?.format);
      if (perMs) perMsOf.set(e.session, perMs);
      continue;
    }
    let s = bySession.get(e.session);
    if (e.type === 'input_audio_buffer.append' && e.dir === 'out') {
      if (!s) bySession.set(e.session, (s = { appendedMs: 0, events: [] }));
      s.appendedMs += (e.audio?.bytes ?? 0) / (perMsOf.get(e.session) ?? 8);
      continue;
    }
    if (!s || e.dir !== 'in') continue;
    if (e.type === 'input_audio_buffer.speech_started') s.events.push({ kind: 'start', atMs: s.appendedMs, audioMs: Number(e.event?.audio_start_ms ?? 0) });
    if (e.type === 'input_audio_buffer.speech_stopped') {
      const audioMs = Number(e.event?.audio_end_ms ?? 0);
      s.events.push({ kind: 'stop', atMs: Math.max(s.appendedMs, audioMs), audioMs });
    }
  }
  return [...bySession.values()].map((s) => s.events);
}

import { z } from 'zod';
import {
  DEFAULT_MACHINE_DETECTION_TIMEOUT_S,
  DEFAULT_MACHINE_SILENCE_TIMEOUT_S,
  DEFAULT_MACHINE_SPEECH_END_S,
  MAX_MACHINE_DETECTION_TIMEOUT_S,
  VOICEMAIL_MESSAGE_MAX_CHARS,
} from '../constants';

/**
 * An agent's telephone features beyond the conversation itself (docs/architecture.md#key-presses-and-voicemail):
 * the caller's key presses (DTMF) and what an outbound call does when an answering machine picks up.
 * Every field has a default, so agents stored before these existed stay valid.
 */

/**
 * Key presses. Stream mode asks Bandwidth for them with `<StartGather>` beside the stream (BW §2, the SDK's
 * StartGather verb); openai-sip mode gets them from the sideband (`input_audio_buffer.dtmf_event_received`,
 * OpenAI reference §1.5). Either way the model sees them as a conversation item.
 */
export const keyPressesSchema = z
  .object({
    /** Listen for key presses at all (stream mode adds `<StartGather>` to the stream BXML). */
    enabled: z.boolean().default(true),
    /** A key press cuts the agent off the way the caller's speech does (barge-in). */
    interrupt: z.boolean().default(false),
  })
  .strict();

/** Whole seconds: bandwidth.yml's MachineDetectionConfiguration warns that decimals are not processed correctly. */
const wholeSeconds = (min: number, max: number) => z.number().int('must be a whole number of seconds (Bandwidth mishandles decimals)').min(min).max(max);

/**
 * Answering-machine detection on outbound calls (`POST /api/calls`): Bandwidth's machine detection in async
 * mode (bandwidth.yml MachineDetectionConfiguration), its `machineDetectionComplete` callback deciding.
 * Only `answering-machine` acts; `human` proceeds as any call, and an undecided result (`silence`, `timeout`,
 * `error`) also proceeds: hanging up on a person who did not speak is worse than talking to a machine, and a
 * call where nobody is there is ended by the silence watchdog (outcome no-input).
 */
export const voicemailSchema = z
  .object({
    /** Ask Bandwidth for machine detection on this agent's outbound calls. */
    detect: z.boolean().default(false),
    /**
     * On an answering machine: `hang-up` at once, or `leave-message` once the greeting has ended (Bandwidth's
     * `delayResult`: the result comes when the machine stops speaking or its tone sounds), then hang up.
     * Either way the call's outcome is `voicemail`.
     */
    action: z.enum(['hang-up', 'leave-message']).default('hang-up'),
    /** What the agent says on the recording; empty → the model composes a short message from the call's context. */
    message: z.string().trim().max(VOICEMAIL_MESSAGE_MAX_CHARS).default(''),
    /** Bandwidth's detectionTimeout: no result in this long → a `timeout` result. */
    detectionTimeoutS: wholeSeconds(1, MAX_MACHINE_DETECTION_TIMEOUT_S).default(DEFAULT_MACHINE_DETECTION_TIMEOUT_S),
    /** Bandwidth's silenceTimeout: no speech in this long → a `silence` result. */
    silenceTimeoutS: wholeSeconds(1, MAX_MACHINE_DETECTION_TIMEOUT_S).default(DEFAULT_MACHINE_SILENCE_TIMEOUT_S),
    /** Bandwidth's machineSpeechEndThreshold: silence after a machine's greeting that counts as its end. */
    greetingEndSilenceS: wholeSeconds(1, MAX_MACHINE_DETECTION_TIMEOUT_S).default(DEFAULT_MACHINE_SPEECH_END_S),
  })
  .strict();

export const telephonySchema = z
  .object({
    keyPresses: keyPressesSchema.default({ enabled: true, interrupt: false }),
    voicemail: voicemailSchema.default({
      detect: false,
      action: 'hang-up',
      message: '',
      detectionTimeoutS: DEFAULT_MACHINE_DETECTION_TIMEOUT_S,
      silenceTimeoutS: DEFAULT_MACHINE_SILENCE_TIMEOUT_S,
      greetingEndSilenceS: DEFAULT_MACHINE_SPEECH_END_S,
    }),
  })
  .strict();
export type Telephony = z.infer<typeof telephonySchema>;
export type VoicemailSettings = z.infer<typeof voicemailSchema>;

/** What the agent does once a machine answered (the conversation core carries it out in every mode). */
export type VoicemailPlan = { kind: 'hang-up' } | { kind: 'leave-message'; message: string };

export function voicemailPlan(settings: VoicemailSettings): VoicemailPlan {
  return settings.action === 'hang-up' ? { kind: 'hang-up' } : { kind: 'leave-message', message: settings.message };
}

/** The user item a run of key presses becomes: what the caller did, in words the model cannot mistake for speech. */
export function keyPressText(digits: readonly string[]): string {
  return `[The caller pressed ${digits.length === 1 ? 'the key' : 'the keys'} ${digits.join(' ')} on their phone's keypad.]`;
}

/** The voicemail response's instructions (OpenAI reference §1.6: a response with its own instructions). */
export function voicemailInstructions(message: string): string {
  const situation = 'An answering machine answered this call and its greeting has ended: you are now recording a voicemail. Nobody will answer you.';
  return message
    ? `${situation} Say exactly this, naturally, and nothing else: "${message}"`
    : `${situation} Leave a short message (two or three sentences): who you are, why you called, from what you know of this call, and how to call back. Do not ask questions.`;
}

/**
 * Bandwidth's answering-machine detection, as the caller stand-in models it (docs/simulator.md#machine-detection):
 * the callee of an outbound call is a person or a machine, and createCall's `machineDetection` (bandwidth.yml
 * MachineDetectionConfiguration, as Switchboard sent it) decides when the `machineDetectionComplete` callback
 * goes out and what it says. Only async mode sends that callback (bandwidth.yml machineDetectionModeEnum).
 */
import { MACHINE_DETECTION_RESULTS } from '../bandwidth/callbacks';
import { basic, type CallbackAuth } from './callback-delivery';
import { isoDuration } from './bandwidth-media-stream';

/** bandwidth.yml machineDetectionResult.value. */
export type MachineDetectionValue = (typeof MACHINE_DETECTION_RESULTS)[number];

/** Who answered, and how detection goes for them. */
export interface CalleeModel {
  /** The result detection reaches. `timeout` and `silence` come at their configured timeouts. */
  result: MachineDetectionValue;
  /** Ms after the answer detection decides a person or a machine (default 2000). */
  decideMs?: number;
  /** A machine's greeting, ms from the answer to its end (its tone): `delayResult` holds the verdict until then (default 8000). */
  greetingMs?: number;
}

/** Bandwidth's defaults (bandwidth.yml): detectionTimeout 15 s, silenceTimeout 10 s. */
const DEFAULT_DETECTION_TIMEOUT_S = 15;
const DEFAULT_SILENCE_TIMEOUT_S = 10;
const DEFAULT_DECIDE_MS = 2_000;
const DEFAULT_GREETING_MS = 8_000;

export interface DetectionPlan {
  /** Clock ms after the answer the callback is sent. */
  afterMs: number;
  value: MachineDetectionValue;
  url: string;
  method: 'POST' | 'GET';
  auth: CallbackAuth | undefined;
}

/** When and where the verdict goes; undefined when nothing is sent (no configuration, sync mode, no callbackUrl). */
export function detectionPlan(config: Record<string, unknown> | undefined, callee: CalleeModel): DetectionPlan | undefined {
  if (!config || (config.mode ?? 'async') !== 'async' || typeof config.callbackUrl !== 'string') return undefined;
  const seconds = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  const timeoutMs = seconds(config.detectionTimeout, DEFAULT_DETECTION_TIMEOUT_S) * 1000;
  const decideMs = callee.decideMs ?? DEFAULT_DECIDE_MS;
  let afterMs: number;
  switch (callee.result) {
    case 'timeout':
      afterMs = timeoutMs;
      break;
    case 'silence':
      afterMs = seconds(config.silenceTimeout, DEFAULT_SILENCE_TIMEOUT_S) * 1000;
      break;
    case 'answering-machine':
      // delayResult: the verdict waits for the greeting's end, but never past detectionTimeout.
      afterMs = config.delayResult === true ? Math.min(callee.greetingMs ?? DEFAULT_GREETING_MS, timeoutMs) : decideMs;
      break;
    default:
      afterMs = decideMs;
  }
  const method = typeof config.callbackMethod === 'string' && config.callbackMethod.toUpperCase() === 'GET' ? 'GET' : 'POST';
  return { afterMs, value: callee.result, url: config.callbackUrl, method, auth: basic(config.username, config.password) };
}

/** The callback body (bandwidth.yml machineDetectionCompleteCallback): the call's fields plus the result. */
export function machineDetectionBody(common: Record<string, unknown>, value: MachineDetectionValue, durationMs: number): Record<string, unknown> {
  return { ...common, machineDetectionResult: { value, duration: isoDuration(durationMs) } };
}

import { CallbackMethodEnum, MachineDetectionModeEnum, type MachineDetectionConfiguration } from 'bandwidth-sdk';
import type { VoicemailSettings } from '../../agents/telephony';

/**
 * Bandwidth's machine detection for an agent's outbound call (bandwidth.yml MachineDetectionConfiguration):
 * async, so the answer callback starts the agent at once and the verdict comes to `callbackUrl` as a
 * machineDetectionComplete callback. Leaving a message waits for the greeting's end (`delayResult`: the
 * answering-machine result comes once the machine stops speaking, its tone sounds, or detectionTimeout runs
 * out); hanging up wants the verdict as soon as it is known. The SDK has no beep-detection switch of its own:
 * `delayResult` with `machineSpeechEndThreshold` is how Bandwidth waits for the greeting to end.
 */
export function machineDetection(v: VoicemailSettings, callbackUrl: string, credentials: { username: string; password: string }): MachineDetectionConfiguration {
  return {
    mode: MachineDetectionModeEnum.Async,
    detectionTimeout: v.detectionTimeoutS,
    silenceTimeout: v.silenceTimeoutS,
    machineSpeechEndThreshold: v.greetingEndSilenceS,
    delayResult: v.action === 'leave-message',
    callbackUrl,
    callbackMethod: CallbackMethodEnum.Post,
    username: credentials.username,
    password: credentials.password,
  };
}

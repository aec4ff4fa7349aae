/**
 * An optional observer of one media socket (BW §4), for whole-call recording (src/record/call-recorder.ts).
 * It sees every text frame exactly as it crossed the wire, both ways; it must not throw and must not hold
 * the frame up (the recorder copies what it needs). Without recording, no tap is attached.
 */
export interface MediaFrameTap {
  /** A text frame Bandwidth sent us (start, media, stop, or garbage). */
  received(text: string): void;
  /** A text frame we sent Bandwidth (playAudio, clear). */
  sent(text: string): void;
}

/** Hands out a tap per call (the media gateway asks once per accepted socket). */
export type MediaTapFactory = (callId: string) => MediaFrameTap | undefined;

/**
 * The test call's AudioWorklet processors (docs/console.md, "Test call"), on the audio thread:
 * - `sb-capture`: the microphone, down-sampled to 8 kHz and μ-law encoded, posted as 20 ms frames of 160 bytes;
 * - `sb-playback`: the agent's 8 kHz audio, queued gapless and played at the context's rate; `clear` drops the queue.
 */
import { Downsampler, MulawFramer, PlayoutQueue } from './test-call-codec.js';

/** Report played ms to the page about every 100 ms of audio-thread time (128-frame blocks). */
const REPORT_EVERY_BLOCKS = 32;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.downsampler = new Downsampler(sampleRate);
    this.framer = new MulawFramer();
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      for (const frame of this.framer.push(this.downsampler.process(channel))) this.port.postMessage(frame, [frame.buffer]);
    }
    return true;
  }
}

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = new PlayoutQueue(sampleRate);
    this.blocks = 0;
    this.port.onmessage = (event) => {
      const message = event.data;
      if (message.type === 'audio') this.queue.push(message.samples);
      else if (message.type === 'clear') {
        this.queue.clear();
        this.report();
      }
    };
  }

  report() {
    this.port.postMessage({ playedMs: this.queue.playedMs, queuedMs: Math.floor(this.queue.queuedSamples / 8) });
  }

  process(_inputs, outputs) {
    const out = outputs[0];
    if (!out || !out[0]) return true;
    const hadAudio = this.queue.queuedSamples > 0;
    this.queue.fill(out[0]);
    for (let c = 1; c < out.length; c++) out[c].set(out[0]);
    if (++this.blocks % REPORT_EVERY_BLOCKS === 0 || (hadAudio && this.queue.queuedSamples === 0)) this.report();
    return true;
  }
}

registerProcessor('sb-capture', CaptureProcessor);
registerProcessor('sb-playback', PlaybackProcessor);

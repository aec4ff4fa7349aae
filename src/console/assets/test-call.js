/**
 * The browser test call (docs/console.md, "Test call"), a page of the console: its chrome, API wrapper (session
 * cookie, CSRF header on POST, the server's error messages) and transcript lines come from common.js.
 * Pick an agent, press Call, speak:
 * 1. the microphone first (a refusal is explained before any call is created);
 * 2. POST /api/test-calls mints the call: the agent's session pre-warms, and a one-time media socket comes back;
 * 3. the socket speaks Bandwidth's bidirectional media-stream protocol (BW §4): `start`, then `media` frames of
 *    20 ms μ-law from the capture worklet, `stop` on Hang up; the server's `playAudio` is played gapless by the
 *    playback worklet and `clear` drops what it has queued (barge-in).
 */
import { api, el, renderChrome, showError, transcriptLine } from './common.js';
import { FRAME_BYTES, mulawToFloats } from './test-call-codec.js';

renderChrome('test-call');
const $ = (id) => document.getElementById(id);
const ui = {
  form: $('call-form'),
  agent: $('agent'),
  call: $('call'),
  hangup: $('hangup'),
  status: $('status'),
  error: $('error'),
  callId: $('call-id'),
  transcriptSection: $('transcript-section'),
  transcript: $('transcript'),
};
/** How often the transcript is read back from the call's record while the call is live. */
const TRANSCRIPT_POLL_MS = 1500;
const counters = { framesSent: $('frames-sent'), playAudioChunks: $('play-chunks'), playedMs: $('played-ms'), clears: $('clears') };

/** The one call this page holds at a time (state per call, never per module: a new Call makes a new one). */
let current = null;

function showStatus(text, state = 'idle') {
  ui.status.textContent = text;
  ui.status.dataset.state = state;
}

async function loadAgents() {
  try {
    const agents = await api('agents');
    ui.agent.replaceChildren(
      ...agents.map((agent) =>
        el('option', { value: agent.id, disabled: agent.mode !== 'stream' }, agent.mode === 'stream' ? `${agent.name} (${agent.id})` : `${agent.name} (${agent.id}): ${agent.mode}, not reachable from a browser`),
      ),
    );
    const first = agents.find((a) => a.mode === 'stream');
    if (!first) {
      showError(ui.error, new Error(agents.length === 0 ? 'There are no agents yet: create one on the Agents page first.' : 'No agent uses mode "stream": only stream agents can take a browser test call.'));
      return;
    }
    ui.agent.value = first.id;
    ui.agent.disabled = false;
    ui.call.disabled = false;
  } catch (err) {
    showError(ui.error, new Error(`Could not list the agents: ${err.message}`));
  }
}

/** Why the microphone could not be opened, in words a person can act on. */
function microphoneProblem(err) {
  switch (err && err.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Microphone access was refused. Allow the microphone for this site (the camera/microphone icon in the address bar, or the browser\'s site settings) and press Call again. The page also needs https:// or localhost.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No microphone was found. Connect one (or enable it in the system settings) and press Call again.';
    case 'NotReadableError':
    case 'AbortError':
      return 'The microphone is in use by another application or could not be started. Close the other application and press Call again.';
    default:
      return `The microphone could not be opened: ${err && err.message ? err.message : String(err)}`;
  }
}

function base64OfBytes(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

function bytesOfBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

class TestCall {
  constructor(agentId) {
    this.agentId = agentId;
    this.counts = { framesSent: 0, playAudioChunks: 0, playedMs: 0, clears: 0 };
    this.sequenceNumber = 0;
    this.ended = false;
    this.render();
    ui.transcript.replaceChildren();
    ui.transcriptSection.hidden = true;
  }

  /** The transcript as stored (GET /api/calls/{id}): what the tester said and what the agent said, with barge-in cuts. */
  async showTranscript() {
    if (!this.callId) return;
    let detail;
    try {
      detail = await api(`calls/${encodeURIComponent(this.callId)}`);
    } catch {
      return; // the next poll tries again; the call goes on either way
    }
    const items = detail.transcript.filter((t) => t.role === 'caller' || t.role === 'agent');
    ui.transcript.replaceChildren(...items.map((t) => transcriptLine({ ...t, heardMs: t.heardMs ?? null })));
    ui.transcriptSection.hidden = items.length === 0;
  }

  render() {
    for (const [key, el] of Object.entries(counters)) el.textContent = String(this.counts[key]);
  }

  async start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error('This browser cannot capture audio here: open the page over https:// or on localhost.');
    }
    showStatus('Asking for the microphone…', 'busy');
    try {
      this.microphone = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 } });
    } catch (err) {
      throw new Error(microphoneProblem(err));
    }
    this.audio = new AudioContext();
    await this.audio.audioWorklet.addModule('/console/assets/test-call-worklet.js');
    showStatus('Starting the call…', 'busy');
    const minted = await api('test-calls', { method: 'POST', body: { agentId: this.agentId } });
    this.callId = minted.callId;
    const link = ui.callId.querySelector('a');
    link.href = `/console/calls/${encodeURIComponent(minted.callId)}`;
    link.textContent = minted.callId;
    ui.callId.hidden = false;
    // The socket on the origin this page came from (the server checks the upgrade's Origin).
    const url = new URL(minted.path, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    this.socket = new WebSocket(url);
    this.socket.onopen = () => this.onOpen();
    this.socket.onmessage = (event) => this.onMessage(event.data);
    this.socket.onclose = (event) => this.onClose(event);
  }

  onOpen() {
    // BW §4.2: `start` comes first, naming the stream and its one inbound track, PCMU as on Bandwidth's wire.
    this.metadata = { accountId: 'browser', callId: this.callId, streamId: `browser-${crypto.randomUUID()}`, streamName: 'test-call', tracks: [{ name: 'inbound', mediaFormat: { encoding: 'PCMU', sampleRate: 8000 } }] };
    this.send({ eventType: 'start', metadata: this.metadata });
    this.playback = new AudioWorkletNode(this.audio, 'sb-playback', { numberOfInputs: 0, outputChannelCount: [1] });
    this.playback.port.onmessage = (event) => {
      this.counts.playedMs = event.data.playedMs;
      this.render();
    };
    this.playback.connect(this.audio.destination);
    this.capture = new AudioWorkletNode(this.audio, 'sb-capture', { numberOfOutputs: 0 });
    this.capture.port.onmessage = (event) => this.sendFrame(event.data);
    this.source = this.audio.createMediaStreamSource(this.microphone);
    this.source.connect(this.capture);
    void this.audio.resume();
    this.transcriptTimer = setInterval(() => void this.showTranscript(), TRANSCRIPT_POLL_MS);
    showStatus('Connected: speak to the agent.', 'live');
  }

  sendFrame(frame) {
    if (this.ended || frame.length !== FRAME_BYTES || this.socket.readyState !== WebSocket.OPEN) return;
    this.send({ eventType: 'media', track: 'inbound', sequenceNumber: String(++this.sequenceNumber), payload: base64OfBytes(frame) });
    this.counts.framesSent++;
    if (this.counts.framesSent % 10 === 0) this.render();
  }

  onMessage(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.eventType === 'playAudio' && message.media && typeof message.media.payload === 'string') {
      const samples = mulawToFloats(bytesOfBase64(message.media.payload));
      this.playback?.port.postMessage({ type: 'audio', samples }, [samples.buffer]);
      this.counts.playAudioChunks++;
    } else if (message.eventType === 'clear') {
      // Barge-in (BW §4.3): drop what is queued at once.
      this.playback?.port.postMessage({ type: 'clear' });
      this.counts.clears++;
    }
    this.render();
  }

  send(event) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(event));
  }

  hangUp() {
    // BW §4.2: `stop` carries the same metadata as `start`.
    this.send({ eventType: 'stop', metadata: this.metadata });
    this.socket?.close(1000, 'hung up');
    this.finish('You hung up.');
  }

  onClose(event) {
    if (this.ended) return;
    const why = event.reason ? `: ${event.reason}` : event.code === 1006 ? ': the connection was lost (or refused)' : '';
    this.finish(`The call ended${why}.`);
  }

  finish(text) {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.transcriptTimer);
    // Once more after the end: the last lines are stored as the session closes.
    setTimeout(() => void this.showTranscript(), TRANSCRIPT_POLL_MS);
    this.source?.disconnect();
    this.capture?.disconnect();
    this.microphone?.getTracks().forEach((track) => track.stop());
    // Over for both sides, as a phone hang-up is: what was still queued is not played.
    void this.audio?.close();
    this.render();
    showStatus(text, 'ended');
    callEnded();
  }
}

function callEnded() {
  current = null;
  ui.call.disabled = false;
  ui.agent.disabled = false;
  ui.hangup.disabled = true;
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (current) return;
  showError(ui.error, null);
  const call = new TestCall(ui.agent.value);
  current = call;
  ui.call.disabled = true;
  ui.agent.disabled = true;
  ui.hangup.disabled = false;
  call.start().catch((err) => {
    showError(ui.error, err);
    call.finish('No call.');
  });
});

ui.hangup.addEventListener('click', () => current?.hangUp());

// For tests and the curious: the live counters of the current call.
window.switchboardTestCall = () => (current ? { callId: current.callId, ...current.counts } : null);

void loadAgents();

/**
 * Every tunable number and fixed protocol value in one place. Durations say their unit in the name.
 * Protocol citations point at ../shared/reference/bandwidth-protocol.md (BW §n).
 */

/** BW §2.1: the largest BXML document Bandwidth accepts. */
export const BXML_MAX_BYTES = 64 * 1024;

/** BW §1.1: callback bodies are small JSON documents; anything larger is not from Bandwidth. */
export const CALLBACK_BODY_MAX_BYTES = 64 * 1024;

/** Bandwidth callIds are about 50 characters (BW §1.4); anything far longer is not one, and is refused. */
export const CALL_ID_MAX_CHARS = 200;

/** BW §2.2: the name of the bidirectional stream; StopStream refers to it. Unique per call. */
export const STREAM_NAME = 'ai-agent';

/** BW §2.5 / §1.5: `uui` values are at most 256 characters including the encoding parameter. */
export const UUI_MAX_CHARS = 256;

/** BW §1.9: tags set by verbs are at most 256 characters. */
export const VERB_TAG_MAX_CHARS = 256;

/** How long a media-socket token minted at `initiate` stays valid (issue: "expires within a minute"). */
export const MEDIA_TOKEN_TTL_MS = 60_000;

/**
 * How long a signed callback URL (redirect, transfer, answer) stays valid. Transfers can ring for up to
 * 300 s (BW §2.5 callTimeout) and a bridged call can last hours before transferComplete arrives, so this
 * is generous; the signature, not the expiry, is what makes tampering impossible.
 */
export const SIGNED_URL_TTL_MS = 24 * 60 * 60 * 1000;

/** Sizes of generated secrets, in random bytes before base64url. */
export const GENERATED_SECRET_BYTES = 24;

/** File in DATA_DIR that holds generated credentials (mode 0600). */
export const CREDENTIALS_FILE = 'credentials.json';

/** SQLite file name inside DATA_DIR. */
export const DATABASE_FILE = 'switchboard.db';

/**
 * The store's in-memory routing cache (agents, number assignments, misses included): when a map reaches
 * this many entries it starts over, so ids sent in callbacks cannot grow it without limit.
 */
export const ROUTING_CACHE_MAX_ENTRIES = 10_000;

/** SQLite: how long a statement waits for another connection's lock before failing with SQLITE_BUSY. */
export const STORE_BUSY_TIMEOUT_MS = 5_000;
/** SQLite's own default WAL autocheckpoint (pages): used inline when there is no checkpointer thread. */
export const WAL_AUTOCHECKPOINT_PAGES = 1_000;
/** The checkpointer thread copies the WAL into the database this often. */
export const WAL_CHECKPOINT_INTERVAL_MS = 100;
/** …and makes the WAL start over once it holds this many pages (16 MB at 4 KB pages). */
export const WAL_RESTART_PAGES = 4_000;
/** Inline autocheckpoint while the checkpointer runs: only reached if it falls far behind. */
export const WAL_BACKSTOP_PAGES = 4 * WAL_RESTART_PAGES;
/** A group commit that found the write lock taken (a WAL restart) tries again this much later. */
export const COMMIT_RETRY_DELAY_MS = 1;

/** Default agent id created from AGENT_* environment variables. */
export const ENV_AGENT_ID = 'default';

/** Defaults for a new agent (OpenAI reference §1.2: gpt-realtime-2.1 replaces gpt-realtime; marin recommended). */
export const DEFAULT_REALTIME_MODEL = 'gpt-realtime-2.1';
export const DEFAULT_REALTIME_VOICE = 'marin';
/** BW §2.6: SpeakSentence voice used for fallback and whisper prompts. */
export const DEFAULT_SPEAK_VOICE = 'julie';
/** BW §2.4/§2.5: callTimeout default and limits, seconds. */
export const DEFAULT_CALL_TIMEOUT_S = 30;
export const MIN_CALL_TIMEOUT_S = 1;
export const MAX_CALL_TIMEOUT_S = 300;
/** BW §2.5: a Transfer nests 1 to 8 PhoneNumber/SipUri. */
export const MAX_TRANSFER_TARGETS = 8;

/** Graceful shutdown: how long SIGTERM waits for live calls before closing anyway. */
export const SHUTDOWN_DRAIN_MS = 30_000;
/** After cutting the calls still live, keep answering callbacks (their /stream-ended fallback) this long. */
export const SHUTDOWN_CALLBACK_GRACE_MS = 5_000;

/** Media socket: frames are ~300 bytes; the start frame is the largest (12 stream params × 2 KB, BW §2.2). */
export const MEDIA_MAX_PAYLOAD_BYTES = 64 * 1024;
/** Media socket: close if no `start` frame arrives this long after the upgrade. */
export const MEDIA_START_TIMEOUT_MS = 5_000;
/** Media socket: ping interval; a socket that missed a whole interval without a pong is dead. */
export const MEDIA_HEARTBEAT_MS = 15_000;

/** G.711 μ-law at 8 kHz: 8 bytes per millisecond (BW §4.2: 160 bytes = 20 ms). */
export const MULAW_BYTES_PER_MS = 8;
/** PCM16 at 24 kHz: 48 bytes per millisecond (OpenAI reference §2). */
export const PCM24K_BYTES_PER_MS = 48;
/** The playout clock's tick: one Bandwidth frame. */
export const PLAYOUT_TICK_MS = 20;
/**
 * How far ahead of real time the bridge keeps the carrier's buffer at most (DESIGN §4.4: 100–200 ms).
 * Small enough that "sent" ≈ "heard" and a barge-in's `clear` drops little.
 */
export const PLAYOUT_LEAD_MS = 200;
/**
 * The queue tops the carrier up (to PLAYOUT_LEAD_MS) only once less than this is left ahead. So each
 * playAudio carries ~100 ms (5 frames) instead of one 20 ms frame per tick: a fifth of the messages and
 * socket writes (BENCHMARKS.md), with the same 100 ms of buffer to ride out timer jitter and GC pauses.
 */
export const PLAYOUT_REFILL_BELOW_MS = 100;
/** A pre-warmed OpenAI session waits this long for its media stream before it is closed. */
export const PREWARM_TIMEOUT_MS = 30_000;
/** Caller audio kept while the OpenAI session is still connecting (so nothing said is lost). */
export const MAX_PENDING_CALLER_AUDIO_MS = 10_000;
/** Realtime sessions end at 60 minutes (OpenAI reference §6.1); renew before that, between turns. */
export const REALTIME_SESSION_RENEW_AFTER_MS = 55 * 60_000;

/**
 * Every tunable number and fixed protocol value in one place. Durations say their unit in the name.
 * Protocol citations point at ../shared/reference/bandwidth-protocol.md (BW §n).
 */

/** BW §2.1: the largest BXML document Bandwidth accepts. */
export const BXML_MAX_BYTES = 64 * 1024;

/** BW §1.1: callback bodies are small JSON documents; anything larger is not from Bandwidth. */
export const CALLBACK_BODY_MAX_BYTES = 64 * 1024;

/**
 * Slow clients (DESIGN §4.5, caps on what outsiders control). Bandwidth waits at most 15 s (25 s with
 * createCall's callbackTimeout) for an answer (BW §1.7), and sends its small bodies at once: a request whose
 * headers take longer than HTTP_HEADERS_TIMEOUT_MS, or whose whole body takes longer than
 * HTTP_REQUEST_TIMEOUT_MS, is not Bandwidth (nor the admin API's client) and loses its socket. Idle
 * keep-alive sockets close after HTTP_KEEP_ALIVE_TIMEOUT_MS; Node checks these every
 * HTTP_TIMEOUT_CHECK_INTERVAL_MS (its default, 30 s, would let a half-sent request live four times longer).
 */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000;
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 5_000;
export const HTTP_TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** Admin API bodies: an import file is the largest; agents, imports and tools nest a handful of levels. */
export const API_BODY_MAX_BYTES = 256 * 1024;
export const API_MAX_NESTING = 32;

/** BW §5: refresh the OAuth token about 60 s before expiry; S7 falls back to 3600 s when expires_in is missing. */
export const OAUTH_REFRESH_BEFORE_EXPIRY_MS = 60_000;
export const OAUTH_DEFAULT_TOKEN_LIFETIME_S = 3600;

/** OpenAI retries a webhook delivery; its id is remembered this long so a retry is answered as a duplicate. */
export const OPENAI_WEBHOOK_SEEN_TTL_MS = 24 * 60 * 60 * 1000;

/** Refused authentication: at most one log line per surface and reason this often (the rest are counted). */
export const SECURITY_LOG_INTERVAL_MS = 10_000;

/** BW §1.4–§1.5: callback bodies nest at most a few levels (diversion, stirShaken, mediaStream.tracks). */
export const CALLBACK_MAX_NESTING = 16;

/**
 * OpenAI webhooks (OpenAI reference §4.3): how far a timestamp may be from now (the SDK's default), how many
 * space-separated signatures are looked at (Standard Webhooks allows several while a key rotates; OpenAI sends
 * one), and the largest body read (a `realtime.call.incoming` event is its SIP headers: a few KB).
 */
export const OPENAI_WEBHOOK_TOLERANCE_S = 300;
export const OPENAI_WEBHOOK_MAX_SIGNATURES = 4;
export const OPENAI_WEBHOOK_BODY_MAX_BYTES = 64 * 1024;

/** Bandwidth callIds are about 50 characters (BW §1.4); anything far longer is not one, and is refused. */
export const CALL_ID_MAX_CHARS = 200;

/** The Basic-auth username of the media socket (BW §2.2 destinationUsername); the password is per call. */
export const MEDIA_USERNAME = 'switchboard-media';

/** BW §2.2: the name of the bidirectional stream; StopStream refers to it. Unique per call. */
export const STREAM_NAME = 'ai-agent';

/** BW §2.5 / §1.5: `uui` values are at most 256 characters including the encoding parameter. */
export const UUI_MAX_CHARS = 256;

/** BW §1.9: tags set by verbs are at most 256 characters. */
export const VERB_TAG_MAX_CHARS = 256;

/** How long a media-socket token minted at `initiate` stays valid (DESIGN §4.5: one-time, short-lived). */
export const MEDIA_TOKEN_TTL_MS = 60_000;

/**
 * How long a browser test call's media token stays valid (docs/console.md, "Test call"): the page opens the socket
 * right after the admin API answered, so a few seconds would do; this leaves room for a slow page.
 */
export const TEST_CALL_TOKEN_TTL_MS = 30_000;

/**
 * How long a signed callback URL (redirect, transfer, answer) stays valid. Transfers can ring for up to
 * 300 s (BW §2.5 callTimeout) and a bridged call can last hours before transferComplete arrives, so this
 * is generous; the signature, not the expiry, is what makes tampering impossible.
 */
export const SIGNED_URL_TTL_MS = 24 * 60 * 60 * 1000;

/** BW §5 CreateCall: Bandwidth refuses an answerUrl longer than this (the REST stand-in does too). */
export const BANDWIDTH_ANSWER_URL_MAX_CHARS = 2048;

/**
 * DESIGN §4.6: the longest callback URL Switchboard hands Bandwidth (BXML attributes, createCall
 * answerUrl, updateCall redirectUrl). Bandwidth caps answerUrl at 2,048 (BW §5); half of that leaves room
 * for proxies and a long PUBLIC_BASE_URL. Tokens carry ids only, so only the base URL can push a URL over.
 */
export const CALLBACK_URL_MAX_CHARS = 1024;

/**
 * The longest PUBLIC_BASE_URL accepted: a callback URL is the base, a route (≤ 40 characters) and a
 * sealed token of ids (≤ ~490 characters with a 200-character callId and a 64-character agent id), so
 * this keeps every URL within CALLBACK_URL_MAX_CHARS.
 */
export const PUBLIC_BASE_URL_MAX_CHARS = 400;

/** Random bytes in a stored callback context's id (base64url in the sealed token). */
export const CALLBACK_CONTEXT_ID_BYTES = 16;

/**
 * A stored callback context expires with its token (SIGNED_URL_TTL_MS); expired rows are deleted by the
 * write that stores a new context, at most this often, so the table holds about a day of transfers.
 */
export const CALLBACK_CONTEXT_SWEEP_INTERVAL_MS = 10 * 60 * 1000;

/** Sizes of generated secrets, in random bytes before base64url. */
export const GENERATED_SECRET_BYTES = 24;

/** File in DATA_DIR that holds generated credentials (mode 0600). */
export const CREDENTIALS_FILE = 'credentials.json';

/** A recording's WAV header is rewritten with its real sizes every this much audio (a crash leaves it this stale). */
export const WAV_HEADER_REFRESH_MS = 5_000;

/** File in DATA_DIR that says which process serves from it (one per DATA_DIR: data-dir-lock.ts). */
export const DATA_DIR_LOCK_FILE = 'server.lock';

/** File in DATA_DIR that holds this instance's generated id (DESIGN §4.12). */
export const INSTANCE_ID_FILE = 'instance-id';

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
/**
 * The store never stalls the event loop (docs/reliability.md). A group commit that could not write (the
 * lock taken by the checkpointer or another process, a full disk) is kept and tried again, first
 * COMMIT_RETRY_DELAY_MS later, backing off to COMMIT_MAX_RETRY_DELAY_MS; at most STORE_MAX_PENDING_WRITES
 * wait in memory. Reads and the admin API's writes wait on the loop at most STORE_LOOP_BUSY_TIMEOUT_MS for a
 * lock (in WAL mode readers are not blocked by a writer) and asynchronously at most STORE_READ_WAIT_MS for
 * the writes before them (then they read what is committed). A callback waits at most CALLBACK_COMMIT_WAIT_MS for its own commit before it is
 * answered anyway (the write stays queued), so Bandwidth (15 s, BW §1.7) always gets its BXML.
 */
export const COMMIT_RETRY_DELAY_MS = 1;
export const COMMIT_MAX_RETRY_DELAY_MS = 250;
export const STORE_MAX_PENDING_WRITES = 100_000;
export const STORE_LOOP_BUSY_TIMEOUT_MS = 20;
export const STORE_READ_WAIT_MS = 2_000;
export const CALLBACK_COMMIT_WAIT_MS = 3_000;
/**
 * PostgreSQL (src/store/postgres.ts): a new connection gives up after PG_CONNECT_TIMEOUT_MS and a query after
 * PG_QUERY_TIMEOUT_MS, so a database that went away (or a network that drops packets) shows as a failed commit
 * that is kept and retried, not as a commit that never ends. The call tables' writes are committed at most
 * PG_MAX_BATCH_WRITES to a transaction, so a queue that grew during an outage drains in steps. The pool holds
 * at most PG_POOL_MAX connections per instance, besides the one that LISTENs; that one reconnects after a
 * loss, first PG_LISTEN_RETRY_DELAY_MS later, backing off to PG_LISTEN_MAX_RETRY_DELAY_MS.
 */
export const PG_CONNECT_TIMEOUT_MS = 2_000;
export const PG_QUERY_TIMEOUT_MS = 10_000;
export const PG_MAX_BATCH_WRITES = 500;
export const PG_POOL_MAX = 10;
export const PG_LISTEN_RETRY_DELAY_MS = 50;
export const PG_LISTEN_MAX_RETRY_DELAY_MS = 2_000;
/**
 * While PostgreSQL cannot be reached, an instance answers reads about the calls, agents, numbers and hand-offs it
 * last read or wrote from memory (postgres/last-known.ts): at most this many of each.
 */
export const PG_LAST_KNOWN_MAX_ENTRIES = 10_000;
/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more: one announcement is split below this. */
export const PG_NOTIFY_MAX_PAYLOAD_BYTES = 7_900;
/** Spent media tokens are kept until they expire; expired rows are deleted at most this often. */
export const MEDIA_TOKEN_SWEEP_INTERVAL_MS = 10 * 60 * 1000;
/** A checkpointer thread that died is started again after this long (doubling up to a minute). */
export const CHECKPOINTER_RESTART_DELAY_MS = 1_000;
export const CHECKPOINTER_MAX_RESTART_DELAY_MS = 60_000;

/**
 * openai-sip: where a phone destination is REFERred (OpenAI reference §4.4; agent field
 * `sip.referTarget`). Bandwidth documents REFER acceptance only for its OpenAI SIP Connector and no
 * `tel:` REFER, so the default is a SIP URI on the carrier host the INVITE came from.
 */
export const DEFAULT_SIP_REFER_TARGET = 'sip:{number}@{contactHost}';

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
/**
 * Media socket: caller audio faster than real time (BW §4.2: 20 ms every 20 ms). Audio admitted may run at
 * most MEDIA_BURST_MS ahead of the time since the stream started (a stall's backlog is always within it);
 * beyond that frames are dropped, and a socket that has had MEDIA_FLOOD_CLOSE_MS of audio dropped is closed
 * (relayed audio is billed by OpenAI). See bandwidth/media/ingress-limit.ts.
 */
export const MEDIA_BURST_MS = 1_000;
export const MEDIA_FLOOD_CLOSE_MS = 2_000;
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
/**
 * DESIGN §4.9, what the caller experiences: when no agent audio is ready this long after the stream's
 * `start` frame (BW §4.2), the call goes to its fallback. "Ready" is the first greeting audio queued for
 * playout, the caller taking the turn first (the configured session's VAD heard them speak, which cancels
 * the greeting), or, for an agent with no greeting (or a call resumed after a failed transfer), the
 * session configured. Covers an OpenAI that accepts TCP and never answers the upgrade, never sends
 * session.created, or never sends audio. Env: AGENT_AUDIO_DEADLINE_MS.
 */
export const AGENT_AUDIO_DEADLINE_MS = 2_000;
/**
 * The carrier's playout delay after an underrun (DESIGN §4.10): audio that reaches an empty carrier
 * (the first words, a new response, the model resuming after a stall) is modelled as starting this long
 * after it was sent. Carrier media gateways run adaptive jitter buffers of typically 40–60 ms, and
 * between us and that buffer sit the network path and the carrier's 20 ms frame clock (half a frame on
 * average). 60 ms takes the top of the jitter range, which the path and framing fill in practice; it also
 * sits in the middle of 0–120 ms, so an estimate off in either direction errs by at most ~60 ms per item
 * (the error does not grow with the number of stalls: each underrun shifts the timeline by the same
 * difference). It shapes heard accounting only, never pacing: the jitter margin above (PLAYOUT_LEAD_MS,
 * PLAYOUT_REFILL_BELOW_MS) is kept on what was sent, as if the carrier played at once. Override with
 * CARRIER_PLAYOUT_DELAY_MS when a carrier is measured to differ.
 */
export const CARRIER_PLAYOUT_DELAY_MS = 60;
/** Upper bound accepted for CARRIER_PLAYOUT_DELAY_MS: beyond a second it is a misconfiguration, not a jitter buffer. */
export const MAX_CARRIER_PLAYOUT_DELAY_MS = 1_000;
/** A pre-warmed OpenAI session waits this long for its media stream before it is closed. */
export const PREWARM_TIMEOUT_MS = 30_000;
/** Caller audio kept while the OpenAI session is still connecting (so nothing said is lost). */
export const MAX_PENDING_CALLER_AUDIO_MS = 10_000;
/** Realtime sessions end at 60 minutes (OpenAI reference §6.1); renew before that, between turns. */
export const REALTIME_SESSION_RENEW_AFTER_MS = 55 * 60_000;
/**
 * The longest the agent's last words may delay a transfer or hang-up, in every mode
 * (docs/architecture.md#hand-off-how-a-call-leaves-the-agent): bounded, so a model that never finishes
 * speaking (or a carrier that never says its playout stopped) cannot hold the caller.
 */
export const HANDOFF_MAX_WAIT_MS = 10_000;
/** A replacement Realtime session that could not open is tried again this much later (the current one has minutes left). */
export const REALTIME_RENEWAL_RETRY_MS = 30_000;
/** How long a replaced Realtime session stays open for late caller transcripts before it is closed. */
export const RETIRED_SESSION_GRACE_MS = 10_000;

/**
 * Whole-call recording (RECORD_DIR): at most this many bytes per call (index and audio together), so one
 * long call cannot fill the disk. About 40 minutes of a stream call (its four audio tracks at 8 bytes/ms
 * each, plus the index). Override with RECORD_MAX_CALL_BYTES.
 */
export const RECORD_MAX_CALL_BYTES = 100 * 1024 * 1024;
/**
 * A whole-call tape buffers what it records and writes it once per event-loop turn, or sooner once this
 * much is waiting, so a call's ~100 frames/s cost a few writes per turn instead of two file opens per frame.
 */
export const RECORD_FLUSH_BYTES = 64 * 1024;
/**
 * The recorders hold this many calls open (a scenario file's steps, a tape's files); past it the oldest is
 * let go of, and carried on from its files if it is met again.
 */
export const RECORD_MAX_OPEN_CALLS = 5000;

// ---- Watchdogs: silence and maximum call duration (docs/architecture.md, "Watchdogs") ----------
/** Silence watchdog default: nobody has spoken for this long → the agent asks whether the caller is still there. */
export const DEFAULT_SILENCE_PROMPT_AFTER_MS = 15_000;
/** Silence watchdog default: still nothing this long after that question → goodbye and hang-up (`no-input`). */
export const DEFAULT_SILENCE_HANGUP_AFTER_MS = 10_000;
/** Bounds for both silence intervals: shorter cuts into ordinary pauses; longer is no watchdog. */
export const MIN_SILENCE_INTERVAL_MS = 2_000;
export const MAX_SILENCE_INTERVAL_MS = 10 * 60_000;
/** Maximum call duration bounds: a minute at least (the warning needs room), a day at most. */
export const MIN_CALL_DURATION_LIMIT_MS = 60_000;
export const MAX_CALL_DURATION_LIMIT_MS = 24 * 60 * 60_000;
/** Default lead of the spoken warning before the duration limit. */
export const DEFAULT_TIME_LIMIT_WARN_MS = 60_000;

// ---- Post-call reports and cost (docs/architecture.md, "Post-call reports") ----------------------------
/**
 * A report waits this long after its call ended before it is built: the caller's last transcript and the
 * last response's usage arrive after the carrier's disconnect (the model writes them when it is done).
 */
export const REPORT_SETTLE_MS = 2_000;
/**
 * A call whose caller's leg has ended while a leg started from it has not (its end was lost: a callback that
 * never came, an instance that died holding an AI SIP leg and has not restarted) is reported this long after
 * its end all the same, with that leg `in-progress`. A leg's end normally follows the caller's within
 * seconds (Bandwidth ends a bridged leg with its call; OpenAI closes the sideband when its call ends), and
 * the report goes out REPORT_SETTLE_MS after the last one.
 */
export const REPORT_LEGS_WAIT_MS = 5 * 60_000;
/** How often the outbox is read for reports due (also how soon a resend from another process is seen). */
export const REPORT_POLL_INTERVAL_MS = 1_000;
/** Reports sent at once: the operator's endpoint is not flooded after an outage, and the process's sockets stay few. */
export const REPORT_MAX_CONCURRENT = 4;
/** One delivery attempt: the operator's endpoint answers within this, or the attempt counts as failed. */
export const REPORT_TIMEOUT_MS = 10_000;
/** Retry delays double from the first to the cap, each shortened by up to the jitter fraction (so retries do not march in step). */
export const REPORT_FIRST_RETRY_DELAY_MS = 5_000;
export const REPORT_MAX_RETRY_DELAY_MS = 60 * 60_000;
export const REPORT_RETRY_JITTER = 0.5;
/** A report not delivered within this of its call's end (or of a resend) is given up: state failed. */
export const REPORT_GIVE_UP_AFTER_MS = 24 * 60 * 60_000;
/** Reports read from the outbox per poll. */
export const REPORT_BATCH_SIZE = 20;
/** What of an endpoint's answer is kept as the attempt's error (its status always is). */
export const REPORT_ERROR_MAX_CHARS = 300;
/** The Standard Webhooks secret generated when REPORT_SIGNING_SECRET is unset: 32 random bytes after `whsec_`. */
export const REPORT_SECRET_BYTES = 32;

// ---- MCP tools and per-call context (README "MCP tools", "Per-call context") ---------------------------
/** MCP servers one agent may list: each is listed by OpenAI at every session start, which the caller waits behind. */
export const MAX_MCP_SERVERS_PER_AGENT = 10;
/** The context hook's answer must come within this by default: the greeting never waits longer (README "Context hook"). */
export const DEFAULT_CONTEXT_HOOK_TIMEOUT_MS = 300;
/**
 * Bounds for an agent's hook timeout: below 50 ms nothing answers. Above 1 s the caller hears the wait, and the
 * greeting's first audio would come close to AGENT_AUDIO_DEADLINE_MS (2 s from the stream's start, which
 * follows initiate by a few hundred ms), past which the call goes to its fallback.
 */
export const MIN_CONTEXT_HOOK_TIMEOUT_MS = 50;
export const MAX_CONTEXT_HOOK_TIMEOUT_MS = 1_000;
/** The hook's answer is read up to this many bytes: it is a handful of variables, not a document. */
export const CONTEXT_HOOK_MAX_RESPONSE_BYTES = 16_384;
/** One context variable's value, as the hook or the agent gives it. */
export const MAX_CONTEXT_VARIABLE_CHARS = 1_000;
/** Variables an agent may declare (and so the hook may fill). */
export const MAX_CONTEXT_VARIABLES = 50;

// ---- Voicemail detection and key presses (docs/architecture.md#key-presses-and-voicemail) ----
/** Bandwidth's own defaults for machine detection (bandwidth.yml MachineDetectionConfiguration). */
export const DEFAULT_MACHINE_DETECTION_TIMEOUT_S = 15;
export const DEFAULT_MACHINE_SILENCE_TIMEOUT_S = 10;
/** speechEndThreshold's default; machineSpeechEndThreshold falls back to it (bandwidth.yml). */
export const DEFAULT_MACHINE_SPEECH_END_S = 5;
/** Longer than this and the callee has long stopped waiting for anyone to speak. */
export const MAX_MACHINE_DETECTION_TIMEOUT_S = 120;
export const VOICEMAIL_MESSAGE_MAX_CHARS = 1_000;
/**
 * The longest the hang-up after a voicemail waits for the message to be heard (HANDOFF_MAX_WAIT_MS bounds a
 * goodbye): the longest message, VOICEMAIL_MESSAGE_MAX_CHARS at about 15 characters a second, is ~67 s.
 */
export const VOICEMAIL_MAX_WAIT_MS = 90_000;
/**
 * Key presses that follow each other within this long reach the model as one item ("1 2 3 4 #"): an
 * account number typed at a normal pace is one turn, not a response per digit. `#` ends the group at once.
 */
export const DTMF_GROUP_GAP_MS = 1_500;
/** Digits kept in one group; a longer run is sent in parts. */
export const DTMF_GROUP_MAX_DIGITS = 32;
/** A DTMF key as Bandwidth's `digit` and OpenAI's `event` carry it: 0-9, *, #, A-D. */
export const DTMF_DIGIT_PATTERN = /^[0-9*#A-D]$/;

/** WebSocket close code of a normal closure (RFC 6455 §7.4.1): how OpenAI ends a sideband whose call is over. */
export const WS_NORMAL_CLOSURE = 1000;

/**
 * Where a recorded agent snapshot's HTTP tool, context hook and MCP secrets went (src/record/agent-snapshot.ts):
 * a tool or hook URL becomes this loopback address nobody listens on (the discard port), so a replay calls
 * nothing outside the machine and the call takes the tool's or hook's failure path; a header value becomes
 * REDACTED_HEADER_VALUE.
 */
export const REDACTED_URL = 'http://127.0.0.1:9/redacted';
export const REDACTED_HEADER_VALUE = '[redacted]';

/**
 * The operator's console (docs/console.md). A session lives CONSOLE_SESSION_TTL_MS after sign-in (it is not
 * extended: the admin token is long-lived, the cookie is not), at most CONSOLE_MAX_SESSIONS at once (the
 * oldest goes first). Failed sign-ins: CONSOLE_SIGN_IN_MAX_FAILURES per client address per
 * CONSOLE_SIGN_IN_WINDOW_MS, then 429 until the window has passed; at most CONSOLE_SIGN_IN_TRACKED_CLIENTS
 * addresses are remembered.
 */
export const CONSOLE_SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const CONSOLE_MAX_SESSIONS = 1000;
export const CONSOLE_SESSION_ID_BYTES = 32;
export const CONSOLE_SIGN_IN_MAX_FAILURES = 5;
export const CONSOLE_SIGN_IN_WINDOW_MS = 60_000;
export const CONSOLE_SIGN_IN_TRACKED_CLIENTS = 10_000;
/** The sign-in form's body: a token and a return path. */
export const CONSOLE_SIGN_IN_BODY_MAX_BYTES = 4 * 1024;
/**
 * The live stream (server-sent events): a comment line every CONSOLE_LIVE_HEARTBEAT_MS keeps proxies from
 * closing an idle stream; at most CONSOLE_LIVE_MAX_STREAMS at once (each reads the store on every change);
 * the first snapshot shows at most CONSOLE_LIVE_MAX_CALLS live calls.
 */
export const CONSOLE_LIVE_HEARTBEAT_MS = 15_000;
export const CONSOLE_LIVE_MAX_STREAMS = 20;
export const CONSOLE_LIVE_MAX_CALLS = 200;
/** What the browser retries after a dropped stream (the SSE `retry:` field). */
export const CONSOLE_LIVE_RETRY_MS = 3_000;
/** A live stream whose client stops reading is closed once this much is waiting to be sent to it. */
export const CONSOLE_LIVE_MAX_BUFFERED_BYTES = 1024 * 1024;
/** `simulate --console`: the pause between one simulated call's end and the next. */
export const SIMULATE_CONSOLE_PAUSE_MS = 5_000;

// ---- Metrics and capacity (docs/operations.md) ---------------------------------------------------------
/**
 * Live calls (stream sessions and openai-sip sidebands) one instance takes before a new call gets its agent's
 * busy handling. BENCHMARKS.md is the source of this number: it measures what one instance carries (CPU per
 * call-second, RSS per call, added latency) on the benchmark machine; set MAX_CONCURRENT_CALLS from your own
 * hardware's run of `npm run bench:relay`.
 */
export const DEFAULT_MAX_CONCURRENT_CALLS = 200;
/** METRICS_TOKEN: long enough not to be guessed (the generated admin token is far longer). */
export const METRICS_TOKEN_MIN_CHARS = 16;
/** The separate metrics listener (METRICS_PORT) binds to loopback unless METRICS_HOST says otherwise. */
export const DEFAULT_METRICS_HOST = '127.0.0.1';
/**
 * Calls changed by commits are read for the outcome count this long after the change, together: each read
 * waits for the writes before it, and reading at every change would split the store's group commits.
 */
export const METRICS_ENDED_CALLS_READ_DELAY_MS = 250;
/** Histogram buckets, in seconds (Prometheus' unit). First word: the greeting's first audio after the stream starts. */
export const FIRST_WORD_BUCKETS_S = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5];
/** A Bandwidth callback's answer: Bandwidth waits at most 15 s (BW §1.7); most take a millisecond. */
export const CALLBACK_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15];
/** How far a barge-in's truncation can be wrong: bounded by the playout lead plus the carrier delay (DESIGN §4.4, §4.10). */
export const TRUNCATION_ERROR_BUCKETS_S = [0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1];
/** One store commit (a group-commit transaction). */
export const STORE_COMMIT_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

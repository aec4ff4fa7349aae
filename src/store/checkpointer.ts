import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints on a worker thread, with its own connection, so that their fsyncs never stall the
 * event loop. With synchronous=NORMAL a checkpoint syncs the WAL, copies its pages into the database and
 * syncs that; done inline (SQLite's autocheckpoint, every 1,000 pages) it blocked whichever commit
 * crossed the threshold for several milliseconds, and at 3,000 callbacks a second that was the tail of
 * every latency. Durability is the same: the same checkpoints, the same syncs, another thread.
 *
 * Every `intervalMs` the worker copies what it can without blocking anyone (PASSIVE). A PASSIVE
 * checkpoint never lets the WAL start over while writes keep coming, so once the WAL holds
 * `restartFrames` pages the worker follows with a RESTART checkpoint: it holds the write lock for the
 * short remainder (what was written during the PASSIVE pass) and the next commit starts the WAL from
 * its beginning. Commits that find the lock taken meanwhile are retried by the store, never waited for
 * on the event loop (GroupCommit).
 */
export interface CheckpointerOptions {
  file: string;
  intervalMs: number;
  restartFrames: number;
  /** How long the worker's own statements wait for a lock. */
  busyTimeoutMs: number;
  /** The worker stopped unexpectedly: the caller should checkpoint inline again. */
  onFailure: (err: Error) => void;
}

/** The worker's code: plain CommonJS, so the same file runs under ts-jest and from dist/. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: workerData.busyTimeoutMs });
db.pragma('synchronous = NORMAL');
const checkpoint = (mode) => db.pragma('wal_checkpoint(' + mode + ')')[0];
const timer = setInterval(() => {
  if (checkpoint('PASSIVE').log >= workerData.restartFrames) checkpoint('RESTART');
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export class WalCheckpointer {
  private stopping = false;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    onFailure: (err: Error) => void,
  ) {
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        if (!this.stopping) onFailure(new Error(`the WAL checkpointer thread exited (${code})`));
        resolve();
      });
    });
    worker.on('error', (err) => onFailure(err));
    worker.unref();
  }

  static start(options: CheckpointerOptions): WalCheckpointer {
    const { onFailure, ...workerData } = options;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...workerData, driver: require.resolve('better-sqlite3') } });
    return new WalCheckpointer(worker, onFailure);
  }

  /** Stop after the current checkpoint; resolves once the worker's connection is closed. */
  async stop(): Promise<void> {
    this.stopping = true;
    // Unref'd so that it never keeps a finished process alive, but while someone waits for it to stop
    // it must: otherwise the loop can drain before 'exit' fires, and whatever awaited stop() (a CLI
    // command's error report and exit code) never runs.
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}

import { waitFor } from '../../src/clock';

export interface SseEvent {
  event: string;
  data: string;
}

/** A server-sent event stream read with fetch: events and comment lines as they arrive. */
export class SseReader {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  private buffer = '';
  private readonly controller = new AbortController();
  status = 0;
  contentType = '';
  ended = false;

  static async open(url: string, headers: Record<string, string>): Promise<SseReader> {
    const reader = new SseReader();
    const res = await fetch(url, { headers, signal: reader.controller.signal });
    reader.status = res.status;
    reader.contentType = res.headers.get('content-type') ?? '';
    if (!res.ok || !res.body) {
      reader.buffer = await res.text();
      reader.ended = true;
      return reader;
    }
    void reader.pump(res.body.getReader());
    return reader;
  }

  /** The body of a refused stream. */
  get text(): string {
    return this.buffer;
  }

  of(event: string): unknown[] {
    return this.events.filter((e) => e.event === event).map((e) => JSON.parse(e.data) as unknown);
  }

  async until(predicate: () => boolean, what: string): Promise<void> {
    await waitFor(predicate, 5000, what);
  }

  close(): void {
    this.controller.abort();
  }

  private async pump(body: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await body.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) this.events.push({ event, data: data.join('\n') });
        }
      }
    } catch {
      // aborted
    } finally {
      this.ended = true;
    }
  }
}

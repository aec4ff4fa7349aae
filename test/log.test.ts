import { Writable } from 'node:stream';
import { createLogger, maskPhone } from '../src/log';

describe('logging', () => {
  it('masks phone numbers, keeping only enough to tell calls apart', () => {
    expect(maskPhone('+19195550142')).toBe('+1919•••0142');
    expect(maskPhone('sip:+19195550142@bw.example.com;user=phone')).toBe('sip:+1919•••0142@bw.example.com');
    expect(maskPhone('Anonymous')).toBe('Anonymous');
    expect(maskPhone('12345')).toBe('•••••');
    expect(maskPhone(undefined)).toBeUndefined();
  });

  it('never writes secrets, wherever they sit in a log object', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger('info', sink);
    logger.info({ password: 'p1', creds: { password: 'p2', token: 't1' }, headers: { authorization: 'Basic abc' }, openai: { apiKey: 'sk-1' } }, 'x');
    const out = lines.join('');
    for (const secret of ['p1', 'p2', 't1', 'Basic abc', 'sk-1']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });

  it('redacts three levels down, in arrays and child bindings, without touching the logged object', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger('info', sink).child({ upstream: { clientSecret: 'cs-1' } }).child({ session: { token: 't-4' } });
    const logged = { req: { headers: { authorization: 'Bearer b-1', accept: 'x' } }, tools: [{ name: 'lookup', token: 't-2' }], callId: 'c-1' };
    const err = Object.assign(new Error('boom'), { token: 't-3' });
    logger.info(logged, 'first');
    logger.error({ err }, 'second');
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({ upstream: { clientSecret: '[redacted]' }, session: { token: '[redacted]' }, req: { headers: { authorization: '[redacted]', accept: 'x' } }, tools: [{ name: 'lookup', token: '[redacted]' }], callId: 'c-1' });
    expect(second).toMatchObject({ err: { message: 'boom', token: '[redacted]' } });
    expect(logged.req.headers.authorization).toBe('Bearer b-1');
    expect(err.token).toBe('t-3');
  });

  it('writes readable lines when asked for pretty, JSON when asked for json, and never secrets either way', () => {
    const capture = () => {
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      });
      return { lines, sink };
    };
    const pretty = capture();
    createLogger('info', pretty.sink, 'pretty').warn({ callId: 'c-1', password: 'p1' }, 'the store writes again');
    const line = pretty.lines.join('');
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: the store writes again/);
    expect(line).toContain('c-1');
    expect(line).not.toContain('p1');
    expect(line).not.toContain('\u001b['); // no colour codes unless writing to a terminal
    expect(() => JSON.parse(line)).toThrow();

    const json = capture();
    createLogger('info', json.sink, 'json').warn({ callId: 'c-1' }, 'x');
    expect(JSON.parse(json.lines.join(''))).toMatchObject({ level: 40, callId: 'c-1', msg: 'x' });
  });
});

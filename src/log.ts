import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Phone numbers are personal data: logs carry only enough to tell calls apart.
 * "+19195550142" → "+1919•••0142"; SIP URIs keep their host; short strings are hidden entirely.
 */
export function maskPhone(value: string | undefined | null): string | undefined {
  if (value === undefined || value === null) return undefined;
  const sip = /^(sips?:)([^@;]*)(@.*)?$/i.exec(value);
  if (sip) return `${sip[1]}${maskPhone(sip[2] ?? '')}${(sip[3] ?? '').replace(/;.*$/, '')}`;
  if (!/\d/.test(value)) return value; // "Anonymous", "Restricted": not a number
  if (value.length <= 6) return '•'.repeat(value.length);
  return `${value.slice(0, 5)}•••${value.slice(-4)}`;
}

/** Keys whose values are never written to a log line, wherever they appear. */
const REDACT_PATHS = [
  'password',
  'secret',
  'token',
  'authorization',
  '*.password',
  '*.secret',
  '*.token',
  '*.authorization',
  '*.apiKey',
  '*.clientSecret',
  'req.headers.authorization',
  'headers.authorization',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'switchboard' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

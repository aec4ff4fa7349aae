import { SwitchboardError } from '../../errors';

/**
 * DATABASE_URL, read and described without its password: every message about the database names the server,
 * the user and the database, never the secret (the password may also sit in a query parameter).
 */
export interface PostgresTarget {
  host: string;
  port: string;
  user: string;
  database: string;
  /** The URL with its password replaced by ***, for messages and logs. */
  redacted: string;
}

const POSTGRES_PROTOCOLS = new Set(['postgres:', 'postgresql:']);

/** Undefined for a URL PostgreSQL would take; otherwise what is wrong with it (without repeating it). */
export function postgresUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'DATABASE_URL is not a URL: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE';
  }
  if (!POSTGRES_PROTOCOLS.has(parsed.protocol)) {
    return `DATABASE_URL must be a postgres:// (or postgresql://) URL, not ${parsed.protocol}//…: SQLite needs no URL (leave DATABASE_URL unset; DATABASE_PATH moves its file)`;
  }
  if (!parsed.hostname) return 'DATABASE_URL names no host: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE';
  return undefined;
}

export function postgresTarget(url: string): PostgresTarget {
  const problem = postgresUrlProblem(url);
  if (problem) throw new SwitchboardError('config_invalid', problem);
  const parsed = new URL(url);
  const redacted = new URL(url);
  if (redacted.password) redacted.password = '***';
  for (const key of [...redacted.searchParams.keys()]) if (/pass/i.test(key)) redacted.searchParams.set(key, '***');
  return {
    host: parsed.hostname,
    port: parsed.port || '5432',
    user: decodeURIComponent(parsed.username) || '(the default user)',
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(the user\'s database)',
    redacted: redacted.toString(),
  };
}

/**
 * Why the first connection failed, in the operator's words, naming the problem: the server unreachable, the
 * credentials refused, the database missing. Never the password, even if a driver message were to carry it.
 */
export function connectionFailure(err: unknown, target: PostgresTarget, password: string): SwitchboardError {
  const code = String((err as { code?: unknown })?.code ?? '');
  const raw = String((err as { message?: unknown })?.message ?? err);
  const said = password ? raw.split(password).join('***') : raw;
  const where = `${target.host}:${target.port}`;
  let message: string;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    message = `cannot reach PostgreSQL: the host ${target.host} does not resolve (${code})`;
  } else if (['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET'].includes(code) || /timeout|terminated/i.test(said)) {
    message = `cannot reach PostgreSQL at ${where} (${code || said}): is the server running, and are the host and port right?`;
  } else if (code === '28P01' || /password must be a string|SASL|password authentication/i.test(said)) {
    message = `PostgreSQL at ${where} refused the credentials of user ${target.user} (authentication failed): check the user and password in DATABASE_URL`;
  } else if (code === '28000') {
    message = `PostgreSQL at ${where} does not let user ${target.user} in (authentication failed: ${said})`;
  } else if (code === '3D000') {
    message = `the database ${target.database} does not exist on PostgreSQL at ${where}: create it (createdb ${target.database}) or fix DATABASE_URL`;
  } else {
    message = `cannot open the PostgreSQL database ${target.redacted}: ${said}`;
  }
  return new SwitchboardError('store_failed', message, { database: target.redacted, code: code || undefined });
}

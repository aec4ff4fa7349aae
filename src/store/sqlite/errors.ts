/** Failures that can pass: another connection's lock, a full disk, an I/O error. Worth trying again later. */
export function isTransientSqliteError(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '');
  return /^SQLITE_(BUSY|LOCKED|FULL|IOERR|PROTOCOL)/.test(code);
}

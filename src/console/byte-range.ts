/**
 * One HTTP byte range (RFC 9110 §14.1.2): `bytes=first-last`, `bytes=first-` or `bytes=-suffixLength`.
 * A Range header in another unit, or asking for several ranges, is ignored (the whole body, 200), as
 * RFC 9110 §14.2 allows; a bytes range that is malformed or starts past the end is unsatisfiable (416).
 */
export type RangeResult = { kind: 'whole' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

export function parseByteRange(header: string | undefined, sizeBytes: number): RangeResult {
  if (header === undefined) return { kind: 'whole' };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return { kind: 'whole' };
  const spec = m[1]!.trim();
  if (spec.includes(',')) return { kind: 'whole' };
  const r = /^(\d*)-(\d*)$/.exec(spec);
  if (!r || (r[1] === '' && r[2] === '')) return { kind: 'unsatisfiable' };
  if (r[1] === '') {
    const suffixBytes = Number(r[2]);
    if (suffixBytes === 0 || sizeBytes === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, sizeBytes - suffixBytes), end: sizeBytes - 1 };
  }
  const start = Number(r[1]);
  const end = r[2] === '' ? sizeBytes - 1 : Math.min(Number(r[2]), sizeBytes - 1);
  if (!Number.isSafeInteger(start) || start >= sizeBytes || (r[2] !== '' && Number(r[2]) < start)) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}

import fs from 'node:fs';
import path from 'node:path';

/** Bandwidth example payloads (copied from shared/reference/bandwidth-fixtures; values are made up). */
export const FIXTURES_DIR = path.join(__dirname, '../../fixtures/bandwidth');

export function callbackFixture(name: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, 'callbacks', `${name}.json`), 'utf8')) as Record<string, unknown>;
}

export function bxmlFixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES_DIR, 'bxml', `${name}.xml`), 'utf8');
}

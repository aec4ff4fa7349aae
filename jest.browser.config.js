/**
 * The browser suite (docs/console.md): the console and the browser test call, driven in Debian's Chromium by
 * playwright-core against a real server with the stand-ins. Not part of `npm test`, which must run where no
 * browser is installed; run with `npm run test:browser` (CHROMIUM_PATH when Chromium is not /usr/bin/chromium).
 * Screenshots of each page land in test-artifacts/screenshots/.
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/browser'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 60_000,
  // One browser at a time: the machine is small and each test starts its own Chromium.
  maxWorkers: 1,
};

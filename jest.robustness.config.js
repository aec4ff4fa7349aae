/**
 * The robustness suite (docs/reliability.md, "Figures from the robustness suite"): fuzzing, kill -9, a held
 * lock, a full disk, a signature flood, against the real server. Not part of `npm test`, which stays fast;
 * run with `npm run test:robustness`. One worker: several tests measure real-time gaps, and the machine is small.
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/robustness'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120_000,
  maxWorkers: 1,
  // Prints the figures every test file wrote, after jest's own summary.
  globalTeardown: '<rootDir>/test/robustness/print-figures.js',
  globalSetup: '<rootDir>/test/robustness/global-setup.js',
};

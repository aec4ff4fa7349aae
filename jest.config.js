/**
 * Jest runs the TypeScript tests through ts-jest in transpile-only mode (tsconfig isolatedModules: fast, no
 * type-check per test file); `npm test` type-checks the whole project once with tsc first.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The robustness suite (abuse, crashes, faults; minutes, not seconds) runs on its own: npm run test:robustness;
  // the browser suite needs Chromium, which npm test must not: npm run test:browser.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/robustness/', '<rootDir>/test/browser/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 15000,
  // Builds dist/ for the tests that run the CLI as a child process (test/cli/exit-codes.test.ts).
  globalSetup: '<rootDir>/test/global-setup.js',
};

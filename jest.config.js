/**
 * Jest runs the TypeScript tests through ts-jest in transpile-only mode (tsconfig isolatedModules: fast, no
 * type-check per test file); `npm test` type-checks the whole project once with tsc first.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 15000,
};

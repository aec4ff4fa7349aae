/**
 * Before the suite: compile src/ to dist/ (incremental, so it costs a second when nothing changed). The CLI
 * tests run the built `switchboard` as a child process, as a user does; they must never run a stale build,
 * and `npx jest` on a clean checkout must work without a separate build step.
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async function globalSetup() {
  const root = path.join(__dirname, '..');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
};

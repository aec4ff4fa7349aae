/**
 * Before the robustness suite: build dist/ (the kill -9 test runs `node dist/cli/main.js serve`), empty the
 * figures directory, and fix the fuzz seed for the whole run (ROBUSTNESS_SEED, else a random one) so every
 * test file uses the same one and the run can be repeated exactly.
 */
const fs = require('node:fs');
const path = require('node:path');
const buildDist = require('../global-setup');
const { FIGURES_DIR } = require('./figures-dir');

module.exports = async function robustnessSetup() {
  await buildDist();
  fs.rmSync(FIGURES_DIR, { recursive: true, force: true });
  fs.mkdirSync(FIGURES_DIR, { recursive: true });
  const given = process.env.ROBUSTNESS_SEED;
  const seed = given && /^\d+$/.test(given) ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  process.env.ROBUSTNESS_SEED = String(seed);
  fs.writeFileSync(path.join(FIGURES_DIR, 'seed'), String(seed));
  process.stdout.write(`\nrobustness: seed ${seed} (repeat with ROBUSTNESS_SEED=${seed} npm run test:robustness)\n`);
};

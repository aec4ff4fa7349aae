/** After the robustness suite: print every figure the test files recorded, one JSON line per test, plainly. */
const fs = require('node:fs');
const path = require('node:path');
const { FIGURES_DIR } = require('./figures-dir');

module.exports = async function printFigures() {
  if (!fs.existsSync(FIGURES_DIR)) return;
  const seed = fs.existsSync(path.join(FIGURES_DIR, 'seed')) ? fs.readFileSync(path.join(FIGURES_DIR, 'seed'), 'utf8') : '?';
  const lines = [`\n== robustness figures (seed ${seed})`];
  for (const file of fs.readdirSync(FIGURES_DIR).filter((f) => f.endsWith('.json')).sort()) {
    lines.push(`${file.replace(/\.json$/, '')}: ${fs.readFileSync(path.join(FIGURES_DIR, file), 'utf8').trim()}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
};

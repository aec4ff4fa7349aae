/** Where each robustness test file leaves its figures for print-figures.js (shared by setup, tests and teardown). */
const os = require('node:os');
const path = require('node:path');

module.exports = { FIGURES_DIR: process.env.ROBUSTNESS_FIGURES_DIR || path.join(os.tmpdir(), 'switchboard-robustness-figures') };

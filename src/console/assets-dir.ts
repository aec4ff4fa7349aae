import path from 'node:path';

/**
 * The console's pages, ES modules and stylesheet, shipped as they are written (no build step, no CDN) and
 * read from the package: src/console/assets from src/console/ (tests) and dist/console/ (npm start) alike.
 */
export const CONSOLE_ASSETS_DIR = path.resolve(__dirname, '..', '..', 'src', 'console', 'assets');

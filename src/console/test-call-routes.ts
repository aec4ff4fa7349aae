import fs from 'node:fs';
import path from 'node:path';
import express, { type Router } from 'express';

/**
 * The browser test call's page and its assets (docs/test-call.md), under /console. Static files only: the
 * page holds no data, and every request it makes (the agents, minting the call) is an admin API request,
 * authenticated like any other. Everything ships in the package (no CDN), and the Content-Security-Policy
 * keeps it that way: scripts, styles, the AudioWorklet and the media socket come from this origin only.
 */
const ASSET_DIR = path.resolve(__dirname, '..', '..', 'src', 'console', 'assets');

/** Name → content type: nothing else in the folder is served. */
const ASSETS: Readonly<Record<string, string>> = {
  'test-call.js': 'text/javascript; charset=utf-8',
  'test-call-worklet.js': 'text/javascript; charset=utf-8',
  'test-call-codec.js': 'text/javascript; charset=utf-8',
  'test-call.css': 'text/css; charset=utf-8',
  'test-call-icon.svg': 'image/svg+xml',
};

// `connect-src 'self'` covers ws:/wss: to this origin (CSP Level 3); the microphone is allowed for this origin only.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function testCallRoutes(): Router {
  const router = express.Router();
  const read = (name: string) => fs.readFileSync(path.join(ASSET_DIR, name));
  const page = read('test-call.html');
  const assets = new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: read(name) }]));
  const send = (res: express.Response, type: string, body: Buffer) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('Permissions-Policy', 'microphone=(self)');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-cache');
    res.type(type).send(body);
  };
  router.get('/test-call', (_req, res) => send(res, 'text/html; charset=utf-8', page));
  router.get('/assets/:asset', (req, res, next) => {
    const asset = assets.get(req.params.asset);
    if (!asset) return next();
    send(res, asset.type, asset.body);
  });
  return router;
}

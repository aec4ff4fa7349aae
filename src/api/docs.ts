import fs from 'node:fs';
import path from 'node:path';
import express, { type Router } from 'express';

/**
 * The API reference at /api/docs: Swagger UI, rendered in the browser from /api/openapi.json. Every asset
 * ships in the package (swagger-ui-dist) and is served from here, so the page works with no internet; the
 * Content-Security-Policy keeps it that way (nothing but this origin). The page itself holds no data: the
 * reader authorises "try it" with the admin token (the bearer scheme of the document), and each request
 * is checked like any other API call.
 */
const ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Switchboard admin API</title>
<link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png">
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
const INIT = `window.ui = SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#swagger-ui',
  validatorUrl: null,
  tryItOutEnabled: true,
  deepLinking: true,
  persistAuthorization: false,
});
`;

export function apiDocsRouter(): Router {
  const router = express.Router();
  const dir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const assets = new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, body: fs.readFileSync(path.join(dir, name)) }]));
  const send = (res: express.Response, type: string, body: string | Buffer) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-cache');
    res.type(type).send(body);
  };
  router.get(['/docs', '/docs/'], (_req, res) => send(res, 'text/html; charset=utf-8', PAGE));
  router.get('/docs/init.js', (_req, res) => send(res, 'text/javascript; charset=utf-8', INIT));
  router.get('/docs/:asset', (req, res, next) => {
    const asset = assets.get(req.params.asset);
    if (!asset) return next();
    send(res, asset.type, asset.body);
  });
  return router;
}

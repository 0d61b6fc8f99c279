// The sample app `shipshape deploy shop` releases (examples/shipshape.yaml): plain node:http, no
// dependencies. It serves a page and a JSON API on PORT, and /api/health for the health gate.
// A release that has a BROKEN file next to this one answers every request but /api/health with
// a 500: commit one to see a canary rolled back automatically.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const release = process.env.SHIPSHAPE_RELEASE || 'dev';
const broken = fs.existsSync(path.join(import.meta.dirname, 'BROKEN'));
const products = [
  { id: 1, name: 'Kettle', price_cents: 3900 },
  { id: 2, name: 'Teapot', price_cents: 2400 },
];

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/api/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'healthy', release }));
    return;
  }
  if (broken) {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'this release is broken on purpose' }));
    return;
  }
  if (url.pathname === '/api/products') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(products));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>Shop</title><h1>Shop</h1><p>release ${release}</p>`);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT || 3000), '127.0.0.1', () => console.log(`shop release ${release} on ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

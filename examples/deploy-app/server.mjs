// The sample app `shipshape deploy shop` releases (examples/shipshape.yaml): plain node:http, no
// dependencies. It serves a page and a JSON API on PORT, /api/health for the health gate, the
// security headers the `headers` gate grades, and /api/webhooks/stripe, where Shipshape's webhook
// inbox forwards Stripe's events (verified again here with STRIPE_WEBHOOK_SECRET when it is set).
// A release that has a BROKEN file next to this one answers every API request but /api/health
// with a 500 (its pages still load, so the gates pass): commit one and deploy with a canary to see
// it rolled back automatically once clients call the API.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const release = process.env.SHIPSHAPE_RELEASE || 'dev';
const broken = fs.existsSync(path.join(import.meta.dirname, 'BROKEN'));
const products = [
  { id: 1, name: 'Kettle', price_cents: 3900 },
  { id: 2, name: 'Teapot', price_cents: 2400 },
];

// what the runbook's "security headers required" asks for (graded by `shipshape headers`)
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; img-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

/** Stripe's scheme: Stripe-Signature t=…,v1=… over "t.body" with the endpoint secret. */
function stripeSigned(header, body, secret) {
  const pairs = String(header ?? '').split(',').map((p) => p.trim().split('='));
  const t = pairs.find(([k]) => k === 't')?.[1];
  const expected = Buffer.from(crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return pairs.some(([k, v]) => k === 'v1' && v?.length === expected.length && crypto.timingSafeEqual(Buffer.from(v), expected));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
  if (url.pathname === '/api/webhooks/stripe' && req.method === 'POST') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const secret = process.env.STRIPE_WEBHOOK_SECRET;
      if (secret && !stripeSigned(req.headers['stripe-signature'], body, secret)) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'bad signature' }));
        return;
      }
      const event = JSON.parse(body || '{}');
      console.log(`stripe event ${event.id ?? '?'} ${event.type ?? '?'} (attempt ${req.headers['x-shipshape-attempt'] ?? '1'})`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ received: true }));
    });
    return;
  }
  if (url.pathname === '/api/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'healthy', release }));
    return;
  }
  if (broken && url.pathname.startsWith('/api/')) {
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

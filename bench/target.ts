/**
 * The check target for the http benchmarks: a keep-alive node:http server answering 200
 * {"status":"ok"} on 127.0.0.1. It runs as its own process so its CPU is not counted as Shipshape's.
 * Prints "LISTENING <port>" once ready; stops on SIGTERM/SIGINT.
 */
import { createServer } from 'node:http';
import { serveForBench } from './lib/serve.js';

const body = Buffer.from('{"status":"ok"}');
let requests = 0;
const server = createServer((req, res) => {
  requests++;
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
// keep connections open well beyond the checks' interval so every probe reuses one
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.requestTimeout = 0;
serveForBench(server, Number(process.env.PORT ?? 0), () => process.stdout.write(`served ${requests} requests\n`));

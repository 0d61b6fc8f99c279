/**
 * The check target for the http benchmarks: a keep-alive node:http server answering 200
 * {"status":"ok"} on 127.0.0.1. It runs as its own process so its CPU is not counted as Shipshape's.
 * Prints "LISTENING <port>" once ready; stops on SIGTERM/SIGINT.
 */
import { createServer } from 'node:http';

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
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`LISTENING ${typeof a === 'object' && a ? a.port : 0}\n`);
});
const stop = () => {
  process.stdout.write(`served ${requests} requests\n`);
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// never outlive the bench: exit when the parent goes away (it was killed outright)
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();

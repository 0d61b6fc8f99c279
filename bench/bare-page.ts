/**
 * The ceiling for the status-page benchmark: a bare node:http server that answers every request
 * with the same bytes and headers Shipshape sent for the page (read once from BODY_FILE and
 * HEADERS_FILE, kept in memory). Runs as its own process, like Shipshape. Prints
 * "LISTENING <port>"; stops on SIGTERM/SIGINT or when the bench goes away.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { serveForBench } from './lib/serve.js';

const body = readFileSync(String(process.env.BODY_FILE));
const headers = JSON.parse(readFileSync(String(process.env.HEADERS_FILE), 'utf8')) as Record<string, string>;
headers['content-length'] = String(body.length);
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, headers);
  res.end(body);
});
server.keepAliveTimeout = 120_000;
serveForBench(server);

/** What the bench's own little servers (check target, ceiling page) share. */
import type { Server } from 'node:http';

/**
 * Listen on loopback and print "LISTENING <port>" (startTarget reads it); stop on SIGTERM/SIGINT
 * (after `onStop`); never outlive the bench (exit when the parent goes away).
 */
export function serveForBench(server: Server, port = 0, onStop?: () => void): void {
  server.listen(port, '127.0.0.1', () => {
    const a = server.address();
    process.stdout.write(`LISTENING ${typeof a === 'object' && a ? a.port : 0}\n`);
  });
  const stop = () => {
    onStop?.();
    server.closeAllConnections();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
}

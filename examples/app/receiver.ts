/**
 * A webhook receiver that prints what Shipshape's `ops-webhook` channel sends (Alertmanager's
 * webhook payload), so you can watch an alert fire and resolve without a Slack workspace.
 *
 *   npx tsx examples/app/receiver.ts        # listens on http://127.0.0.1:9099/hook (PORT to change)
 */
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 9099);
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let shown = text;
    try {
      const j = JSON.parse(text) as { status?: string; alerts?: { status?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] };
      const lines = (j.alerts ?? []).map((a) => `  ${a.status ?? '?'} ${a.labels?.alertname ?? ''} ${a.labels?.severity ?? ''} ${a.annotations?.summary ?? ''}`);
      shown = `${j.status ?? ''} (${j.alerts?.length ?? 0} alerts)\n${lines.join('\n')}`;
    } catch {
      // not JSON: print as is
    }
    console.log(`${new Date().toISOString()} ${req.method} ${req.url} ${shown}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
}).listen(port, '127.0.0.1', () => console.log(`webhook receiver on http://127.0.0.1:${port}/hook`));

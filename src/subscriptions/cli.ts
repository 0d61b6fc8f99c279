/**
 * `shipshape subscriptions list|remove|webhook`: status page subscribers, asked of a running
 * server (`--url` / SHIPSHAPE_URL, `--token` / SHIPSHAPE_TOKEN), `--json` for the raw answer.
 */
import type { Command } from 'commander';
import { callServer, env, fail, json, out } from '../core/cli.js';
import type { CliContext } from '../core/module.js';
import type { Subscriber } from './service.js';

interface Conn {
  url: string;
  token?: string;
  json?: boolean;
}

const conn = (c: Command) => c.option('--url <url>', 'server URL (env SHIPSHAPE_URL)', env.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600').option('--token <token>', 'API token (env SHIPSHAPE_TOKEN)', env.SHIPSHAPE_TOKEN).option('--json', 'print the result as JSON');

const line = (s: Subscriber) => `${String(s.id).padStart(5)}  ${s.page}  ${s.kind.padEnd(7)}  ${s.state.padEnd(9)}  ${s.address}${s.services.length ? `  [${s.services.join(', ')}]` : ''}`;

export function registerSubscriptionCommands(program: Command, _ctx: CliContext): void {
  const cmd = program.command('subscriptions').description('status page subscribers (email and webhook), from a running server');

  conn(cmd.command('list').description('subscribers, newest first (addresses masked unless the token is admin)'))
    .option('--page <key>', 'one status page')
    .option('--kind <kind>', 'email or webhook')
    .option('--state <state>', 'pending or confirmed')
    .action(async (o: Conn & { page?: string; kind?: string; state?: string }) => {
      try {
        const q = new URLSearchParams({ limit: '500' });
        if (o.page) q.set('page', o.page);
        if (o.kind) q.set('kind', o.kind);
        if (o.state) q.set('state', o.state);
        const r = await callServer<{ items: Subscriber[] }>(o, 'GET', `/api/v1/subscriptions?${q}`);
        if (o.json) {
          json(r.items);
          return;
        }
        if (!r.items.length) {
          out('no subscribers');
          return;
        }
        for (const s of r.items) out(line(s));
      } catch (e) {
        fail(e);
      }
    });

  conn(cmd.command('remove <id>').description('remove a subscriber (needs the write scope)')).action(async (id: string, o: Conn) => {
    try {
      await callServer<unknown>(o, 'DELETE', `/api/v1/subscriptions/${encodeURIComponent(id)}`, { scope: 'write', text: true });
      if (o.json) {
        json({ id: Number(id), removed: true });
        return;
      }
      out(`removed subscriber ${id}`);
    } catch (e) {
      fail(e);
    }
  });

  conn(cmd.command('webhook').description('subscribe a webhook to a status page (needs the write scope); prints its signing secret once'))
    .requiredOption('--page <key>', 'the status page')
    .requiredOption('--target <url>', 'where to POST updates (http or https)')
    .option('--component <name...>', 'only these components (default: all)')
    .option('--description <text>', 'what it is for')
    .action(async (o: Conn & { page: string; target: string; component?: string[]; description?: string }) => {
      try {
        const created = await callServer<Subscriber & { secret: string }>(o, 'POST', '/api/v1/subscriptions/webhooks', { scope: 'write', body: { page: o.page, url: o.target, components: o.component ?? [], ...(o.description ? { description: o.description } : {}) } });
        if (o.json) {
          json(created);
          return;
        }
        out(`webhook subscriber ${created.id} on ${created.page}: ${created.address}`);
        out(`signing secret (shown once; X-Shipshape-Signature is sha256=HMAC-SHA256 of the body with it): ${created.secret}`);
      } catch (e) {
        fail(e);
      }
    });
}

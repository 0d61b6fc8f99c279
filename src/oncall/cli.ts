/**
 * `shipshape oncall now [schedule]`: who is on call, asked of a running server like `shipshape
 * status` (`--url` / SHIPSHAPE_URL, `--token` / SHIPSHAPE_TOKEN, a read token), `--at` for another
 * time, `--json` for the raw answer.
 */
import type { Command } from 'commander';
import { callServer, CliError, env, fail, json, out, type ServerConn } from '../core/cli.js';
import type { CliContext } from '../core/module.js';
import type { OnCallNow } from './service.js';

const call = <T>(c: ServerConn, path: string): Promise<T> => callServer<T>(c, 'GET', path);

export function registerOncallCommands(program: Command, _ctx: CliContext): void {
  const oncall = program.command('oncall').description('who is on call, from a running server (needs an API token)');
  oncall
    .command('now [schedule]')
    .description('who is on call now (or --at a time) in every schedule or one')
    .option('--at <time>', 'an ISO time instead of now (e.g. 2026-03-29T09:00:00+02:00)')
    .option('--url <url>', 'server URL (env SHIPSHAPE_URL)', env.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600')
    .option('--token <token>', 'API token (env SHIPSHAPE_TOKEN)', env.SHIPSHAPE_TOKEN)
    .option('--json', 'print the result as JSON')
    .action(async (schedule: string | undefined, o: { at?: string; url: string; token?: string; json?: boolean }) => {
      try {
        const q = new URLSearchParams();
        if (schedule) q.set('schedule', schedule);
        if (o.at) {
          const t = Date.parse(o.at);
          if (!Number.isFinite(t)) throw new CliError(`--at: expected an ISO time like 2026-03-29T09:00:00Z, got "${o.at}"`, 2);
          q.set('at', new Date(t).toISOString());
        }
        const r = await call<{ items: OnCallNow[] }>(o, `/api/v1/oncall/now${q.size ? `?${q}` : ''}`);
        if (o.json) {
          json(schedule ? r.items[0] : r.items);
          return;
        }
        if (!r.items.length) {
          out('no schedules (add them under oncall.schedules)');
          return;
        }
        for (const i of r.items) {
          if (!i.person) out(`${i.schedule}: nobody on call`);
          else out(`${i.schedule}: ${i.name}${i.name !== i.person ? ` (${i.person})` : ''}${i.until ? ` until ${i.until}` : ''}  [${i.source}, ${i.time_zone}]`);
        }
      } catch (e) {
        fail(e);
      }
    });
}

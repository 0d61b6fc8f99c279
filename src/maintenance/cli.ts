/**
 * `shipshape maintenance add|list|cancel|end`, talking to a running server like `shipshape
 * incident` does (`--url` / SHIPSHAPE_URL, `--token` / SHIPSHAPE_TOKEN). `--json` prints the
 * created or changed window (`list --json`: the windows).
 */
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { Page } from '../core/api-types.js';
import { callServer, CliError, env, fail, json, out, paint, type ServerConn } from '../core/cli.js';
import { formatDuration } from '../core/config/units.js';
import type { CliContext } from '../core/module.js';
import type { MaintenanceWindow } from './types.js';

type Conn = ServerConn;

const call = <T>(c: Conn, method: string, path: string, body?: unknown): Promise<T> => callServer<T>(c, method, path, { body, scope: method === 'GET' ? 'read' : 'write' });

const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

const idOf = (s: string) => {
  if (!/^[1-9][0-9]{0,14}$/.test(s)) throw new CliError(`expected a maintenance window number like 12, got "${s}"`, 2);
  return s;
};

const statusPaint = (s: string) => paint(s === 'completed' ? 'ok' : s === 'in_progress' || s === 'verifying' ? 'degraded' : s === 'cancelled' ? 'cancelled' : s);

function line(w: MaintenanceWindow): string {
  const rec = w.recurring ? ` (${w.recurring})` : '';
  return `#${w.id}  ${statusPaint(w.status)}  ${w.starts_at} – ${w.ends_at}  ${w.title}${rec} [${w.services.join(', ')}]`;
}

export function registerMaintenanceCommands(program: Command, _ctx: CliContext): void {
  const m = program.command('maintenance').description('schedule, list and cancel maintenance windows on a running server (needs an API token)');
  const withConn = (c: Command) =>
    c
      .option('--url <url>', 'server URL (env SHIPSHAPE_URL)', env.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600')
      .option('--token <token>', 'API token (env SHIPSHAPE_TOKEN)', env.SHIPSHAPE_TOKEN)
      .option('--json', 'print the result as JSON');

  withConn(m.command('add').description('schedule a maintenance window: alerts of its services are held back while it runs'))
    .requiredOption('--title <title>', 'what is done, for people (shown on the status page)')
    .requiredOption('--service <name>', 'an affected service (repeatable, or comma-separated)', collect, [])
    .requiredOption('--starts <time>', 'RFC 3339 time (2026-03-10T02:00:00Z), now, or from now (+2h)')
    .requiredOption('--duration <d>', 'planned length: 30m, 2h')
    .option('--max <d>', 'declared maximum (default: the duration); past it the window raises an alert')
    .option('--notice <d>', 'announce it this long before it starts (default: maintenance.notice, 48h)')
    .option('--manual-end', 'stay in progress until `maintenance end` (instead of ending after --duration)')
    .option('--message <text>', 'details for the status page and subscribers')
    .addHelpText('after', '\nExample:\n  $ shipshape maintenance add --title "Database upgrade" --service api --starts 2026-03-10T02:00:00Z --duration 2h --message "Read-only for up to 2 hours"')
    .action(async (o: Conn & { title: string; service: string[]; starts: string; duration: string; max?: string; notice?: string; manualEnd?: boolean; message?: string; json?: boolean }) => {
      try {
        const w = await call<MaintenanceWindow>(o, 'POST', '/api/v1/maintenance', {
          title: o.title,
          services: o.service,
          starts_at: o.starts,
          duration: o.duration,
          ...(o.max ? { max: o.max } : {}),
          ...(o.notice ? { notice: o.notice } : {}),
          ...(o.manualEnd ? { auto_end: false } : {}),
          ...(o.message ? { message: o.message } : {}),
        });
        if (o.json) json(w);
        else out(`scheduled ${line(w)}`);
      } catch (e) {
        fail(e);
      }
    });

  withConn(m.command('list').description('list maintenance windows: scheduled and in progress (--all: also ended and cancelled ones)'))
    .option('--all', 'include completed and cancelled windows')
    .option('--service <name>', 'only windows affecting this service')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o: Conn & { all?: boolean; service?: string; limit: string; json?: boolean }) => {
      try {
        const q = new URLSearchParams({ limit: o.limit });
        if (o.all) q.set('status', 'all');
        if (o.service) q.set('service', o.service);
        const page = await call<Page<MaintenanceWindow>>(o, 'GET', `/api/v1/maintenance?${q}`);
        if (o.json) {
          json(page.items);
          return;
        }
        if (page.items.length === 0) {
          out(o.all ? 'no maintenance windows' : 'no maintenance scheduled (--all shows past ones)');
          return;
        }
        const table = new Table({ head: ['id', 'status', 'starts', 'ends', 'title', 'services', 'max', 'recurring'], style: { head: [], border: [] }, wordWrap: true });
        for (const w of page.items) table.push([String(w.id), statusPaint(w.status), w.starts_at, w.ends_at, w.title, w.services.join(', '), formatDuration(w.max_ms), w.recurring ?? '']);
        out(table.toString());
      } catch (e) {
        fail(e);
      }
    });

  withConn(m.command('cancel').description('cancel a scheduled window (one occurrence of a recurring window)'))
    .argument('<id>', 'window number')
    .action(async (id: string, o: Conn & { json?: boolean }) => {
      try {
        const w = await call<MaintenanceWindow>(o, 'POST', `/api/v1/maintenance/${idOf(id)}/cancel`, {});
        if (o.json) json(w);
        else out(`cancelled ${line(w)}`);
      } catch (e) {
        fail(e);
      }
    });

  withConn(m.command('end').description('end a window in progress now (held-back alerts that still fire are sent)'))
    .argument('<id>', 'window number')
    .action(async (id: string, o: Conn & { json?: boolean }) => {
      try {
        const w = await call<MaintenanceWindow>(o, 'POST', `/api/v1/maintenance/${idOf(id)}/end`, {});
        if (o.json) json(w);
        else out(`ended ${line(w)}`);
      } catch (e) {
        fail(e);
      }
    });
}

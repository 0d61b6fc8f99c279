/**
 * `shipshape webhooks list | show | replay`, talking to a running server (`--url` /
 * SHIPSHAPE_URL, `--token` / SHIPSHAPE_TOKEN): read scope to look, write to replay, admin for
 * `show --body`. Each takes `--json`.
 */
import type { Command } from 'commander';
import Table from 'cli-table3';
import { callServer, CliError, env, fail, green, json, out, red, yellow, type ServerConn } from '../core/cli.js';
import { formatDuration, parseDuration } from '../core/config/units.js';
import type { CliContext } from '../core/module.js';
import type { DeliveryBody, DeliveryDetail, DeliverySummary, ReplayResult } from './types.js';

type Conn = ServerConn & { json?: boolean };

const paint = (s: string) => (s === 'delivered' ? green(s) : s === 'failed' ? red(s) : yellow(s));
const ago = (iso: string) => {
  const ms = Date.now() - Date.parse(iso);
  return ms < 1000 ? 'just now' : `${formatDuration(Math.round(ms / 1000) * 1000)} ago`;
};
const checkId = (id: string) => {
  if (!/^[1-9][0-9]{0,14}$/.test(id)) throw new CliError(`expected a delivery id like 12 (shipshape webhooks list), got "${id}"`, 2);
  return id;
};
const checkSince = (s: string) => {
  if (parseDuration(s) === undefined && !/^\d{4}-\d{2}-\d{2}/.test(s)) throw new CliError(`expected --since like 1h, 30m or an ISO time, got "${s}"`, 2);
  return s;
};

export function registerWebhookCommands(program: Command, _ctx: CliContext): void {
  const cmd = program.command('webhooks').description('the webhook inbox: deliveries received on /hooks/<name>, their forward attempts, replays');
  const withConn = (c: Command, scope: string) =>
    c
      .option('--url <url>', 'server URL (env SHIPSHAPE_URL)', env.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600')
      .option('--token <token>', `API token with ${scope} scope (env SHIPSHAPE_TOKEN)`, env.SHIPSHAPE_TOKEN)
      .option('--json', 'print the result as JSON');

  withConn(cmd.command('list').description('deliveries, newest first: hook, received, state, attempts, last error'), 'read')
    .option('--hook <name>', 'only this hook')
    .option('--state <state>', 'pending, delivered or failed')
    .option('--since <duration>', 'received in the last 1h, 30m… (or since an ISO time)')
    .option('--limit <n>', 'at most this many', '50')
    .addHelpText('after', '\nExamples:\n  $ shipshape webhooks list --hook stripe --state failed --since 1h\n  $ shipshape webhooks list --json')
    .action(async (o: Conn & { hook?: string; state?: string; since?: string; limit: string }) => {
      try {
        if (o.state && !['pending', 'delivered', 'failed'].includes(o.state)) throw new CliError(`expected --state pending, delivered or failed, got "${o.state}"`, 2);
        if (!/^[1-9][0-9]{0,2}$/.test(o.limit)) throw new CliError(`expected --limit from 1 to 500, got "${o.limit}"`, 2);
        const q = new URLSearchParams({ limit: o.limit });
        if (o.hook) q.set('hook', o.hook);
        if (o.state) q.set('state', o.state);
        if (o.since) q.set('since', checkSince(o.since));
        const { items } = await callServer<{ items: DeliverySummary[] }>(o, 'GET', `/api/v1/webhooks/deliveries?${q}`, { scope: 'read' });
        if (o.json) return void json(items);
        if (items.length === 0) return void out('no deliveries match');
        const t = new Table({ head: ['id', 'hook', 'event', 'received', 'state', 'attempts', 'last error'], style: { head: [], border: [] } });
        for (const d of items) t.push([String(d.id), d.hook, d.event_type ?? '', ago(d.received_at), paint(d.state), String(d.attempts), (d.last_error ?? '').slice(0, 60)]);
        out(t.toString());
      } catch (e) {
        fail(e);
      }
    });

  withConn(cmd.command('show').description('one delivery: its headers and every forward attempt (the body with --body, admin token)'), 'read')
    .argument('<id>', 'the delivery id')
    .option('--body', 'also print the stored body (needs an admin token)')
    .action(async (id: string, o: Conn & { body?: boolean }) => {
      try {
        const d = await callServer<DeliveryDetail>(o, 'GET', `/api/v1/webhooks/deliveries/${checkId(id)}`, { scope: 'read' });
        const body = o.body ? await callServer<DeliveryBody>(o, 'GET', `/api/v1/webhooks/deliveries/${id}/body`, { scope: 'admin' }) : undefined;
        if (o.json) return void json(body ? { ...d, body } : d);
        out(`delivery ${d.id}: ${d.hook}${d.event_type ? ` ${d.event_type}` : ''} — ${paint(d.state)} after ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`);
        out(`received ${d.received_at} (${ago(d.received_at)}), ${d.body_size} bytes ${d.content_type}${d.sender_id ? `, sender id ${d.sender_id}` : ''}`);
        if (d.next_attempt_at) out(`next attempt ${d.next_attempt_at}`);
        if (d.attempt_log.length) {
          const t = new Table({ head: ['#', 'started', 'took', 'status', 'error', 'by'], style: { head: [], border: [] } });
          for (const a of d.attempt_log) t.push([String(a.attempt), a.started_at, `${a.duration_ms}ms`, a.status === null ? '-' : String(a.status), (a.error ?? '').slice(0, 70), a.trigger]);
          out(t.toString());
        } else out('no attempts yet');
        if (body) {
          out(`body (${body.encoding}):`);
          out(body.body);
        }
      } catch (e) {
        fail(e);
      }
    });

  withConn(cmd.command('replay').description('forward a delivery again (any state), or every failed one since a time'), 'write')
    .argument('[id]', 'the delivery id')
    .option('--failed', 'every failed delivery (with --since)')
    .option('--since <duration>', 'with --failed: received in the last 1h, 30m… (default 24h)')
    .option('--hook <name>', 'with --failed: only this hook')
    .addHelpText('after', '\nExamples:\n  $ shipshape webhooks replay 42\n  $ shipshape webhooks replay --failed --since 1h')
    .action(async (id: string | undefined, o: Conn & { failed?: boolean; since?: string; hook?: string }) => {
      try {
        if (id !== undefined && o.failed) throw new CliError('give a delivery id or --failed, not both', 2);
        if (id === undefined && !o.failed) throw new CliError('give a delivery id, or --failed --since 1h to replay every failed delivery', 2);
        const r = id
          ? await callServer<ReplayResult>(o, 'POST', `/api/v1/webhooks/deliveries/${checkId(id)}/replay`, { scope: 'write' })
          : await callServer<ReplayResult>(o, 'POST', '/api/v1/webhooks/replay', { body: { state: 'failed', since: checkSince(o.since ?? '24h'), ...(o.hook ? { hook: o.hook } : {}) }, scope: 'write' });
        if (o.json) return void json(r);
        out(r.ids.length === 0 ? 'nothing to replay' : `queued ${r.ids.length} deliver${r.ids.length === 1 ? 'y' : 'ies'} again: ${r.ids.slice(0, 20).join(', ')}${r.ids.length > 20 ? ', …' : ''}`);
      } catch (e) {
        fail(e);
      }
    });
}

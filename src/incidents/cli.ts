/**
 * `shipshape incident …`: open, list, show, update, ack, resolve, postmortem, action-items (and
 * note, mitigate, close, decline, reopen, merge), talking to a running server like `shipshape status` does
 * (`--url` / SHIPSHAPE_URL, `--token` / SHIPSHAPE_TOKEN). `--json` prints the created or changed
 * object; `postmortem` prints Markdown.
 */
import type { Command } from 'commander';
import Table from 'cli-table3';
import type { Page } from '../core/api-types.js';
import { callServer, CliError, env, fail, json, out, paint, type ServerConn } from '../core/cli.js';
import { formatDuration } from '../core/config/units.js';
import type { CliContext } from '../core/module.js';
import { describeEvent } from './timeline.js';
import type { ActionItemStatus, Incident, IncidentDetail, Timeline } from './types.js';

type Conn = ServerConn;

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** One request to the server (write scope for changes); a problem answer becomes a CliError naming the field. */
const call = <T>(c: Conn, method: string, path: string, body?: unknown, accept: 'json' | 'text' = 'json'): Promise<T> =>
  callServer<T>(c, method, path, { body, text: accept === 'text', scope: method === 'GET' ? 'read' : 'write' });

const idOf = (s: string) => {
  if (!/^(INC-)?[1-9][0-9]{0,14}$/i.test(s)) throw new CliError(`expected an incident number like 12 or INC-12, got "${s}"`, 2);
  return s.replace(/^INC-/i, '');
};

function line(i: Incident): string {
  const svc = i.services.length ? ` [${i.services.join(', ')}]` : '';
  return `${i.ref}  ${i.severity}  ${paint(i.state === 'resolved' || i.state === 'closed' ? 'ok' : i.state === 'triggered' ? 'down' : i.state)}  ${i.title}${svc}`;
}

function printDetail(i: IncidentDetail, tl?: Timeline): void {
  out(line(i));
  out(`opened ${i.opened_at} by ${i.opened_by}; ${i.resolved_at ? `resolved ${i.resolved_at}` : 'open'} (${formatDuration(i.duration_ms)})`);
  if (i.status) out(`status: ${i.status}`);
  const roles = Object.entries(i.roles).filter(([, v]) => v);
  if (roles.length) out(`roles: ${roles.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (i.merged_into) out(`merged into INC-${i.merged_into}`);
  for (const t of i.targets) out(`target ${t.target}: due ${t.due_at}${t.met_at ? `, met ${t.met_at}` : ''}${t.breached ? ' — MISSED' : ''}`);
  if (tl) {
    out('');
    out('timeline:');
    for (const e of tl.items) out(`  ${e.at}  ${describeEvent(e)}  (${e.actor})`);
  }
}

export function registerIncidentCommands(program: Command, _ctx: CliContext): void {
  const incident = program.command('incident').description('open, update and resolve incidents on a running server (needs an API token)');
  const withConn = (c: Command) =>
    c
      .option('--url <url>', 'server URL (env SHIPSHAPE_URL)', env.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600')
      .option('--token <token>', 'API token (env SHIPSHAPE_TOKEN)', env.SHIPSHAPE_TOKEN)
      .option('--json', 'print the result as JSON');

  withConn(incident.command('open').description('open an incident'))
    .requiredOption('--title <title>', 'what is wrong, for people')
    .requiredOption('--severity <level>', 'a configured level: P0..P3 (or SEV1..SEV4, or your own names)')
    .option('--service <name>', 'an affected service (repeatable)', collect, [])
    .option('--message <text>', 'a first note')
    .option('--commander <name>', 'the incident commander')
    .addHelpText('after', '\nExample:\n  $ shipshape incident open --title "Checkout fails" --severity P1 --service web --message "Stripe errors since 14:02"')
    .action(async (o: Conn & { title: string; severity: string; service: string[]; message?: string; commander?: string; json?: boolean }) => {
      try {
        const inc = await call<Incident>(o, 'POST', '/api/v1/incidents', { title: o.title, severity: o.severity, services: o.service, ...(o.message ? { message: o.message } : {}), ...(o.commander ? { roles: { commander: o.commander } } : {}) });
        if (o.json) json(inc);
        else out(`opened ${line(inc)}`);
      } catch (e) {
        fail(e);
      }
    });

  withConn(incident.command('list').description('list incidents, newest first (open ones unless --all or --state)'))
    .option('--all', 'include resolved, closed, declined and merged ones')
    .option('--state <state>', 'only this state')
    .option('--service <name>', 'only incidents affecting this service')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (o: Conn & { all?: boolean; state?: string; service?: string; limit: string; json?: boolean }) => {
      try {
        const q = new URLSearchParams({ limit: o.limit });
        if (o.state) q.set('state', o.state);
        else if (!o.all) q.set('open', 'true');
        if (o.service) q.set('service', o.service);
        const page = await call<Page<Incident>>(o, 'GET', `/api/v1/incidents?${q}`);
        if (o.json) {
          json(page.items);
          return;
        }
        if (page.items.length === 0) {
          out(o.all || o.state ? 'no incidents' : 'no open incidents (--all shows every one)');
          return;
        }
        const table = new Table({ head: ['id', 'sev', 'state', 'title', 'services', 'opened', 'duration'], style: { head: [], border: [] }, wordWrap: true });
        for (const i of page.items) table.push([i.ref, i.severity, paint(i.state), i.title, i.services.join(', '), i.opened_at, formatDuration(i.duration_ms)]);
        out(table.toString());
      } catch (e) {
        fail(e);
      }
    });

  withConn(incident.command('show').description('show an incident with its updates and timeline'))
    .argument('<id>', 'incident number (12 or INC-12)')
    .action(async (id: string, o: Conn & { json?: boolean }) => {
      try {
        const n = idOf(id);
        const inc = await call<IncidentDetail>(o, 'GET', `/api/v1/incidents/${n}`);
        if (o.json) {
          json(inc);
          return;
        }
        printDetail(inc, await call<Timeline>(o, 'GET', `/api/v1/incidents/${n}/timeline`));
      } catch (e) {
        fail(e);
      }
    });

  withConn(incident.command('update').description('post a status update (investigating, identified, monitoring, resolved)'))
    .argument('<id>', 'incident number')
    .requiredOption('--status <status>', 'investigating | identified | monitoring | resolved')
    .requiredOption('--message <text>', 'what people should know')
    .action(async (id: string, o: Conn & { status: string; message: string; json?: boolean }) => {
      try {
        const inc = await call<IncidentDetail>(o, 'POST', `/api/v1/incidents/${idOf(id)}/updates`, { status: o.status, message: o.message });
        if (o.json) json(inc);
        else out(`${inc.ref} ${inc.status}: ${o.message}`);
      } catch (e) {
        fail(e);
      }
    });

  withConn(incident.command('note').description('add a note to the timeline'))
    .argument('<id>', 'incident number')
    .requiredOption('--message <text>', 'the note')
    .action(async (id: string, o: Conn & { message: string; json?: boolean }) => {
      try {
        const u = await call<unknown>(o, 'POST', `/api/v1/incidents/${idOf(id)}/notes`, { message: o.message });
        if (o.json) json(u);
        else out('noted');
      } catch (e) {
        fail(e);
      }
    });

  const lifecycle: [string, string, string][] = [
    ['ack', 'acknowledge', 'acknowledge: someone is on it (stops the ack timer)'],
    ['mitigate', 'mitigate', 'the impact is stopped, the cause may not be fixed yet'],
    ['resolve', 'resolve', 'resolve the incident'],
    ['close', 'close', 'close a resolved incident (the post-mortem is done)'],
    ['decline', 'decline', 'not an incident after all'],
    ['reopen', 'reopen', 're-open a resolved incident'],
  ];
  for (const [name, action, description] of lifecycle) {
    const cmd = withConn(incident.command(name).description(description)).argument('<id>', 'incident number');
    if (action !== 'acknowledge') cmd.option('--message <text>', 'a note to go with it');
    cmd.action(async (id: string, o: Conn & { message?: string; json?: boolean }) => {
      try {
        const inc = await call<Incident>(o, 'POST', `/api/v1/incidents/${idOf(id)}/${action}`, o.message ? { message: o.message } : {});
        if (o.json) json(inc);
        else out(line(inc));
      } catch (e) {
        fail(e);
      }
    });
  }

  withConn(incident.command('merge').description('merge a duplicate into another incident'))
    .argument('<id>', 'the duplicate')
    .requiredOption('--into <id>', 'the incident it joins')
    .action(async (id: string, o: Conn & { into: string; json?: boolean }) => {
      try {
        const inc = await call<Incident>(o, 'POST', `/api/v1/incidents/${idOf(id)}/merge`, { into: Number(idOf(o.into)) });
        if (o.json) json(inc);
        else out(`${inc.ref} merged into INC-${inc.merged_into}`);
      } catch (e) {
        fail(e);
      }
    });

  withConn(incident.command('postmortem').description('print the post-mortem as Markdown (timeline, measured impact, action items)'))
    .argument('<id>', 'incident number')
    .option('--tz <zone>', 'show times in this IANA time zone (default UTC)')
    .action(async (id: string, o: Conn & { tz?: string; json?: boolean }) => {
      try {
        const n = idOf(id);
        const md = await call<string>(o, 'GET', `/api/v1/incidents/${n}/postmortem${o.tz ? `?tz=${encodeURIComponent(o.tz)}` : ''}`, undefined, 'text');
        if (o.json) json({ id: Number(n), ref: `INC-${n}`, markdown: md });
        else process.stdout.write(md);
      } catch (e) {
        fail(e);
      }
    });

  withConn(incident.command('action-items').description("post-mortem action items across incidents, due first (open ones unless --all); overdue ones are marked"))
    .option('--all', 'include done ones')
    .option('--overdue', 'only those past their due date')
    .option('--owner <name>', 'only this owner')
    .action(async (o: Conn & { all?: boolean; overdue?: boolean; owner?: string; json?: boolean }) => {
      try {
        const q = new URLSearchParams();
        if (o.overdue) q.set('overdue', 'true');
        else if (!o.all) q.set('open', 'true');
        if (o.owner) q.set('owner', o.owner);
        const r = await call<{ items: ActionItemStatus[]; overdue: number }>(o, 'GET', `/api/v1/incidents/action-items?${q.toString()}`);
        if (o.json) json(r.items);
        else if (r.items.length === 0) out(o.overdue ? 'no overdue action items' : 'no action items');
        else for (const a of r.items) out(`${a.ref}  ${a.due ?? 'no due date'}  ${a.overdue ? 'OVERDUE  ' : a.done ? 'done  ' : ''}${a.title} (${a.owner ?? 'no owner'})`);
        if (!o.json && r.overdue) out(`${r.overdue} overdue`);
      } catch (e) {
        fail(e);
      }
    });
}

/**
 * `shipshape env set | unset | list | pull | rotated | push`, talking to a running server (`--url` /
 * SHIPSHAPE_URL, `--token` / SHIPSHAPE_TOKEN), which holds the master key: the key never has to
 * be on the machine the command runs on, and every change is recorded with the token's name as
 * its actor. `list` needs a read token; the others an admin token.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { callServer, CliError, env as procEnv, fail, json, out, red, yellow, type ServerConn } from '../core/cli.js';
import { formatDuration } from '../core/config/units.js';
import type { CliContext } from '../core/module.js';
import { formatEnvFile, writePrivateFile } from './envfile.js';
import { VAR_NAME_RE } from './store.js';
import type { EnvKeyStatus, EnvPushChange, EnvPushResult, EnvSetResult, EnvVarView } from './types.js';

type Conn = ServerConn & { json?: boolean; service: string; env: string };

const enc = encodeURIComponent;
const base = (o: Conn) => `/api/v1/env/${enc(o.service)}/${enc(o.env)}`;

/** Read a value from stdin: piped (all of it, less one trailing newline) or typed at a terminal without echo. */
async function readValue(name: string): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write(`value for ${name} (not shown): `);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const value = await new Promise<string>((done, reject) => {
      let buf = '';
      const onData = (s: string) => {
        for (const ch of s) {
          if (ch === '\r' || ch === '\n') return finish(() => done(buf));
          if (ch === '\u0003') return finish(() => reject(new CliError('cancelled', 130)));
          if (ch === '\u007f' || ch === '\b') buf = [...buf].slice(0, -1).join('');
          else buf += ch;
        }
      };
      const finish = (f: () => void) => {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
        process.stderr.write('\n');
        f();
      };
      stdin.on('data', onData);
    });
    return value;
  }
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const ago = (iso: string) => {
  const ms = Date.now() - Date.parse(iso);
  return ms < 60_000 ? 'just now' : `${formatDuration(ms)} ago`;
};

const days = (ms: number) => (ms >= 86_400_000 ? `${Math.floor(ms / 86_400_000)}d` : formatDuration(ms));

export function rotationText(v: EnvVarView): string {
  if (v.rotation_due_at === null) return '—';
  if (v.overdue) return `overdue by ${days(v.overdue_by_ms ?? 0)}`;
  return `due in ${days(Date.parse(v.rotation_due_at) - Date.now())}`;
}

const SIGN: Record<EnvPushChange['action'], string> = { add: '+', update: '~', remove: '-' };
const DONE: Record<EnvPushChange['action'], string> = { add: 'added', update: 'updated', remove: 'removed' };

/** The human report of a push: names only (no value, not even masked). */
export function pushReport(r: EnvPushResult): string[] {
  const lines: string[] = [];
  const count = (a: EnvPushChange['action'], st: EnvPushChange['status']) => r.changes.filter((c) => c.action === a && c.status === st).length;
  const head = `${r.service}/${r.env} → ${r.platform} ${r.target}`;
  if (r.dry_run) lines.push(`dry run, nothing changed: ${head}: would add ${count('add', 'planned')}, update ${count('update', 'planned')}, remove ${count('remove', 'planned')}; ${r.unchanged.length} unchanged`);
  else lines.push(`${head}: ${count('add', 'done')} added, ${count('update', 'done')} updated, ${count('remove', 'done')} removed, ${r.unchanged.length} unchanged`);
  const width = Math.max(0, ...r.changes.map((c) => c.name.length));
  for (const c of r.changes) {
    const what = c.status === 'planned' ? `would be ${DONE[c.action]}` : c.status === 'done' ? DONE[c.action] : c.status === 'failed' ? `FAILED (${c.action})` : `not attempted (${c.action})`;
    lines.push(`  ${SIGN[c.action]} ${c.name.padEnd(width)}  ${what}`);
  }
  if (r.kept.length) lines.push(`on ${r.platform} but not in the store, kept (--prune removes them): ${r.kept.join(', ')}`);
  return lines;
}

export function registerEnvStore(envCmd: Command, _ctx: CliContext): void {
  const withConn = (c: Command, scope: 'read' | 'admin', required = true) => {
    c.option('--url <url>', 'server URL (env SHIPSHAPE_URL)', procEnv.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600')
      .option('--token <token>', `API token with ${scope} scope (env SHIPSHAPE_TOKEN)`, procEnv.SHIPSHAPE_TOKEN)
      .option('--env <env>', 'the environment', required ? 'production' : undefined)
      .option('--json', 'print the result as JSON');
    if (required) c.requiredOption('--service <service>', 'the service (a name under services: in shipshape.yaml)');
    else c.option('--service <service>', 'only this service');
    return c;
  };

  withConn(envCmd.command('set').description('store variables encrypted on the server (NAME alone reads the value from stdin, keeping it out of shell history)'), 'admin')
    .argument('<assignments...>', 'NAME=value … or NAME (value from stdin)')
    .option('--force', "store values even when the service's env schema rejects them (format, prefix, a test key in production)")
    .addHelpText('after', '\nExamples:\n  $ shipshape env set DATABASE_URL=postgres://… --service web --env staging\n  $ pbpaste | shipshape env set STRIPE_SECRET_KEY --service web --env production')
    .action(async (assignments: string[], o: Conn & { force?: boolean }) => {
      try {
        const vars: Record<string, string> = {};
        const fromStdin = assignments.filter((a) => !a.includes('='));
        if (fromStdin.length > 1) throw new CliError(`only one variable can take its value from stdin; got ${fromStdin.join(', ')}`, 2);
        for (const a of assignments) {
          const eq = a.indexOf('=');
          const name = eq === -1 ? a : a.slice(0, eq);
          if (!VAR_NAME_RE.test(name)) throw new CliError(`"${name.slice(0, 100)}" is not an environment variable name (expected NAME=value with letters, digits and "_")`, 2);
          if (Object.hasOwn(vars, name)) throw new CliError(`${name} is given twice`, 2);
          vars[name] = eq === -1 ? await readValue(name) : a.slice(eq + 1);
        }
        const r = await callServer<{ items: EnvSetResult[] }>(o, 'POST', `${base(o)}/vars`, { body: { vars, ...(o.force ? { force: true } : {}) }, scope: 'admin' });
        if (o.json) return void json(r.items);
        for (const i of r.items) out(i.changed ? `${i.name} set for ${i.service}/${i.env} (version ${i.version})` : `${i.name} unchanged for ${i.service}/${i.env} (version ${i.version}: same value)`);
      } catch (e) {
        fail(e);
      }
    });

  withConn(envCmd.command('unset').description('remove a variable from an environment (its old versions stay encrypted for past releases)'), 'admin')
    .argument('<name>', 'the variable')
    .action(async (name: string, o: Conn) => {
      try {
        const r = await callServer<{ version: number }>(o, 'DELETE', `${base(o)}/vars/${enc(name)}`, { scope: 'admin' });
        if (o.json) return void json(r);
        out(`${name} removed from ${o.service}/${o.env} (was version ${r.version})`);
      } catch (e) {
        fail(e);
      }
    });

  withConn(envCmd.command('rotated').description('record that a secret was rotated without changing the stored value'), 'admin')
    .argument('<name>', 'the variable')
    .action(async (name: string, o: Conn) => {
      try {
        const r = await callServer<EnvVarView>(o, 'POST', `${base(o)}/vars/${enc(name)}/rotated`, { scope: 'admin' });
        if (o.json) return void json(r);
        out(`${name} of ${o.service}/${o.env} marked rotated; rotation ${rotationText(r)}`);
      } catch (e) {
        fail(e);
      }
    });

  withConn(envCmd.command('list').description('the stored variables, masked, with version, last change and rotation'), 'read', false).action(async (o: Partial<Conn> & ServerConn) => {
    try {
      const qs = new URLSearchParams();
      if (o.service) qs.set('service', o.service);
      if (o.env) qs.set('env', o.env);
      const r = await callServer<{ items: EnvVarView[]; key: EnvKeyStatus }>(o, 'GET', `/api/v1/env${qs.size ? `?${qs}` : ''}`);
      if (o.json) return void json(r.items);
      if (r.key.problem) process.stderr.write(`${yellow('warning')}: ${r.key.problem}\n`);
      if (r.items.length === 0) return void out('no variables stored');
      const t = new Table({ head: ['service', 'env', 'name', 'value', 'version', 'updated', 'rotated', 'rotation'], style: { head: [], border: [] } });
      for (const v of r.items) t.push([v.service, v.env, v.name, v.masked, String(v.version), `${ago(v.updated_at)} by ${v.updated_by}`, ago(v.rotated_at), v.overdue ? red(rotationText(v)) : rotationText(v)]);
      out(t.toString());
    } catch (e) {
      fail(e);
    }
  });

  envCmd
    .command('push')
    .description("make a hosted platform's variables for an environment equal to the store's (through its CLI, run by the server); prints names only")
    .argument('<service>', 'the service (a name under services: in shipshape.yaml)')
    .requiredOption('--to <platform>', 'vercel or netlify')
    .option('--env <env>', 'the environment', 'production')
    .option('--dry-run', 'show what would change, change nothing')
    .option('--prune', 'also remove the variables the platform has and the store does not')
    .option('--url <url>', 'server URL (env SHIPSHAPE_URL)', procEnv.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600')
    .option('--token <token>', 'API token with admin scope (env SHIPSHAPE_TOKEN)', procEnv.SHIPSHAPE_TOKEN)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  $ shipshape env push web --env production --to vercel --dry-run\n  $ shipshape env push web --env staging --to netlify --prune')
    .action(async (service: string, o: ServerConn & { to: string; env: string; dryRun?: boolean; prune?: boolean; json?: boolean }) => {
      try {
        if (o.to !== 'vercel' && o.to !== 'netlify') throw new CliError(`--to must be vercel or netlify, not "${o.to.slice(0, 50)}"`, 2);
        const r = await callServer<EnvPushResult>(o, 'POST', `/api/v1/env/${enc(service)}/${enc(o.env)}/push`, { body: { to: o.to, ...(o.dryRun ? { dry_run: true } : {}), ...(o.prune ? { prune: true } : {}) }, scope: 'admin' });
        if (o.json) json(r);
        else for (const l of pushReport(r)) (r.ok ? out : (t: string) => process.stderr.write(`${t}\n`))(l);
        if (!r.ok) throw new CliError(`${r.error ?? 'the push failed'}${r.changes.some((c) => c.status === 'done') ? ' (the changes marked done above were made; run the push again to finish)' : ''}`, 1);
      } catch (e) {
        fail(e);
      }
    });

  withConn(envCmd.command('pull').description('fetch the decrypted values of an environment as a .env file (stdout, or --out written mode 0600)'), 'admin')
    .option('--out <file>', 'write this file (mode 0600) instead of printing')
    .action(async (o: Conn & { out?: string }) => {
      try {
        const r = await callServer<{ values: Record<string, string> }>(o, 'GET', `${base(o)}/values`, { scope: 'admin' });
        if (o.json && !o.out) return void json(r.values);
        const text = formatEnvFile(r.values, `${o.service}/${o.env} from the Shipshape env store, ${new Date().toISOString()}`);
        if (!o.out) return void process.stdout.write(text);
        const file = resolve(o.out);
        writePrivateFile(file, text);
        if (o.json) return void json({ file, names: Object.keys(r.values) });
        out(`${Object.keys(r.values).length} variables of ${o.service}/${o.env} written to ${o.out} (mode 0600)`);
      } catch (e) {
        fail(e);
      }
    });
}

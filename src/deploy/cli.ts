/**
 * `shipshape deploy | promote | rollback | releases | lock | unlock`, talking to a running server
 * (`--url` / SHIPSHAPE_URL, `--token` / SHIPSHAPE_TOKEN). Deploys, promotions and rollbacks print
 * their steps as they tick and the output of each as it streams; `--json` prints the release at
 * the end instead. A failed deploy exits 1.
 */
import type { Command } from 'commander';
import Table from 'cli-table3';
import type { Problem } from '../core/api-types.js';
import { callServer, CliError, env, fail, green, json, out, red, yellow, type ServerConn } from '../core/cli.js';
import { formatDuration } from '../core/config/units.js';
import type { CliContext } from '../core/module.js';
import type { DeployLock, Progress, Release, ReleaseDetail } from './types.js';

type Conn = ServerConn & { json?: boolean };

const enc = encodeURIComponent;

/** POST and read the NDJSON progress stream; a problem answer is a CliError like callServer's. */
async function stream(c: Conn, path: string, body: unknown, onProgress: (p: Progress) => void): Promise<ReleaseDetail> {
  if (!c.token) throw new CliError('this needs an API token: pass --token or set SHIPSHAPE_TOKEN (make one with `shipshape token create --scope write`)', 2);
  let res: Response;
  try {
    res = await fetch(new URL(path, c.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw new CliError(`cannot reach ${c.url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message} (is \`shipshape up\` running?)`);
  }
  if (!res.ok || !res.body) {
    const p = (await res.json().catch(() => ({}))) as Partial<Problem>;
    const fields = p.errors?.length ? `\n${p.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}` : '';
    throw new CliError(`${c.url} answered ${res.status} ${p.title ?? res.statusText}: ${p.detail ?? ''}${fields}`, res.status === 400 ? 2 : 1);
  }
  const decoder = new TextDecoder();
  let buf = '';
  let done: ReleaseDetail | undefined;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      const p = JSON.parse(line) as Progress;
      if (p.type === 'error') throw new CliError(`${p.title}: ${p.detail}`, p.status === 400 ? 2 : 1);
      if (p.type === 'done') done = p.release;
      onProgress(p);
    }
  }
  if (!done) throw new CliError(`the server closed the progress stream before the end (see \`shipshape releases\` for how it went)`);
  return done;
}

/** Live lines: steps ticking, output indented under its step. */
function printer(): (p: Progress) => void {
  let atLineStart = true;
  return (p) => {
    switch (p.type) {
      case 'release':
        out(`release ${p.release.id}: ${p.release.service} ${p.release.version} (${p.release.git_sha.slice(0, 7)}) → ${p.release.env}`);
        break;
      case 'step':
        if (!atLineStart) process.stdout.write('\n');
        atLineStart = true;
        if (p.state === 'running') out(`${yellow('▸')} ${p.name}`);
        else out(`${p.state === 'ok' ? green('✓') : red('✗')} ${p.name}${p.duration_ms !== undefined ? ` (${formatDuration(p.duration_ms)})` : ''}${p.detail ? `: ${p.detail}` : ''}`);
        break;
      case 'output': {
        const lines = p.text.split('\n');
        const text = lines.map((l, i) => (i === 0 && !atLineStart ? l : i === lines.length - 1 && l === '' ? '' : `  │ ${l}`)).join('\n');
        process.stdout.write(text);
        atLineStart = p.text.endsWith('\n');
        break;
      }
      case 'done':
        if (!atLineStart) process.stdout.write('\n');
        break;
      default:
        break;
    }
  };
}

function summary(r: ReleaseDetail, verb: string): void {
  if (r.state === 'failed') out(red(`release ${r.id} failed: ${r.error ?? 'unknown error'}`));
  else if (r.state === 'rolled_back') out(red(`release ${r.id} was rolled back automatically: ${r.error ?? 'unknown reason'}`));
  else out(green(`release ${r.id} (${r.version}) ${verb} ${r.service}/${r.env}`));
}

export function ago(ms: number): string {
  return ms < 1000 ? 'just now' : `${formatDuration(ms)} ago`;
}

export function registerDeployCommands(program: Command, _ctx: CliContext): void {
  const withConn = (c: Command) =>
    c
      .option('--url <url>', 'server URL (env SHIPSHAPE_URL)', env.SHIPSHAPE_URL ?? 'http://127.0.0.1:4600')
      .option('--token <token>', 'API token with write scope (env SHIPSHAPE_TOKEN)', env.SHIPSHAPE_TOKEN)
      .option('--json', 'print the result as JSON');

  const run = async (o: Conn, path: string, body: unknown, verb: string) => {
    const r = await stream(o, path, body, o.json ? () => undefined : printer());
    if (o.json) json(r);
    else summary(r, verb);
    if (r.state === 'failed' || (r.state === 'rolled_back' && verb !== 'serves again on')) process.exitCode = 1;
  };

  withConn(program.command('deploy').description('cut a release from git, gate it, build it, start it and switch to it once healthy'))
    .argument('<service>', 'a service with a deploy: section')
    .option('--env <env>', 'the environment (default: the first listed, e.g. staging)')
    .option('--ref <ref>', 'the git ref to release (default HEAD)')
    .option('--canary <percent>', "start with this share of clients (10%), stepping up through the environment's canary.steps while each step is judged")
    .addHelpText('after', '\nExamples:\n  $ shipshape deploy web                  # HEAD to the first environment\n  $ shipshape deploy web --env production --ref v1.4.2\n  $ shipshape deploy web --env production --canary 10%')
    .action(async (service: string, o: Conn & { env?: string; ref?: string; canary?: string }) => {
      try {
        if (o.canary !== undefined && !/^\s*\d{1,2}\s*%?\s*$/.test(o.canary)) throw new CliError(`expected a canary share like 10%, got "${o.canary}"`, 2);
        await run(o, `/api/v1/deploy/${enc(service)}/deploys`, { ...(o.env ? { env: o.env } : {}), ...(o.ref ? { ref: o.ref } : {}), ...(o.canary ? { canary: o.canary.trim() } : {}) }, 'is live on');
      } catch (e) {
        fail(e);
      }
    });

  withConn(program.command('promote').description('start the build of a release in another environment (staging → production)'))
    .argument('<service>')
    .argument('<release>', 'the release id (shipshape releases <service>)')
    .requiredOption('--to <env>', 'the environment to promote to, e.g. production')
    .action(async (service: string, release: string, o: Conn & { to: string }) => {
      try {
        if (!/^[1-9][0-9]{0,14}$/.test(release)) throw new CliError(`expected a release id like 12, got "${release}"`, 2);
        await run(o, `/api/v1/deploy/${enc(service)}/releases/${release}/promote`, { to: o.to }, 'is live on');
      } catch (e) {
        fail(e);
      }
    });

  withConn(program.command('rollback').description('serve the previous release again (instant while it is warm), or the one named'))
    .argument('<service>')
    .argument('[release]', 'the release to go back to (default: the one that served before)')
    .option('--env <env>', 'the environment (default: the last listed, e.g. production)')
    .action(async (service: string, release: string | undefined, o: Conn & { env?: string }) => {
      try {
        if (release !== undefined && !/^[1-9][0-9]{0,14}$/.test(release)) throw new CliError(`expected a release id like 12, got "${release}"`, 2);
        await run(o, `/api/v1/deploy/${enc(service)}/rollback`, { ...(o.env ? { env: o.env } : {}), ...(release ? { release: Number(release) } : {}) }, 'serves again on');
      } catch (e) {
        fail(e);
      }
    });

  withConn(program.command('releases').description('list the releases of a service, newest first (id, version, git sha, author, env, state, age)'))
    .argument('<service>')
    .option('--env <env>', 'only this environment')
    .option('--limit <n>', 'at most this many', '20')
    .action(async (service: string, o: Conn & { env?: string; limit: string }) => {
      try {
        const q = new URLSearchParams({ limit: o.limit });
        if (o.env) q.set('env', o.env);
        const { items } = await callServer<{ items: Release[] }>(o, 'GET', `/api/v1/deploy/${enc(service)}/releases?${q}`, { scope: 'read' });
        if (o.json) {
          json(items);
          return;
        }
        if (items.length === 0) {
          out(`no releases of ${service} yet (shipshape deploy ${service})`);
          return;
        }
        // driver: command releases also name their deployment's URL
        const urls = items.some((r) => r.deployment_url);
        const table = new Table({ head: ['id', 'version', 'sha', 'author', 'env', 'state', 'age', ...(urls ? ['url'] : [])], style: { head: [], border: [] } });
        const paint = (s: string) => (s === 'live' ? green(s) : s === 'failed' || s === 'rolled_back' ? red(s) : s === 'running' || s === 'warm' ? yellow(s) : s);
        for (const r of items) table.push([String(r.id), r.version, r.git_sha.slice(0, 7), r.author.replace(/\s*<.*>$/, ''), r.env, paint(r.state), ago(r.age_ms), ...(urls ? [r.deployment_url ?? ''] : [])]);
        out(table.toString());
      } catch (e) {
        fail(e);
      }
    });

  withConn(program.command('down').description("take a service's environments down: the proxy stops listening and the live and warm releases stop (they keep running across Shipshape restarts otherwise)"))
    .argument('<service>')
    .option('--env <env>', 'only this environment (default: every one of the service)')
    .addHelpText('after', '\nExamples:\n  $ shipshape down web --env staging\n  $ shipshape down web              # every environment; the proxy daemon exits when none is left')
    .action(async (service: string, o: Conn & { env?: string }) => {
      try {
        const r = await callServer<{ down: { service: string; env: string; stopped: number[] }[] }>(o, 'POST', `/api/v1/deploy/${enc(service)}/down`, { body: o.env ? { env: o.env } : {}, scope: 'admin' });
        if (o.json) json(r);
        else for (const d of r.down) out(`${d.service}/${d.env} is down${d.stopped.length ? ` (stopped release${d.stopped.length > 1 ? 's' : ''} ${d.stopped.join(', ')})` : ''}`);
      } catch (e) {
        fail(e);
      }
    });

  withConn(program.command('lock').description('stop deploys to a service/environment until unlocked (or the lock expires)'))
    .argument('<service>')
    .option('--env <env>', 'the environment (default: the last listed, e.g. production)')
    .option('--reason <text>', 'why (shown to whoever tries to deploy)', 'locked by hand')
    .option('--for <duration>', 'expire after this', '24h')
    .action(async (service: string, o: Conn & { env?: string; reason: string; for: string }) => {
      try {
        const l = await callServer<DeployLock>(o, 'PUT', `/api/v1/deploy/${enc(service)}/lock`, { body: { ...(o.env ? { env: o.env } : {}), reason: o.reason, for: o.for }, scope: 'write' });
        if (o.json) json(l);
        else out(`${l.service}/${l.env} locked by ${l.owner} until ${l.expires_at}: ${l.reason}`);
      } catch (e) {
        fail(e);
      }
    });

  withConn(program.command('unlock').description('remove the deploy lock of a service/environment'))
    .argument('<service>')
    .option('--env <env>', 'the environment (default: the last listed, e.g. production)')
    .action(async (service: string, o: Conn & { env?: string }) => {
      try {
        const q = o.env ? `?env=${enc(o.env)}` : '';
        const r = await callServer<{ unlocked: DeployLock | null }>(o, 'DELETE', `/api/v1/deploy/${enc(service)}/lock${q}`, { scope: 'write' });
        if (o.json) json(r);
        else out(r.unlocked ? `${r.unlocked.service}/${r.unlocked.env} unlocked (was locked by ${r.unlocked.owner}: ${r.unlocked.reason})` : `${service} was not locked`);
      } catch (e) {
        fail(e);
      }
    });
}

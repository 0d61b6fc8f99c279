/**
 * `shipshape env push <service> --env E --to vercel|netlify`: make a hosted platform's variables for
 * one environment equal to the encrypted store's, through the platform's own CLI, run by the server
 * (which holds the master key; the CLI authenticates with VERCEL_TOKEN / NETLIFY_AUTH_TOKEN from the
 * server's environment, as the deploy module's command driver does).
 *
 * - Vercel: `vercel env ls <environment>` lists the names (values are not shown); `vercel env add
 *   <NAME> <environment>` takes the value on **stdin**, so it is never in an argv (`--force` when the
 *   name is already there: an in-place update); `vercel env rm <NAME> <environment> --yes` removes.
 *   Vercel does not show values, so what is "changed" is what this store has not sent at its current
 *   version (table env_pushes).
 * - Netlify: `netlify env:list --json --context <ctx>` lists names and values (compared directly);
 *   `netlify env:set <KEY> <value> --context <ctx> --force` sets — the value is on argv, as Netlify's
 *   CLI has no other per-context way (`env:import` applies to every context) — and `netlify
 *   env:unset <KEY> --context <ctx> --force` removes.
 *
 * The CLI runs without Shipshape's own SHIPSHAPE_* variables, one call at a time; the first failure
 * stops the push, and the result says what was done, what failed and what was not attempted. No
 * value reaches the result, the event or an error message: the CLIs' output is only read for the
 * list, and a failure's stderr is quoted with every stored value cut out (Netlify's env:set prints
 * the value it set on stdout, which is never read).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { ServiceError } from '../core/errors.js';
import { PLATFORM_CLI, type Platform } from '../core/platforms.js';
import { runTool, type ToolRun } from '../core/tool.js';
import type { EnvPushTargetConfig } from './config.js';
import { VAR_NAME_RE, type EnvStore } from './store.js';
import type { EnvPushChange, EnvPushResult } from './types.js';

const OUTPUT_LIMIT = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT = 120_000;

/** Thrown by a platform call that failed; its message names the command (never a value). */
class PlatformError extends Error {}

/** One call of the platform's CLI (its own process group, without SHIPSHAPE_*, value on stdin). */
async function runCli(bin: string, args: string[], o: { cwd: string; stdin: string; timeoutMs: number }): Promise<ToolRun> {
  try {
    return await runTool(bin, args, { cwd: o.cwd, stdin: o.stdin, timeoutMs: o.timeoutMs, maxStdout: OUTPUT_LIMIT });
  } catch (e) {
    throw (e as NodeJS.ErrnoException).code === 'ENOENT' ? new PlatformError(`${bin} is not installed (not on the server's PATH, or no such file)`) : e;
  }
}

/** Cut every stored value (and each line of a multi-line one) out of a CLI's output. */
function redactor(values: string[]): (text: string) => string {
  const parts = new Set<string>();
  for (const v of values) {
    if (v.length >= 3) parts.add(v);
    for (const line of v.split(/\r?\n/)) if (line.trim().length >= 3) parts.add(line.trim());
  }
  const sorted = [...parts].sort((a, b) => b.length - a.length);
  return (text) => sorted.reduce((t, p) => t.split(p).join('[value]'), text);
}

/** What a failed CLI said on stderr, in a line or two (colour codes and spinners out). */
function reason(r: ToolRun, redact: (t: string) => string, timeoutMs: number): string {
  if (r.timedOut) return `timed out after ${Math.round(timeoutMs / 1000)}s (killed)`;
  // eslint-disable-next-line no-control-regex
  const lines = redact(r.stderr.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '')).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => /error|fail|not found|denied|invalid|unauthori[sz]ed|forbidden/i.test(l));
  const said = (errors.length ? errors : lines).slice(-2).join(' ').slice(0, 500);
  return `exit ${r.code ?? 'by a signal'}${said ? `: ${said}` : ' (nothing on stderr)'}`;
}

/** A platform's CLI for one service: list, set, remove, each one call. */
interface Adapter {
  /** the names on the platform for target, with their values when the platform shows them */
  list(target: string): Promise<Map<string, string | undefined>>;
  set(name: string, value: string, target: string, exists: boolean): Promise<void>;
  remove(name: string, target: string): Promise<void>;
  /** why a value cannot be sent exactly, if it cannot */
  cannotSend?(value: string): string | undefined;
}

interface CliTarget {
  bin: string;
  args: string[];
  cwd: string;
  timeoutMs: number;
  redact: (t: string) => string;
}

async function call(t: CliTarget, args: string[], what: string, stdin = ''): Promise<ToolRun> {
  const r = await runCli(t.bin, [...t.args, ...args], { cwd: t.cwd, stdin, timeoutMs: t.timeoutMs });
  if (r.code !== 0 || r.timedOut) throw new PlatformError(`${what} failed (${reason(r, t.redact, t.timeoutMs)})`);
  return r;
}

/**
 * The names in `vercel env ls <environment>`'s table on stdout (`name  value  environments  created`,
 * a row per variable; nothing at all when there are none), or in its `--format json` answer
 * (`{ envs: [{ key, … }] }`) when the configured args ask for that.
 */
export function parseVercelLs(stdout: string): Map<string, undefined> {
  const names = new Map<string, undefined>();
  const text = stdout.trim();
  if (text.startsWith('{')) {
    const j = JSON.parse(text) as { envs?: { key?: unknown }[] };
    for (const e of j.envs ?? []) if (typeof e.key === 'string') names.set(e.key, undefined);
    return names;
  }
  let header = false;
  for (const line of text.split('\n')) {
    const cells = line.trim().split(/\s+/);
    if (!header) {
      header = cells[0] === 'name' && cells[1] === 'value';
      continue;
    }
    if (cells[0] && VAR_NAME_RE.test(cells[0])) names.set(cells[0], undefined);
  }
  return names;
}

function vercel(t: CliTarget): Adapter {
  const name = t.bin === PLATFORM_CLI.vercel ? 'vercel' : t.bin;
  return {
    async list(target) {
      const r = await call(t, ['env', 'ls', target], `${name} env ls ${target}`);
      try {
        return parseVercelLs(r.stdout);
      } catch {
        throw new PlatformError(`${name} env ls ${target} printed something that is neither its table nor JSON`);
      }
    },
    async set(key, value, target, exists) {
      // the value on stdin only; --force makes an existing one an in-place update (no moment without it)
      await call(t, ['env', 'add', key, target, ...(exists ? ['--force'] : [])], `${name} env add ${key} ${target}`, value);
    },
    async remove(key, target) {
      await call(t, ['env', 'rm', key, target, '--yes'], `${name} env rm ${key} ${target}`);
    },
    cannotSend(value) {
      // vercel env add strips one trailing line break from a one-line stdin value
      if (/\r?\n$/.test(value) && !/[\r\n]/.test(value.replace(/\r?\n$/, ''))) return 'it is one line ending in a line break, which `vercel env add` strips from its stdin';
      return undefined;
    },
  };
}

function netlify(t: CliTarget): Adapter {
  const name = t.bin === PLATFORM_CLI.netlify ? 'netlify' : t.bin;
  return {
    async list(target) {
      const r = await call(t, ['env:list', '--json', '--context', target], `${name} env:list --context ${target}`);
      let j: unknown;
      try {
        j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
      } catch {
        throw new PlatformError(`${name} env:list --json --context ${target} did not print JSON`);
      }
      if (!j || typeof j !== 'object' || Array.isArray(j)) throw new PlatformError(`${name} env:list --json --context ${target} did not print an object of variables`);
      return new Map(Object.entries(j as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? v : undefined]));
    },
    async set(key, value, target) {
      // Netlify's CLI takes the value on argv only; `--` so a value starting with "-" is not an option
      await call(t, ['env:set', '--context', target, '--force', '--', key, value], `${name} env:set ${key} --context ${target}`);
    },
    async remove(key, target) {
      await call(t, ['env:unset', '--context', target, '--force', '--', key], `${name} env:unset ${key} --context ${target}`);
    },
  };
}

export interface PushOptions {
  dryRun?: boolean;
  prune?: boolean;
}

/** Runs pushes; one at a time per service, environment and platform. */
export class EnvPusher {
  private readonly running = new Set<string>();

  constructor(private readonly store: EnvStore) {}

  async push(service: string, env: string, platform: Platform, actor: string, opts: PushOptions = {}): Promise<EnvPushResult> {
    this.store.target(service, env);
    const lock = `${service}/${env}/${platform}`;
    if (this.running.has(lock)) throw new ServiceError('busy', `a push of ${service}/${env} to ${platform} is already running`);
    this.running.add(lock);
    try {
      return await this.run(service, env, platform, actor, opts);
    } finally {
      this.running.delete(lock);
    }
  }

  private async run(service: string, env: string, platform: Platform, actor: string, opts: PushOptions): Promise<EnvPushResult> {
    const { file, env: envCfg } = this.store.configOf(service);
    const cfg: Partial<EnvPushTargetConfig> = envCfg?.push?.[platform] ?? {};
    const base = dirname(file);
    const bin = cfg.bin === undefined ? PLATFORM_CLI[platform] : cfg.bin.includes('/') && !isAbsolute(cfg.bin) ? resolve(base, cfg.bin) : cfg.bin;
    const target = cfg.environments?.[env] ?? env;
    const values = await this.store.pullVersions(service, env);
    const redact = redactor(values.map((v) => v.value));
    const cli: CliTarget = { bin, args: cfg.args ?? [], cwd: cfg.cwd ? resolve(base, cfg.cwd) : base, timeoutMs: cfg.timeout ?? DEFAULT_TIMEOUT, redact };
    const adapter = platform === 'vercel' ? vercel(cli) : netlify(cli);
    const result: EnvPushResult = { service, env, platform, target, dry_run: opts.dryRun === true, prune: opts.prune === true, ok: true, changes: [], unchanged: [], kept: [], error: null };

    for (const v of values) {
      const why = adapter.cannotSend?.(v.value);
      if (why) throw new ServiceError('invalid', `${v.name} of ${service}/${env} cannot be pushed to ${platform} exactly: ${why} (nothing was pushed)`);
    }

    let there: Map<string, string | undefined>;
    try {
      there = await adapter.list(target);
    } catch (e) {
      if (!(e instanceof PlatformError)) throw e;
      return { ...result, ok: false, error: `${platform}: ${e.message}; nothing was changed` };
    }
    const pushed = await this.store.pushedVersions(service, env, platform);
    const inStore = new Set(values.map((v) => v.name));
    const plan: { change: EnvPushChange; run: () => Promise<void>; record: number | null }[] = [];
    for (const v of values) {
      if (!there.has(v.name)) {
        plan.push({ change: { name: v.name, action: 'add', status: 'planned' }, run: () => adapter.set(v.name, v.value, target, false), record: v.version });
        continue;
      }
      const shown = there.get(v.name);
      const same = shown !== undefined ? shown === v.value : pushed.get(v.name) === v.version;
      if (same) {
        result.unchanged.push(v.name);
        // a value found equal (Netlify shows them): remembered as sent
        if (!result.dry_run && pushed.get(v.name) !== v.version) await this.store.recordPushed(service, env, platform, v.name, v.version, actor);
      } else plan.push({ change: { name: v.name, action: 'update', status: 'planned' }, run: () => adapter.set(v.name, v.value, target, true), record: v.version });
    }
    for (const name of [...there.keys()].filter((n) => !inStore.has(n)).sort()) {
      if (opts.prune) plan.push({ change: { name, action: 'remove', status: 'planned' }, run: () => adapter.remove(name, target), record: null });
      else result.kept.push(name);
    }
    result.changes = plan.map((p) => p.change);
    if (result.dry_run || plan.length === 0) return result;

    for (const p of plan) {
      if (result.error) {
        p.change.status = 'not_attempted';
        continue;
      }
      try {
        await p.run();
        p.change.status = 'done';
        await this.store.recordPushed(service, env, platform, p.change.name, p.record, actor);
      } catch (e) {
        if (!(e instanceof PlatformError)) throw e;
        p.change.status = 'failed';
        // what is on the platform is not known any more: the next push sends it again
        if (p.record !== null) await this.store.recordPushed(service, env, platform, p.change.name, null, actor);
        result.ok = false;
        result.error = `${platform}: ${p.change.action === 'remove' ? 'removing' : 'setting'} ${p.change.name} failed: ${e.message}`;
      }
    }
    const names = (action: EnvPushChange['action'], status: EnvPushChange['status']) => result.changes.filter((c) => c.action === action && c.status === status).map((c) => c.name);
    await this.store.appendEvent({
      type: 'env.pushed',
      actor,
      subject: `service:${service}`,
      data: {
        service,
        env,
        platform,
        target,
        prune: result.prune,
        ok: result.ok,
        added: names('add', 'done'),
        updated: names('update', 'done'),
        removed: names('remove', 'done'),
        failed: result.changes.find((c) => c.status === 'failed')?.name ?? null,
        not_attempted: result.changes.filter((c) => c.status === 'not_attempted').map((c) => c.name),
      },
    });
    return result;
  }
}

/**
 * The command driver: a hosted platform (Vercel, Netlify) deploys, promotes, rolls back and lists
 * deployments through its CLI. Each is a configured shell command run in the release directory;
 * the deploy command's output is parsed for the deployment's id and URL, which the release
 * records and later commands get as `{id}` / `{url}`.
 *
 * The presets follow the CLIs' documented behaviour:
 * - `vercel deploy --prebuilt --yes` prints the deployment URL on stdout (progress and the
 *   "Inspect:" / "Preview:" lines go to stderr); `vercel promote <url> --yes` points production at
 *   it, `vercel rollback <url> --yes` points production back at an earlier one, `vercel ls` lists.
 * - `netlify deploy --json` creates a draft deploy and prints one JSON object with `deploy_id` and
 *   `deploy_url`; `netlify api restoreSiteDeploy` publishes a deploy (promotion and rollback alike),
 *   `netlify api listSiteDeploys` lists (both read the site from NETLIFY_SITE_ID).
 */
import { PLATFORM_CLI, type Platform } from '../core/platforms.js';
import type { CommandConfig } from './config.js';
import { runCommand, type RunResult } from './run.js';

/** One deployment on a hosted platform. */
export interface Deployment {
  id: string;
  url: string;
}

/** The commands of a command-driver service after its preset is applied. */
export interface ResolvedCommands {
  deploy: string;
  promote: string;
  rollback: string;
  list: string | null;
  format: 'text' | 'json';
  url: string | null;
  id: string | null;
  /** a preset's id pattern may find nothing (then the URL's host name is the id); a configured one must match */
  idRequired: boolean;
  timeout: number;
}

const NETLIFY = PLATFORM_CLI.netlify;
const VERCEL = PLATFORM_CLI.vercel;
const NETLIFY_PUBLISH = `${NETLIFY} api restoreSiteDeploy --data "{\\"site_id\\":\\"$NETLIFY_SITE_ID\\",\\"deploy_id\\":\\"{id}\\"}"`;

/** The preset commands (docs/deploy.md, "Command driver"). */
export const PRESETS: Record<Platform, Omit<ResolvedCommands, 'timeout' | 'idRequired'>> = {
  vercel: {
    deploy: `${VERCEL} deploy --prebuilt --yes`,
    promote: `${VERCEL} promote {url} --yes`,
    rollback: `${VERCEL} rollback {url} --yes`,
    list: `${VERCEL} ls`,
    format: 'text',
    url: null,
    // stderr: "🔍  Inspect: https://vercel.com/<team>/<project>/<deployment id> [1s]"
    id: 'Inspect:\\s+https://vercel\\.com/\\S+/(\\w+)',
  },
  netlify: {
    deploy: `${NETLIFY} deploy --json`,
    promote: NETLIFY_PUBLISH,
    rollback: NETLIFY_PUBLISH,
    list: `${NETLIFY} api listSiteDeploys --data "{\\"site_id\\":\\"$NETLIFY_SITE_ID\\"}"`,
    format: 'json',
    url: 'deploy_url',
    id: 'deploy_id',
  },
};

/** A service's commands: its preset, overridden by the keys it gives (config validation ensures deploy, promote and rollback exist). */
export function resolveCommands(c: CommandConfig): ResolvedCommands {
  const p = c.preset ? PRESETS[c.preset] : undefined;
  const format = c.output.format ?? p?.format ?? 'text';
  // a preset's parsing applies only when the format is the preset's own
  const same = p !== undefined && format === p.format;
  return {
    deploy: (c.deploy ?? p?.deploy) as string,
    promote: (c.promote ?? p?.promote) as string,
    rollback: (c.rollback ?? p?.rollback) as string,
    list: c.list ?? p?.list ?? null,
    format,
    url: c.output.url ?? (same ? p.url : null),
    id: c.output.id ?? (same ? p.id : null),
    idRequired: c.output.id !== undefined,
    timeout: c.timeout,
  };
}

/**
 * `{id}`, `{url}` and `{env}` in a command become references to environment variables set for it
 * (SHIPSHAPE_DEPLOYMENT_ID, SHIPSHAPE_DEPLOYMENT_URL, SHIPSHAPE_ENV): what a CLI printed is never
 * spliced into a shell command as text.
 */
export function expandPlaceholders(command: string): string {
  return command.replaceAll('{id}', '${SHIPSHAPE_DEPLOYMENT_ID}').replaceAll('{url}', '${SHIPSHAPE_DEPLOYMENT_URL}').replaceAll('{env}', '${SHIPSHAPE_ENV}');
}

/** What an id or URL taken from a CLI's output may look like (no spaces, quotes or glob characters). */
const SAFE = /^[A-Za-z0-9._~:/@%&=+,;!$-]{1,500}$/;
const URL_IN_TEXT = /https?:\/\/[^\s"'<>`\][)(]+/g;

/** Thrown when a deploy command's output does not name a deployment. */
export class ParseError extends Error {}

function pathGet(o: unknown, path: string): unknown {
  let v = o;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function parseJson(stdout: string): unknown {
  const t = stdout.trim();
  try {
    return JSON.parse(t);
  } catch {
    // a CLI that prints a line before its JSON (an update notice): the outermost object
    const a = t.indexOf('{');
    const b = t.lastIndexOf('}');
    if (a >= 0 && b > a) {
      try {
        return JSON.parse(t.slice(a, b + 1));
      } catch {
        /* not JSON either */
      }
    }
    return undefined;
  }
}

function lastMatch(text: string, pattern: string): string | undefined {
  let found: string | undefined;
  for (const m of text.matchAll(new RegExp(pattern, 'g'))) found = m[1] ?? m[0];
  return found;
}

function checkUrl(url: string, what: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ParseError(`${what} ${JSON.stringify(url.slice(0, 200))} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ParseError(`${what} ${JSON.stringify(url.slice(0, 200))} is not an http(s) URL`);
  if (!SAFE.test(url)) throw new ParseError(`${what} ${JSON.stringify(url.slice(0, 200))} has characters a deployment URL does not have`);
  return url.replace(/\/+$/, '');
}

/**
 * The deployment a deploy command's output names. Text: the URL is the last http(s) URL on stdout
 * (or the last match of `output.url`, on stdout, else on stderr); the id is the `output.id` match,
 * else the URL's host name (Vercel accepts it wherever it takes a deployment). JSON: stdout is one
 * object, read at the `output.url` / `output.id` keys.
 */
export function parseDeployment(cmds: ResolvedCommands, stdout: string, stderr: string): Deployment {
  let url: string | undefined;
  let id: string | undefined;
  if (cmds.format === 'json') {
    const o = parseJson(stdout);
    if (o === undefined || typeof o !== 'object' || o === null) throw new ParseError(`the output is not JSON (output.format: json), so it names no deployment: ${JSON.stringify(stdout.trim().slice(0, 200))}`);
    const urlKey = cmds.url ?? 'url';
    const idKey = cmds.id ?? 'id';
    const u = pathGet(o, urlKey);
    const i = pathGet(o, idKey);
    if (typeof u !== 'string' || !u) throw new ParseError(`the JSON output has no deployment URL at "${urlKey}" (output.url); its keys: ${Object.keys(o).join(', ') || 'none'}`);
    url = u;
    if (typeof i === 'string' || typeof i === 'number') id = String(i);
    else throw new ParseError(`the JSON output has no deployment id at "${idKey}" (output.id); its keys: ${Object.keys(o).join(', ') || 'none'}`);
  } else {
    url = cmds.url ? (lastMatch(stdout, cmds.url) ?? lastMatch(stderr, cmds.url)) : [...stdout.matchAll(URL_IN_TEXT)].pop()?.[0];
    if (url === undefined) {
      const where = cmds.url ? `matching output.url /${cmds.url}/` : 'on stdout';
      throw new ParseError(`no deployment URL ${where} in the output of the deploy command (stdout: ${JSON.stringify(stdout.trim().slice(-200))})`);
    }
    if (cmds.id) {
      id = lastMatch(stdout, cmds.id) ?? lastMatch(stderr, cmds.id);
      if (id === undefined && cmds.idRequired) throw new ParseError(`no deployment id matching output.id /${cmds.id}/ in the output of the deploy command`);
    }
  }
  const clean = checkUrl(url, 'the deployment URL');
  id ??= new URL(clean).host;
  if (!SAFE.test(id)) throw new ParseError(`the deployment id ${JSON.stringify(id.slice(0, 200))} has characters a deployment id does not have`);
  return { id, url: clean };
}

/** How a command of the driver went: the run, and for a deploy the deployment its output names. */
export interface CommandOutcome {
  run: RunResult;
  /** the command as run, with the placeholders in it */
  command: string;
  deployment?: Deployment;
  /** why the step failed (exit status, timeout, output without a deployment) */
  error?: string;
}

/** The options every command of the driver runs with. */
export interface CommandRunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  onOutput?: (text: string) => void;
  onSpawn?: (pid: number) => void;
  signal?: AbortSignal;
}

/**
 * What the pipeline asks of a hosted platform: make a deployment from a release directory, make
 * one serve an environment (a promotion, a rollback), list what the platform has.
 */
export interface PlatformDriver {
  deploy(env: string, o: CommandRunOptions): Promise<CommandOutcome>;
  promote(d: Deployment, env: string, o: CommandRunOptions): Promise<CommandOutcome>;
  rollback(d: Deployment, env: string, o: CommandRunOptions): Promise<CommandOutcome>;
  list(o: CommandRunOptions): Promise<CommandOutcome | null>;
}

function describeExit(r: RunResult, timeout: number): string | undefined {
  if (r.timedOut) return `timed out after ${Math.round(timeout / 1000)}s (killed)`;
  if (r.exitCode !== 0) return `exited with ${r.exitCode ?? r.signal ?? 'an error'}`;
  return undefined;
}

/** The command driver over a service's configured (or preset) commands. */
export class CommandDriver implements PlatformDriver {
  readonly cmds: ResolvedCommands;
  constructor(c: CommandConfig) {
    this.cmds = resolveCommands(c);
  }

  private async run(command: string, env: string, o: CommandRunOptions, d?: Deployment): Promise<CommandOutcome> {
    const vars: Record<string, string> = { SHIPSHAPE_ENV: env, ...(d ? { SHIPSHAPE_DEPLOYMENT_ID: d.id, SHIPSHAPE_DEPLOYMENT_URL: d.url } : {}) };
    const run = await runCommand(expandPlaceholders(command), { cwd: o.cwd, env: { ...o.env, ...vars }, timeoutMs: this.cmds.timeout, onOutput: o.onOutput, onSpawn: o.onSpawn, signal: o.signal });
    return { run, command, error: describeExit(run, this.cmds.timeout) };
  }

  async deploy(env: string, o: CommandRunOptions): Promise<CommandOutcome> {
    const r = await this.run(this.cmds.deploy, env, o);
    if (r.error) return r;
    try {
      // stderr is what the output holds beyond stdout (the run keeps them interleaved)
      return { ...r, deployment: parseDeployment(this.cmds, r.run.stdout, r.run.output) };
    } catch (e) {
      if (e instanceof ParseError) return { ...r, error: e.message };
      throw e;
    }
  }

  promote(d: Deployment, env: string, o: CommandRunOptions): Promise<CommandOutcome> {
    return this.run(this.cmds.promote, env, o, d);
  }

  rollback(d: Deployment, env: string, o: CommandRunOptions): Promise<CommandOutcome> {
    return this.run(this.cmds.rollback, env, o, d);
  }

  async list(o: CommandRunOptions): Promise<CommandOutcome | null> {
    return this.cmds.list === null ? null : this.run(this.cmds.list, '', o);
  }
}

/** Helpers shared by the CLI commands: errors and exit codes, output, colours, the store. */
import { pino, type Logger } from 'pino';
import type { Problem } from './api-types.js';
import { ConfigError } from './config/load.js';
import { StoreError } from './store/db.js';
import { MigrationError } from './store/migrate.js';
import { WeakSecretError } from './tokens.js';

export const env = process.env;
export const defaultConfig = () => env.SHIPSHAPE_CONFIG ?? 'shipshape.yaml';
export const defaultDataDir = () => env.SHIPSHAPE_DATA_DIR ?? '.shipshape';

export function makeLogger(): Logger {
  const level = env.SHIPSHAPE_LOG_LEVEL ?? 'info';
  const pretty = process.stdout.isTTY && env.SHIPSHAPE_LOG_FORMAT !== 'json';
  return pretty ? pino({ level, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } }) : pino({ level });
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function fail(e: unknown): never {
  if (e instanceof ConfigError) process.stderr.write(`${e.message}\n`);
  else if (e instanceof CliError || e instanceof StoreError || e instanceof MigrationError || e instanceof WeakSecretError) process.stderr.write(`shipshape: ${e.message}\n`);
  else process.stderr.write(`shipshape: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(e instanceof CliError ? e.exitCode : 1);
}


export const out = (s: string) => process.stdout.write(`${s}\n`);
export const json = (v: unknown) => out(JSON.stringify(v, null, 2));
export const green = (s: string) => (process.stdout.isTTY ? `\x1b[32m${s}\x1b[0m` : s);
export const red = (s: string) => (process.stdout.isTTY ? `\x1b[31m${s}\x1b[0m` : s);
export const yellow = (s: string) => (process.stdout.isTTY ? `\x1b[33m${s}\x1b[0m` : s);
export const paint = (state: string) => (state === 'up' || state === 'ok' ? green(state) : state === 'down' || state === 'FAIL' ? red(state) : yellow(state));


/** A running server the CLI talks to (`--url` / SHIPSHAPE_URL, `--token` / SHIPSHAPE_TOKEN). */
export interface ServerConn {
  url: string;
  token?: string;
}

/**
 * One request to a running server's API. No token, an unreachable server and a problem answer
 * each become a CliError that says what to do (a 400 names each bad field and exits 2).
 */
export async function callServer<T>(c: ServerConn, method: string, path: string, opts: { body?: unknown; text?: boolean; scope?: string } = {}): Promise<T> {
  if (!c.token) throw new CliError(`this needs an API token: pass --token or set SHIPSHAPE_TOKEN (make one with \`shipshape token create --scope ${opts.scope ?? 'read'}\`)`, 2);
  let res: Response;
  try {
    res = await fetch(new URL(path, c.url), {
      method,
      headers: { authorization: `Bearer ${c.token}`, ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new CliError(`cannot reach ${c.url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message} (is \`shipshape up\` running?)`);
  }
  if (!res.ok) {
    const p = (await res.json().catch(() => ({}))) as Partial<Problem>;
    const fields = p.errors?.length ? `\n${p.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}` : '';
    throw new CliError(`${c.url} answered ${res.status} ${p.title ?? res.statusText}: ${p.detail ?? ''}${fields}`, res.status === 400 ? 2 : 1);
  }
  return (opts.text ? await res.text() : await res.json()) as T;
}

/**
 * `shipshape headers <url>`, `shipshape probe cors <url>`, `shipshape probe ratelimit <url>` and
 * `shipshape audit deps [path]` (docs/websec.md). They work without a running server.
 *
 * Exit codes: 0 ok; 1 when the result is below what was asked (--min-grade, --level, a high or
 * medium CORS finding) or the target could not be reached; 2 on bad input or a refused target.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import Table from 'cli-table3';
import { CliError, defaultConfig, fail, green, json, out, red, yellow } from '../core/cli.js';
import { formatDuration, parseDuration } from '../core/config/units.js';
import type { CliContext } from '../core/module.js';
import { auditDeps, SEVERITIES, type AuditSeverity } from './audit.js';
import { probeCors } from './cors.js';
import { failing, gradeAtLeast, gradeHeaders, isGrade } from './headers.js';
import { GRADES } from './observatory.js';
import { configHosts, MAX_DURATION_MS, MAX_RPS, probeRateLimit, refusal } from './ratelimit.js';
import { closeAgents } from './retrieve.js';

const paintGrade = (g: string) => (g.startsWith('A') ? green(g) : g.startsWith('B') || g.startsWith('C') ? yellow(g) : red(g));

function durationOpt(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new CliError(`${flag}: expected a duration like 10s, got "${text}"`, 2);
  return ms;
}

async function finish<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    await closeAgents();
  }
}

export function registerWebsecCommands(program: Command, ctx: CliContext): void {
  program
    .command('headers <url>')
    .description('grade a site\'s security headers as the MDN HTTP Observatory does (score, A+…F, each test with its fix); exits 1 below --min-grade')
    .option('--json', 'print the report as JSON')
    .option('--min-grade <grade>', `exit 1 when the grade is below this (${GRADES.join(', ')})`)
    .option('--timeout <duration>', 'give up after this long', '10s')
    .action(async (url: string, o: { json?: boolean; minGrade?: string; timeout: string }) => {
      try {
        if (o.minGrade !== undefined && !isGrade(o.minGrade)) throw new CliError(`--min-grade: expected one of ${GRADES.join(', ')}, got "${o.minGrade}"`, 2);
        const timeoutMs = durationOpt(o.timeout, '--timeout');
        let r;
        try {
          r = await finish(() => gradeHeaders(url, { timeoutMs }));
        } catch (e) {
          throw new CliError((e as Error).message, /not a URL|only http|credentials|required/.test((e as Error).message) ? 2 : 1);
        }
        const below = o.minGrade !== undefined && !gradeAtLeast(r.grade, o.minGrade);
        if (o.json) json({ ...r, ...(o.minGrade ? { minGrade: o.minGrade.toUpperCase(), passed: !below } : {}) });
        else {
          out(`${r.finalUrl}  ${r.status}`);
          if (r.redirects.length > 1) out(`redirects: ${r.redirects.join(' → ')}`);
          if (r.httpRedirects.length > 1) out(`over http: ${r.httpRedirects.join(' → ')}`);
          const t = new Table({ head: ['test', 'result', 'score', 'fix'], wordWrap: true, colWidths: [26, 52, 7, 60] });
          for (const x of r.tests) t.push([x.title, `${x.informational ? '· ' : x.pass ? '✓ ' : '✗ '}${x.result}`, x.informational ? '-' : x.scoreModifier > 0 ? `+${x.scoreModifier}` : String(x.scoreModifier), x.fix]);
          out(t.toString());
          const worst = failing(r).slice(0, 3).map((x) => x.result);
          out(`grade ${paintGrade(r.grade)}  score ${r.score}/100${worst.length ? `  (${worst.join(', ')})` : ''}`);
          if (below) out(red(`below --min-grade ${o.minGrade?.toUpperCase()}`));
        }
        if (below) process.exitCode = 1;
      } catch (e) {
        fail(e);
      }
    });

  const probe = program.command('probe').description('probe a site as an attacker would: CORS policy, rate limits');
  probe
    .command('cors <url>')
    .description('send hostile Origins (any site, null, look-alikes), with and without credentials, and a preflight; exits 1 on a high or medium finding')
    .option('--json', 'print the report as JSON')
    .option('--timeout <duration>', 'give up after this long', '10s')
    .action(async (url: string, o: { json?: boolean; timeout: string }) => {
      try {
        if (!/^https?:\/\//i.test(url)) throw new CliError(`"${url}": expected an http:// or https:// URL`, 2);
        const timeoutMs = durationOpt(o.timeout, '--timeout');
        let r;
        try {
          r = await finish(() => probeCors(url, { timeoutMs }));
        } catch (e) {
          throw new CliError((e as Error).message, 1);
        }
        const serious = r.findings.filter((f) => f.severity === 'high' || f.severity === 'medium');
        if (o.json) json(r);
        else {
          const t = new Table({ head: ['request', 'status', 'Access-Control-Allow-Origin', 'credentials'] });
          for (const p of r.probes) t.push([`${p.method} Origin: ${p.origin}${p.credentials ? ' (+cookie)' : ''}`, String(p.status), p.allowOrigin ?? '-', p.allowCredentials ? 'true' : '-']);
          out(t.toString());
          if (!r.findings.length) out(green('no CORS problem found: hostile origins are not allowed'));
          for (const f of r.findings) out(`${f.severity === 'high' ? red(f.severity.toUpperCase()) : f.severity === 'medium' ? yellow(f.severity.toUpperCase()) : f.severity.toUpperCase()}  ${f.id}: ${f.title}\n    ${f.detail}\n    fix: ${f.fix}`);
        }
        if (serious.length) process.exitCode = 1;
      } catch (e) {
        fail(e);
      }
    });
  probe
    .command('ratelimit <url>')
    .description(`send a steady stream of GETs and report when 429s (or 503s) start; at most ${MAX_RPS} req/s, ${MAX_DURATION_MS / 1000}s and 5000 requests, only to loopback or hosts named in the config`)
    .requiredOption('--rps <n>', 'requests per second')
    .option('--for <duration>', 'how long', '10s')
    .option('--config <file>', 'the config whose check and deploy URLs name the hosts that may be probed', defaultConfig())
    .option('--json', 'print the report as JSON')
    .action(async (url: string, o: { rps: string; for: string; config: string; json?: boolean }) => {
      try {
        let u: URL;
        try {
          u = new URL(url);
        } catch {
          throw new CliError(`"${url}": expected an http:// or https:// URL`, 2);
        }
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliError(`"${url}": expected an http:// or https:// URL`, 2);
        const rps = Number(o.rps);
        if (!Number.isFinite(rps) || rps <= 0 || rps > MAX_RPS) throw new CliError(`--rps: expected a number from 1 to ${MAX_RPS}, got "${o.rps}"`, 2);
        const durationMs = durationOpt(o.for, '--for');
        if (durationMs > MAX_DURATION_MS) throw new CliError(`--for: at most ${formatDuration(MAX_DURATION_MS)}, got ${o.for}`, 2);
        const hasConfig = existsSync(o.config);
        const hosts = hasConfig ? configHosts(ctx.loadConfig(o.config).raw) : new Set<string>();
        const why = refusal(u, hosts, hasConfig ? o.config : undefined);
        if (why) throw new CliError(why, 2);
        const live = !o.json && process.stderr.isTTY;
        const r = await finish(() =>
          probeRateLimit(u.href, {
            rps,
            durationMs,
            ...(live ? { onProgress: (sent: number, st: Record<string, number>) => process.stderr.write(`\r${sent} sent  ${Object.entries(st).map(([k, v]) => `${k}: ${v}`).join('  ')}   `) } : {}),
          }),
        );
        if (live) process.stderr.write('\n');
        if (o.json) json(r);
        else {
          out(`${r.sent} requests to ${r.url} in ${formatDuration(r.durationMs)} (${r.rps} req/s asked)`);
          out(`statuses: ${Object.entries(r.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
          if (r.firstLimited) out(`first ${r.firstLimited.status} after ${r.firstLimited.request - 1} requests, at ${r.firstLimited.atMs} ms`);
          for (const [k, v] of Object.entries(r.headers)) out(`${k}: ${v}`);
          out(r.verdict);
        }
      } catch (e) {
        fail(e);
      }
    });

  const audit = program.command('audit').description('audits of the project itself');
  audit
    .command('deps [path]')
    .description('run the project\'s package manager audit (npm, pnpm or yarn, by lockfile) and list advisories; exits 1 at --level or above')
    .option('--json', 'print the report as JSON')
    .option('--level <severity>', `fail at this severity or above (${SEVERITIES.join(', ')})`, 'high')
    .action(async (path: string | undefined, o: { json?: boolean; level: string }) => {
      try {
        const level = o.level.toLowerCase();
        if (!(SEVERITIES as readonly string[]).includes(level)) throw new CliError(`--level: expected one of ${SEVERITIES.join(', ')}, got "${o.level}"`, 2);
        let r;
        try {
          r = await auditDeps(path ?? '.', { level: level as AuditSeverity });
        } catch (e) {
          throw new CliError((e as Error).message, /not a directory|no lockfile/.test((e as Error).message) ? 2 : 1);
        }
        if (o.json) json(r);
        else {
          out(`${r.manager} audit of ${r.dir}: ${SEVERITIES.map((s) => `${r.counts[s]} ${s}`).join(', ')}`);
          if (r.advisories.length) {
            const t = new Table({ head: ['severity', 'package', 'title', 'fix', 'url'], wordWrap: true, colWidths: [10, 20, 44, 6, 51] });
            for (const a of r.advisories) t.push([a.severity, a.package, a.title, a.fixAvailable ? 'yes' : 'no', a.url]);
            out(t.toString());
          }
          out(r.failing.length ? red(`${r.failing.length} at or above ${r.level}`) : green(`none at or above ${r.level}`));
        }
        if (r.failing.length) process.exitCode = 1;
      } catch (e) {
        fail(e);
      }
    });
}

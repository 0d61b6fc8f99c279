/**
 * `shipshape import …` as users run it (the built bin): YAML on stdout, --out files with mode 0600
 * that are never replaced without --force, --json, exit codes, secrets never printed, and the
 * output accepted by `shipshape validate`.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';

const BIN = resolve('bin/shipshape.js');

function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('SHIPSHAPE_')) delete base[k];
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd, env: { ...base, ...env }, timeout: 60_000 });
}


describe('shipshape import (CLI)', () => {
  it('prints the YAML on stdout and the report on stderr; `shipshape validate` accepts it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-import-cli-'));
    const r = cli(['import', 'gatus', fixture('gatus', 'config.yaml')], dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^# Imported by `shipshape import` from Gatus config\.yaml/);
    expect(r.stderr).toContain('imported 6 checks in 3 services');
    expect(r.stderr).toContain('- endpoint "icmp-ping": icmp:// [endpoints[5].url]: no ping (ICMP) check kind');
    writeFileSync(join(dir, 'shipshape.yaml'), r.stdout);
    const v = cli(['validate', '--config', 'shipshape.yaml'], dir);
    expect(v.stderr).toBe('');
    expect(v.stdout).toBe('shipshape.yaml: ok (3 services, 6 checks)\n');
    expect(v.status).toBe(0);
  });

  it('never prints a secret: not on stdout, not on stderr, not in --json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-import-cli-'));
    for (const args of [[], ['--json']]) {
      const r = cli(['import', 'gatus', fixture('gatus', 'slack.yaml'), ...args], dir);
      expect(r.status).toBe(0);
      expect(r.stdout + r.stderr).not.toContain('hooks.slack.com');
      expect(r.stdout + r.stderr).toContain('SLACK_WEBHOOK_URL');
    }
  });

  it('--out writes the YAML and <out>.env with mode 0600; validate loads them together', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-import-cli-'));
    const r = cli(['import', 'alertmanager', fixture('alertmanager', 'simple.yml'), '--out', 'shipshape.yaml'], dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('imported 0 checks in 0 services, 6 channel(s), 5 receiver(s), 0 alert rule(s) into shipshape.yaml');
    expect(r.stderr).toContain('no equivalent (5):');
    for (const f of ['shipshape.yaml', 'shipshape.yaml.env']) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['shipshape.yaml', 'shipshape.yaml.env']); // no temp file left
    const env = parseDotenv(readFileSync(join(dir, 'shipshape.yaml.env')));
    expect(env).toMatchObject({ TEAM_X_MAILS_SMTP_URL: 'smtp://alertmanager:password@localhost:25', TEAM_DB_PAGER_ROUTING_KEY: '<team-DB-key>' });
    expect(readFileSync(join(dir, 'shipshape.yaml'), 'utf8')).not.toContain('password');
    const v = cli(['validate', '--config', 'shipshape.yaml', '--json'], dir, env);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, warnings: [] });
  });

  it('never replaces an existing --out without --force; with --force it does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-import-cli-'));
    writeFileSync(join(dir, 'shipshape.yaml'), 'mine: true\n');
    const r = cli(['import', 'gatus', fixture('gatus', 'tcp.yaml'), '--out', 'shipshape.yaml'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('shipshape: shipshape.yaml exists; pass --force to replace it\n');
    expect(readFileSync(join(dir, 'shipshape.yaml'), 'utf8')).toBe('mine: true\n');
    const f = cli(['import', 'gatus', fixture('gatus', 'tcp.yaml'), '--out', 'shipshape.yaml', '--force'], dir);
    expect(f.status).toBe(0);
    expect(readFileSync(join(dir, 'shipshape.yaml'), 'utf8')).toContain('host: 127.0.0.1');
    expect(statSync(join(dir, 'shipshape.yaml')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, 'shipshape.yaml.env'))).toBe(false); // nothing secret in that source
  });

  it('refuses before writing anything when only the .env exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-import-cli-'));
    writeFileSync(join(dir, 'out.yaml.env'), 'KEEP=1\n');
    const r = cli(['import', 'gatus', fixture('gatus', 'slack.yaml'), '--out', 'out.yaml'], dir);
    expect(r.status).toBe(1);
    expect(existsSync(join(dir, 'out.yaml'))).toBe(false);
    expect(readFileSync(join(dir, 'out.yaml.env'), 'utf8')).toBe('KEEP=1\n');
  });

  it('--json: { config, unsupported: [{ what, where, why }], env: [names] }', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-import-cli-'));
    const r = cli(['import', 'uptime-kuma', fixture('uptime-kuma', 'backup.json'), '--json', '--service', 'web'], dir);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { config: { services: Record<string, unknown> }; unsupported: { what: string; where: string; why: string }[]; env: string[] };
    expect(Object.keys(out)).toEqual(['config', 'unsupported', 'env']);
    expect(Object.keys(out.config.services)).toEqual(['production', 'web']);
    expect(out.unsupported).toContainEqual({ what: 'monitor "Router" (ping)', where: 'monitorList[id=8].type', why: expect.any(String) });
    expect(out.env).toContain('OPS_SLACK_WEBHOOK_URL');
  });

  it('bad input exits 2 and names the file, line and key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-import-cli-'));
    writeFileSync(join(dir, 'gatus.yaml'), 'endpoints:\n  - name: api\n    url: https://x\n    interval: soon\n');
    const r = cli(['import', 'gatus', 'gatus.yaml'], dir);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('shipshape: gatus.yaml:4: endpoints[0].interval: expected a duration like 30s or 5m, got "soon"\n');
    const missing = cli(['import', 'alertmanager', 'nope.yml'], dir);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe('shipshape: nope.yml: cannot read: no such file\n');
    const service = cli(['import', 'gatus', fixture('gatus', 'tcp.yaml'), '--service', '-bad'], dir);
    expect(service.status).toBe(2);
    expect(service.stderr).toContain('--service: "-bad" is not a service name');
  });
});

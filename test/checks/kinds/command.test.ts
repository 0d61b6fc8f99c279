import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { command } from '../../../src/checks/kinds/command.js';
import type { CheckKind } from '../../../src/checks/types.js';
import { judge, runKind } from '../../helpers/run-kind.js';

const kind = command as unknown as CheckKind;
const dir = mkdtempSync(join(tmpdir(), 'shipshape-cmd-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Whether the process still runs (a killed process waiting to be reaped by init counts as gone). */
function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

describe('command check', () => {
  it('reports exit code 0 and captures stdout and stderr', async () => {
    const input = { run: 'echo "ready: $GREETING"; echo warn >&2', env: { GREETING: 'hello' } };
    const obs = await runKind(kind, input);
    expect(obs.ok).toBe(true);
    expect(obs.values).toMatchObject({ exit_code: 0, signal: null, stdout: 'ready: hello', stderr: 'warn' });
    expect(judge(kind, input, obs, ['stdout contains "ready"']).ok).toBe(true);
  });

  it('reports a non-zero exit, which fails the implied condition unless expected', async () => {
    const obs = await runKind(kind, { run: 'exit 3' });
    expect(obs.ok).toBe(true);
    expect(obs.values.exit_code).toBe(3);
    const verdict = judge(kind, { run: 'exit 3' }, obs);
    expect(verdict.ok).toBe(false);
    expect(verdict.outcomes[0]).toMatchObject({ condition: 'exit_code == 0', ok: false, actual: 'exit_code = 3' });
    expect(judge(kind, { run: 'exit 3', expect_exit: 3 }, obs).ok).toBe(true);
  });

  it('runs argv without a shell, in cwd', async () => {
    const obs = await runKind(kind, { argv: ['sh', '-c', 'pwd; echo "$1"', 'x', 'a b;c'], cwd: dir });
    expect(obs.values.stdout).toBe(`${dir}\na b;c`);
  });

  it('kills the command and its children on timeout', async () => {
    const pidFile = join(dir, 'child.pid');
    const shellPidFile = join(dir, 'shell.pid');
    // the shell starts a background sleep (a grandchild of Shipshape) and then waits on another;
    // both outlast the test timeout, so only the check's timeout can end this run
    const obs = await runKind(kind, { run: `echo $$ > ${shellPidFile}; sleep 120 & echo $! > ${pidFile}; sleep 120` }, { timeoutMs: 400 });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe('timed out after 400ms');
    const shellPid = Number(readFileSync(shellPidFile, 'utf8').trim());
    const childPid = Number(readFileSync(pidFile, 'utf8').trim());
    expect(shellPid).toBeGreaterThan(0);
    expect(childPid).toBeGreaterThan(0);
    await expect.poll(() => alive(shellPid), { timeout: 5000, interval: 20 }).toBe(false);
    await expect.poll(() => alive(childPid), { timeout: 5000, interval: 20 }).toBe(false);
  });

  it('caps captured output at 64 KB', async () => {
    const obs = await runKind(kind, { run: 'head -c 200000 /dev/zero | tr "\\0" x' });
    expect(obs.values.exit_code).toBe(0);
    expect((obs.values.stdout as string).length).toBe(64 * 1024);
    expect(obs.values.stdout_truncated).toBe(true);
  });

  it('says when the program does not exist', async () => {
    const obs = await runKind(kind, { argv: ['/nonexistent/shipshape-probe'] });
    expect(obs.ok).toBe(false);
    expect(obs.error).toBe('command not found: /nonexistent/shipshape-probe');
  });

  it('requires exactly one of run and argv, and describes the command', () => {
    expect(command.spec.safeParse({}).success).toBe(false);
    expect(command.spec.safeParse({ run: 'true', argv: ['true'] }).success).toBe(false);
    expect(command.describe(command.spec.parse({ argv: ['pg_isready', '-d', 'postgres://u:pw@db/x'] }))).toBe('$ pg_isready -d postgres://u:***@db/x');
  });
});

/** `services.<name>.database.backups` schedule, time zone, verify and keep in shipshape.yaml, and `absent(backup.<service>)` rules checked at load. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/modules.js';
import { configErrorOf } from './helpers.js';

const FILE = '/srv/app/shipshape.yaml';

const errorOf = (text: string): string => configErrorOf(text, FILE);

const withBackups = (backups: string, rest = '') => `services:
  web:
    database:
      url: postgres://app@db.internal/app
      backups:
${backups
  .split('\n')
  .map((l) => `        ${l}`)
  .join('\n')}
${rest}`;

describe('database.backups: schedule, timezone, verify, keep', () => {
  it('reads a cron schedule in a time zone, scheduled verification and a grandfather-father-son policy', () => {
    const cfg = parseConfig(withBackups('schedule: "0 3 * * *"\ntimezone: Europe/Berlin\nverify: true\nkeep: { daily: 7, weekly: 4, monthly: 12 }'), FILE, { env: {} });
    expect(cfg.raw.services.web?.database?.backups).toEqual({
      dir: 'backups',
      encrypt: false,
      schedule: '0 3 * * *',
      timezone: 'Europe/Berlin',
      verify: true,
      keep: { last: 0, daily: 7, weekly: 4, monthly: 12, yearly: 0 },
    });
    const own = parseConfig(withBackups('schedule: "15 */6 * * 1-5"\nverify: "30 5 * * 0"\nkeep: { last: 3 }'), FILE, { env: {} });
    expect(own.raw.services.web?.database?.backups).toMatchObject({ schedule: '15 */6 * * 1-5', timezone: 'UTC', verify: '30 5 * * 0', keep: { last: 3, daily: 0 } });
    expect(own.warnings).toEqual([]);
  });

  it('names the file, line and key of a bad schedule, time zone, verify schedule or policy', () => {
    expect(errorOf(withBackups('schedule: "0 25 * * *"'))).toMatch(/shipshape\.yaml:6:\d+: services\.web\.database\.backups\.schedule: "0 25 \* \* \*" is not a cron expression: .*hour/);
    expect(errorOf(withBackups('schedule: "0 0 3 * * *"'))).toMatch(/:6:\d+: services\.web\.database\.backups\.schedule: expected 5 fields \(minute hour day-of-month month day-of-week\), like "0 3 \* \* \*", got 6 .*\(seconds are not supported\)/);
    expect(errorOf(withBackups('schedule: "daily"'))).toMatch(/:6:\d+: services\.web\.database\.backups\.schedule: expected 5 fields/);
    expect(errorOf(withBackups('schedule: "0 3 * * *"\ntimezone: Mars/Olympus'))).toMatch(/:7:\d+: services\.web\.database\.backups\.timezone: expected an IANA time zone/);
    expect(errorOf(withBackups('verify: "every night"'))).toMatch(/:6:\d+: services\.web\.database\.backups\.verify: .*/);
    expect(errorOf(withBackups('keep: { daily: 0 }'))).toMatch(/:6:\d+: services\.web\.database\.backups\.keep: keep at least one backup/);
    expect(errorOf(withBackups('keep: { daily: -1 }'))).toMatch(/services\.web\.database\.backups\.keep\.daily/);
    expect(errorOf(withBackups('keep: { hourly: 24 }'))).toMatch(/services\.web\.database\.backups\.keep.*hourly/);
  });

  it('warns when a schedule has no URL to dump', () => {
    const cfg = parseConfig(`services:\n  web:\n    database:\n      url: \${DATABASE_URL}\n      backups: { schedule: "0 3 * * *" }\n`, FILE, { env: {} });
    expect(cfg.warnings.join('\n')).toMatch(/services\.web\.database\.url: backups\.schedule is set but the url is empty/);
  });
});

describe('absent(backup.<service>) in an alert rule', () => {
  const rules = (when: string) => `services:
  web:
    database:
      url: postgres://app@db.internal/app
  api: {}
alerts:
  - name: backups
    when: "${when}"
`;

  it('loads when the service has a database', () => {
    const cfg = parseConfig(rules('absent(backup.web) for 26h'), FILE, { env: {} });
    expect(cfg.raw.alerts[0]?.when).toBe('absent(backup.web) for 26h');
  });

  it('is a config error, at the rule, when the service has no database or does not exist', () => {
    expect(errorOf(rules('absent(backup.api) for 26h'))).toMatch(/shipshape\.yaml:8:\d+: alerts\[0\]\.when: absent\(backup\.api\): service "api" has no database: section/);
    expect(errorOf(rules('absent(backup.nope) for 26h'))).toMatch(/:8:\d+: alerts\[0\]\.when: absent\(backup\.nope\): there is no service "nope" \(services: web, api\)/);
    expect(errorOf(rules('absent(backup.) for 26h'))).toMatch(/alerts\[0\]\.when: column 15: expected a service name after "backup\."/);
  });
});

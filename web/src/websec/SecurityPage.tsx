import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { errorMessage } from '../shell/api.ts';
import { ago, plural } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { EmptyState } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { useAudits, useHeaderGrades, useSecretScans, websecApi, websecKeys } from './api.ts';
import type { AuditCheckResult, HeadersCheckGrade, HeaderTestView, SecretsCheckScan } from './types.ts';
import './websec.css';

const gradeClass = (g: string) => (g.startsWith('A') ? 'ws-grade-a' : g.startsWith('B') ? 'ws-grade-b' : g.startsWith('C') ? 'ws-grade-c' : 'ws-grade-f');

function TestRow({ t }: { t: HeaderTestView }) {
  const mark = t.informational ? '·' : t.pass ? '✓' : '✗';
  return (
    <tr className={t.informational ? 'ws-info' : t.pass ? 'ws-pass' : 'ws-fail'} data-testid="ws-test">
      <td>
        <span className="ws-mark" aria-label={t.informational ? 'informational' : t.pass ? 'pass' : 'fail'}>
          {mark}
        </span>{' '}
        {t.title}
      </td>
      <td>
        <code>{t.result}</code>
        <div className="muted ws-desc">{t.description}</div>
      </td>
      <td className="num">{t.informational ? '–' : t.scoreModifier > 0 ? `+${t.scoreModifier}` : t.scoreModifier}</td>
      <td>{t.fix || <span className="muted">—</span>}</td>
    </tr>
  );
}

function GradeCard({ g, now }: { g: HeadersCheckGrade; now: number }) {
  const r = g.report;
  return (
    <section className="card ws-card" data-testid="ws-card">
      <header className="ws-head">
        <div>
          <h2 className="ws-title">
            {g.service}
            {g.check ? ` / ${g.check}` : ''}
          </h2>
          <a className="muted" href={g.url} rel="noreferrer noopener" target="_blank">
            {g.url}
          </a>
        </div>
        {r ? (
          <div className="ws-score">
            <span className={`ws-grade ${gradeClass(r.grade)}`} data-testid="ws-grade">
              {r.grade}
            </span>
            <span className="muted">{r.score}/100</span>
            <span className={`pill pill-sm ${g.ok ? 'pill-up' : 'pill-down'}`}>{g.ok ? `≥ ${g.min_grade}` : `below ${g.min_grade}`}</span>
          </div>
        ) : null}
      </header>
      {g.error ? (
        <div className="banner banner-error" role="alert">
          {g.error}
        </div>
      ) : null}
      {r ? (
        <>
          {r.redirects.length > 1 ? <p className="muted ws-chain">redirects: {r.redirects.join(' → ')}</p> : null}
          <table className="table ws-table">
            <thead>
              <tr>
                <th>test</th>
                <th>result</th>
                <th className="num">score</th>
                <th>fix</th>
              </tr>
            </thead>
            <tbody>
              {r.tests.map((t) => (
                <TestRow key={t.name} t={t} />
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      <p className="muted ws-when">graded {ago(g.graded_at, now)}, as the MDN HTTP Observatory grades</p>
    </section>
  );
}

/** One `secrets` check's latest scan: what was scanned and each finding, redacted as the scanner gives it. */
function ScanCard({ s, now }: { s: SecretsCheckScan; now: number }) {
  const n = s.findings_total;
  return (
    <section className="card ws-card" data-testid="ws-scan">
      <header className="ws-head">
        <div>
          <h3 className="ws-title">
            {s.service}
            {s.check ? ` / ${s.check}` : ''}
          </h3>
          <span className="muted">
            <code>{s.path}</code>
            {s.git_history ? ' (git history)' : ''} · {plural(s.files, 'file')} scanned
            {s.skipped.length > 0 ? `, ${s.skipped.length} skipped` : ''}
          </span>
        </div>
        {s.error ? null : <span className={`pill pill-sm ${n === 0 ? 'pill-up' : 'pill-down'}`}>{n === 0 ? 'no findings' : plural(n, 'finding')}</span>}
      </header>
      {s.error ? (
        <div className="banner banner-error" role="alert">
          {s.error}
        </div>
      ) : null}
      {s.findings.length > 0 ? (
        <>
          <table className="table ws-table">
            <thead>
              <tr>
                <th>rule</th>
                <th>severity</th>
                <th>where</th>
                <th>match</th>
                <th>fingerprint</th>
              </tr>
            </thead>
            <tbody>
              {s.findings.map((f) => (
                <tr key={f.fingerprint} className={`ws-sev-${f.severity}`} data-testid="ws-finding">
                  <td>
                    <code>{f.ruleId}</code>
                    <div className="muted ws-desc">{f.description}</div>
                  </td>
                  <td>{f.severity}</td>
                  <td>
                    <code>
                      {f.file}:{f.line}
                    </code>
                    {f.commit ? <div className="muted ws-desc">commit {f.commit.slice(0, 12)}</div> : null}
                  </td>
                  <td>
                    <code>{f.match}</code>
                  </td>
                  <td>
                    <code>{f.fingerprint}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted ws-when">
            {n > s.findings.length ? `the first ${s.findings.length} of ${n} shown; ` : ''}a false positive? add its fingerprint to <code>.shipshape-secrets-allow</code> to accept it
          </p>
        </>
      ) : null}
      <p className="muted ws-when">scanned {ago(s.scanned_at, now)}</p>
    </section>
  );
}

const SEVERITIES = ['critical', 'high', 'moderate', 'low', 'info'] as const;

/** One `audit` check's latest audit: counts by severity and the advisories at or above its level. */
function AuditCard({ a, now }: { a: AuditCheckResult; now: number }) {
  return (
    <section className="card ws-card" data-testid="ws-audit">
      <header className="ws-head">
        <div>
          <h3 className="ws-title">
            {a.service}
            {a.check ? ` / ${a.check}` : ''}
          </h3>
          <span className="muted">
            <code>{a.path}</code>
            {a.manager ? ` · ${a.manager}` : ''}
          </span>
        </div>
        {a.error ? null : <span className={`pill pill-sm ${a.ok ? 'pill-up' : 'pill-down'}`}>{a.ok ? `nothing at or above ${a.level}` : `${plural(a.failing.length, 'advisory', 'advisories')} at or above ${a.level}`}</span>}
      </header>
      {a.error ? (
        <div className="banner banner-error" role="alert">
          {a.error}
        </div>
      ) : null}
      {a.counts ? (
        <p className="ws-counts" data-testid="ws-counts">
          {SEVERITIES.map((sev) => (
            <span key={sev} className={`ws-count ws-sev-${sev}`}>
              {sev} <strong>{a.counts?.[sev] ?? 0}</strong>
            </span>
          ))}
        </p>
      ) : null}
      {a.failing.length > 0 ? (
        <table className="table ws-table">
          <thead>
            <tr>
              <th>package</th>
              <th>severity</th>
              <th>advisory</th>
              <th>fix</th>
            </tr>
          </thead>
          <tbody>
            {a.failing.map((v) => (
              <tr key={`${v.package}|${v.url}`} data-testid="ws-advisory">
                <td>
                  <code>{v.package}</code>
                  {v.range ? <div className="muted ws-desc">{v.range}</div> : null}
                </td>
                <td>{v.severity}</td>
                <td>
                  {v.url ? (
                    <a href={v.url} rel="noreferrer noopener" target="_blank">
                      {v.title || v.url}
                    </a>
                  ) : (
                    v.title
                  )}
                </td>
                <td>{v.fixAvailable ? 'upgrade available' : <span className="muted">no fix yet</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <p className="muted ws-when">audited {ago(a.audited_at, now)}</p>
    </section>
  );
}

function GroupHead({ title, children, busy, busyLabel, label, onClick }: { title: string; children: ReactNode; busy: boolean; busyLabel: string; label: string; onClick: () => void }) {
  return (
    <header className="page-head ws-group-head">
      <div>
        <h2>{title}</h2>
        <p className="muted">{children}</p>
      </div>
      <button type="button" className="btn btn-sm" disabled={busy} onClick={onClick}>
        {busy ? busyLabel : label}
      </button>
    </header>
  );
}

function SecretScans({ now }: { now: number }) {
  const q = useSecretScans();
  const qc = useQueryClient();
  const refresh = useMutation({ mutationFn: () => websecApi.secrets(true), onSuccess: (data) => qc.setQueryData(websecKeys.secrets, data) });
  return (
    <div className="ws-group" data-testid="ws-secrets">
      <GroupHead title="Secret scan" busy={refresh.isPending} busyLabel="Scanning…" label="Scan again" onClick={() => refresh.mutate()}>
        Each <code>secrets</code> check's latest scan; matches are shown redacted, never whole.
      </GroupHead>
      {refresh.error ? (
        <div className="banner banner-error" role="alert">
          {errorMessage(refresh.error)}
        </div>
      ) : null}
      <QueryState
        query={q}
        errorTitle="Could not load the secret scans"
        isEmpty={(d) => d.items.length === 0}
        empty={
          <section className="card">
            <EmptyState title="No secrets checks">
              Add one to a service: <code>- secrets: {'{'} path: ., every: 1h {'}'}</code>
            </EmptyState>
          </section>
        }
      >
        {(d) => (
          <>
            {d.items.map((s, i) => (
              <ScanCard key={`${s.service}/${s.check ?? s.path}/${i}`} s={s} now={now} />
            ))}
          </>
        )}
      </QueryState>
    </div>
  );
}

function Dependencies({ now }: { now: number }) {
  const q = useAudits();
  const qc = useQueryClient();
  const refresh = useMutation({ mutationFn: () => websecApi.audits(true), onSuccess: (data) => qc.setQueryData(websecKeys.audits, data) });
  return (
    <div className="ws-group" data-testid="ws-deps">
      <GroupHead title="Dependencies" busy={refresh.isPending} busyLabel="Auditing…" label="Audit again" onClick={() => refresh.mutate()}>
        Each <code>audit</code> check's latest dependency audit; the same report as <code>shipshape audit deps</code>.
      </GroupHead>
      {refresh.error ? (
        <div className="banner banner-error" role="alert">
          {errorMessage(refresh.error)}
        </div>
      ) : null}
      <QueryState
        query={q}
        errorTitle="Could not load the audits"
        isEmpty={(d) => d.items.length === 0}
        empty={
          <section className="card">
            <EmptyState title="No audit checks">
              Add one to a service: <code>- audit: {'{'} path: ., level: high, every: 6h {'}'}</code>
            </EmptyState>
          </section>
        }
      >
        {(d) => (
          <>
            {d.items.map((a, i) => (
              <AuditCard key={`${a.service}/${a.check ?? a.path}/${i}`} a={a} now={now} />
            ))}
          </>
        )}
      </QueryState>
    </div>
  );
}

/** Security: the latest grade of every `headers` check (each test with its result and fix), the secret scans and the dependency audits. */
export default function SecurityPage() {
  useDocumentTitle('Security · Shipshape');
  const now = useNow();
  const q = useHeaderGrades();
  const qc = useQueryClient();
  const refresh = useMutation({
    mutationFn: () => websecApi.headers(true),
    onSuccess: (data) => qc.setQueryData(websecKeys.headers, data),
  });
  return (
    <main className="page">
      <header className="page-head">
        <div>
          <h1>Security</h1>
          <p className="muted">
            Each <code>headers</code> check's grade (the same report as <code>shipshape headers &lt;url&gt;</code>), then the secret scans and the dependency audits.
          </p>
        </div>
        <button type="button" className="btn btn-sm" disabled={refresh.isPending} onClick={() => refresh.mutate()}>
          {refresh.isPending ? 'Grading…' : 'Grade again'}
        </button>
      </header>
      {refresh.error ? (
        <div className="banner banner-error" role="alert">
          {errorMessage(refresh.error)}
        </div>
      ) : null}
      <div className="ws-group" data-testid="ws-headers">
        <QueryState
          query={q}
          errorTitle="Could not load the grades"
          isEmpty={(d) => d.items.length === 0}
          empty={
            <section className="card">
              <EmptyState title="No headers checks">
                Add one to a service: <code>- headers: {'{'} url: https://example.com, min_grade: B {'}'}</code>
              </EmptyState>
            </section>
          }
        >
          {(d) => (
            <>
              {d.items.map((g) => (
                <GradeCard key={`${g.service}/${g.check ?? g.url}`} g={g} now={now} />
              ))}
            </>
          )}
        </QueryState>
      </div>
      <SecretScans now={now} />
      <Dependencies now={now} />
    </main>
  );
}

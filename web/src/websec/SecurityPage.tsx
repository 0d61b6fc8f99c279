import { useMutation, useQueryClient } from '@tanstack/react-query';
import { errorMessage } from '../shell/api.ts';
import { ago } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { EmptyState } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { useHeaderGrades, websecApi, websecKeys } from './api.ts';
import type { HeadersCheckGrade, HeaderTestView } from './types.ts';
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

/** Security headers: the latest grade of every `headers` check, each test with its result and fix. */
export default function SecurityPage() {
  useDocumentTitle('Security headers');
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
          <h1>Security headers</h1>
          <p className="muted">Each <code>headers</code> check's grade; the same report as <code>shipshape headers &lt;url&gt;</code>.</p>
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
    </main>
  );
}

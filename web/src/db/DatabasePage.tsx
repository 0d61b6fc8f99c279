import { useState } from 'react';
import { ago, bytes, dateTime, duration, ms, plural, ratio } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import type { RouteProps } from '../shell/module.ts';
import { EmptyState, ErrorState } from '../shell/ui/Feedback.tsx';
import { LoadingLines, QueryState } from '../shell/ui/QueryState.tsx';
import { dbPath, useAudit, useBackups, useServiceDatabases, useTop, type ServiceDatabase } from './api.ts';
import type { AuditLevel, BackupListItem, StatusReport, TopReport, TopSort } from './types.ts';
import './db.css';

const count = (n: number) => n.toLocaleString();
const age = (s: number | null) => (s === null ? 'never' : `${duration(s * 1000)} ago`);

function MigrationsCard({ status, now }: { status: StatusReport; now: number }) {
  const applied = [...status.applied].sort((a, b) => b.version - a.version);
  const clean = status.pending.length === 0 && status.drift.length === 0;
  return (
    <section className="card db-card" data-testid="db-migrations">
      <header className="card-head">
        <div>
          <h2 className="card-title">Migrations</h2>
          <div className="muted db-sub">
            <code>{status.dir}</code> → <code>{status.table}</code>
          </div>
        </div>
        <span className={`pill pill-sm ${status.drift.length > 0 ? 'pill-down' : clean ? 'pill-up' : 'pill-degraded'}`} data-testid="db-mig-state">
          {status.drift.length > 0 ? 'drift' : clean ? 'up to date' : `${status.pending.length} to apply`}
        </span>
      </header>
      <p className="db-summary" data-testid="db-mig-summary">
        <span data-testid="db-applied">{status.applied.length} applied</span> · <span data-testid="db-pending">{status.pending.length} pending</span>
        {status.drift.length > 0 ? <> · {plural(status.drift.length, 'drifted file')}</> : null}
        {status.gaps.length > 0 ? <> · {plural(status.gaps.length, 'gap')}</> : null}
      </p>
      {status.drift.map((d) => (
        <div key={`${d.version}-${d.filename}`} className="banner banner-error" role="alert" data-testid="db-drift">
          <strong>{d.filename}</strong> {d.kind === 'missing_file' ? 'is applied but its file is gone' : 'changed after it was applied'}: {d.detail}
        </div>
      ))}
      {status.gaps.length > 0 ? (
        <div className="banner" data-testid="db-gaps">
          Missing in the numbering: {status.gaps.join(', ')} (a migration deleted or not committed?)
        </div>
      ) : null}
      {status.sum === 'mismatch' ? (
        <div className="banner banner-error" role="alert" data-testid="db-sum">
          <code>shipshape.sum</code> does not match the directory ({status.sum_differences.join(', ')}): migrate refuses until the change is reviewed and <code>shipshape db hash</code> run.
        </div>
      ) : null}
      {status.pending.length + applied.length === 0 ? (
        <EmptyState title="No migrations yet">
          <code>shipshape db new &lt;name&gt;</code> writes the first file into <code>{status.dir}</code>.
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table db-table">
            <thead>
              <tr>
                <th>migration</th>
                <th>state</th>
                <th>applied</th>
                <th>by</th>
                <th className="num">took</th>
              </tr>
            </thead>
            <tbody>
              {status.pending.map((p) => (
                <tr key={`p-${p.filename}`} className="db-row-pending" data-testid="db-mig-pending">
                  <td>
                    <code>{p.filename}</code>
                  </td>
                  <td>
                    <span className="pill pill-sm pill-degraded">{p.partial ? 'partial' : 'pending'}</span>
                    {p.out_of_order ? <div className="muted db-note">out of order: needs --out-of-order</div> : null}
                    {p.partial ? (
                      <div className="muted db-note">
                        {p.partial.statements_applied} of {p.partial.statements_total} statements applied; the next migrate resumes{p.partial.error ? `: ${p.partial.error}` : ''}
                      </div>
                    ) : null}
                  </td>
                  <td className="muted">—</td>
                  <td className="muted">—</td>
                  <td className="num muted">—</td>
                </tr>
              ))}
              {applied.map((a) => (
                <tr key={`a-${a.filename}`} data-testid="db-mig-applied">
                  <td>
                    <code>{a.filename}</code>
                  </td>
                  <td>
                    <span className={`pill pill-sm ${a.state === 'partial' ? 'pill-degraded' : 'pill-up'}`}>{a.state}</span>
                    {a.error ? <div className="muted db-note">{a.error}</div> : null}
                  </td>
                  <td title={dateTime(a.applied_at)}>{ago(a.applied_at, now)}</td>
                  <td>{a.applied_by}</td>
                  <td className="num">{ms(a.duration_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {status.ignored.length > 0 ? <p className="muted db-foot">Ignored (no version number): {status.ignored.join(', ')}</p> : null}
      {status.sum === 'missing' ? (
        <p className="muted db-foot">
          No <code>shipshape.sum</code> in the directory, so it is not checked (<code>shipshape db hash</code> writes one).
        </p>
      ) : null}
    </section>
  );
}

function Connections({ r }: { r: TopReport }) {
  const c = r.connections;
  const level = c.percent >= 90 ? 'pill-down' : c.percent >= 75 ? 'pill-degraded' : 'pill-up';
  return (
    <section className="card db-card" data-testid="db-connections">
      <header className="card-head">
        <h2 className="card-title">Connections</h2>
        <span className={`pill pill-sm ${level}`} data-testid="db-conn-percent">
          {c.percent}% of max_connections
        </span>
      </header>
      <div className="db-pad">
        <p className="db-summary" data-testid="db-conn-used">
          {c.used} of {c.max} in use ({c.reserved} reserved for superusers)
        </p>
        <div className="db-cols">
          <div>
            <h3 className="db-h3">by state</h3>
            <ul className="db-list">
              {c.by_state.map((s) => (
                <li key={s.state}>
                  {s.state} <strong>{s.count}</strong>
                </li>
              ))}
            </ul>
          </div>
          <div>
            <h3 className="db-h3">by application</h3>
            <ul className="db-list">
              {c.by_application.map((a) => (
                <li key={a.application}>
                  {a.application || <span className="muted">(none)</span>} <strong>{a.count}</strong>
                </li>
              ))}
            </ul>
          </div>
          <div data-testid="db-cache">
            <h3 className="db-h3">cache hit ratio</h3>
            <ul className="db-list">
              <li>
                database <strong>{ratio(r.cache.hit_ratio)}</strong>
              </li>
              <li>
                tables <strong>{ratio(r.cache.table_hit_ratio)}</strong>
              </li>
              <li>
                indexes <strong>{ratio(r.cache.index_hit_ratio)}</strong>
              </li>
            </ul>
          </div>
        </div>
      </div>
    </section>
  );
}

function Running({ r }: { r: TopReport }) {
  return (
    <section className="card db-card" data-testid="db-running">
      <header className="card-head">
        <h2 className="card-title">Running now</h2>
        <span className="muted">sessions that are not idle, on the whole server, longest first</span>
      </header>
      {r.running.length === 0 ? (
        <EmptyState title="Nothing running">No session other than this report's is active or in a transaction.</EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table db-table">
            <thead>
              <tr>
                <th className="num">pid</th>
                <th>database · user · application</th>
                <th>state</th>
                <th className="num">for</th>
                <th>query</th>
              </tr>
            </thead>
            <tbody>
              {r.running.map((q) => (
                <tr key={q.pid} data-testid="db-running-query">
                  <td className="num">{q.pid}</td>
                  <td>
                    {q.database ?? '—'} · {q.user ?? '—'}
                    <div className="muted db-note">{q.application || '(no application name)'}</div>
                  </td>
                  <td>
                    {q.state}
                    {q.wait ? <div className="muted db-note">waits on {q.wait}</div> : null}
                  </td>
                  <td className="num" data-testid="db-running-duration">
                    {ms(q.duration_ms)}
                  </td>
                  <td>
                    <code className="db-query">{q.query}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Statements({ r, sort, onSort }: { r: TopReport; sort: TopSort; onSort: (s: TopSort) => void }) {
  const s = r.statements;
  return (
    <section className="card db-card" data-testid="db-statements">
      <header className="card-head">
        <h2 className="card-title">Slowest statements</h2>
        <div className="segmented" role="group" aria-label="Order statements by">
          {(['total', 'mean'] as const).map((o) => (
            <button key={o} type="button" aria-pressed={sort === o} onClick={() => onSort(o)}>
              {o === 'total' ? 'total time' : 'mean time'}
            </button>
          ))}
        </div>
      </header>
      {s.note ? (
        <div className="banner" data-testid="db-statements-note">
          {s.note}
        </div>
      ) : null}
      {s.available && s.statements.length === 0 ? <EmptyState title="No statements recorded yet">pg_stat_statements has nothing for this database since its statistics were reset.</EmptyState> : null}
      {s.statements.length > 0 ? (
        <div className="table-wrap">
          <table className="table db-table">
            <thead>
              <tr>
                <th>query</th>
                <th className="num">calls</th>
                <th className="num">total</th>
                <th className="num">mean</th>
                <th className="num">rows</th>
                <th className="num">share</th>
              </tr>
            </thead>
            <tbody>
              {s.statements.map((st, i) => (
                <tr key={`${i}-${st.query}`} data-testid="db-statement">
                  <td>
                    <code className="db-query">{st.query}</code>
                  </td>
                  <td className="num">{count(st.calls)}</td>
                  <td className="num">{ms(st.total_ms)}</td>
                  <td className="num">{ms(st.mean_ms)}</td>
                  <td className="num">{count(st.rows)}</td>
                  <td className="num">{st.percent.toFixed(1)}%</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function Sizes({ r }: { r: TopReport }) {
  return (
    <section className="card db-card" data-testid="db-tables">
      <header className="card-head">
        <h2 className="card-title">Biggest tables</h2>
        <span className="muted">with their indexes and TOAST; vacuum and analyze include the automatic ones</span>
      </header>
      {r.tables.length === 0 ? (
        <EmptyState title="No tables">This database has no tables outside the system schemas.</EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table db-table">
            <thead>
              <tr>
                <th>table</th>
                <th className="num">total</th>
                <th className="num">data</th>
                <th className="num">indexes</th>
                <th className="num">rows</th>
                <th className="num">dead rows</th>
                <th>vacuumed</th>
                <th>analyzed</th>
              </tr>
            </thead>
            <tbody>
              {r.tables.map((t) => (
                <tr key={`${t.schema}.${t.name}`} data-testid="db-table">
                  <td>
                    <code>
                      {t.schema}.{t.name}
                    </code>
                  </td>
                  <td className="num">{bytes(t.total_bytes)}</td>
                  <td className="num">{bytes(t.table_bytes)}</td>
                  <td className="num">{bytes(t.index_bytes)}</td>
                  <td className="num">{count(t.rows)}</td>
                  <td className="num">{count(t.dead_rows)}</td>
                  <td title={dateTime(t.last_vacuum)}>{age(t.vacuum_age_s)}</td>
                  <td title={dateTime(t.last_analyze)}>{age(t.analyze_age_s)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {r.indexes.length > 0 ? (
        <>
          <h3 className="db-h3 db-pad">Biggest indexes</h3>
          <div className="table-wrap" data-testid="db-indexes">
            <table className="table db-table">
              <thead>
                <tr>
                  <th>index</th>
                  <th>table</th>
                  <th className="num">size</th>
                  <th className="num">scans</th>
                </tr>
              </thead>
              <tbody>
                {r.indexes.map((x) => (
                  <tr key={`${x.schema}.${x.name}`}>
                    <td>
                      <code>{x.name}</code>
                    </td>
                    <td>
                      <code>
                        {x.schema}.{x.table}
                      </code>
                    </td>
                    <td className="num">{bytes(x.bytes)}</td>
                    <td className="num">{count(x.scans)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
    </section>
  );
}

/** What the database is busy with: `GET /api/v1/db/<service>/top`, refreshed every 10 seconds. */
function verifiedPill(b: BackupListItem, now: number) {
  if (!b.verified) return <span className="pill pill-sm pill-degraded">unverified</span>;
  if (b.verified.ok) return <span className="pill pill-sm pill-up" title={`restored and compared ${ago(b.verified.at, now)}`}>verified</span>;
  return (
    <span className="pill pill-sm pill-down" title={b.verified.mismatches.join('; ')}>
      verify failed
    </span>
  );
}

/** The service's backups, newest first, with their verified state (what `shipshape db backups --service` lists). */
function Backups({ service, now }: { service: string; now: number }) {
  const q = useBackups(service);
  return (
    <section className="card db-card" data-testid="db-backups">
      <header className="card-head">
        <div>
          <h2 className="card-title">Backups</h2>
          {q.data ? (
            <div className="muted db-sub">
              <code>{q.data.dir}</code> · {plural(q.data.total, 'backup')}
            </div>
          ) : null}
        </div>
      </header>
      <QueryState query={q} errorTitle={`Could not list the backups of ${service}`}>
        {(r) =>
          r.items.length === 0 ? (
            <EmptyState title="No backups yet">
              Take one with <code>shipshape db backup --service {service}</code>, or set <code>database.backups.schedule</code>.
            </EmptyState>
          ) : (
            <div className="table-wrap">
              <table className="table db-table">
                <thead>
                  <tr>
                    <th>backup</th>
                    <th>taken</th>
                    <th className="num">size</th>
                    <th className="num">tables</th>
                    <th>format</th>
                    <th>state</th>
                  </tr>
                </thead>
                <tbody>
                  {r.items.map((b) => (
                    <tr key={b.id} data-testid="db-backup">
                      <td>
                        <code>{b.id}</code>
                        {b.encrypted ? <span className="muted"> · encrypted</span> : null}
                      </td>
                      <td title={dateTime(b.created_at)}>{ago(b.created_at, now)}</td>
                      <td className="num">{bytes(b.size)}</td>
                      <td className="num">{count(b.tables)}</td>
                      <td>{b.format}</td>
                      <td>{verifiedPill(b, now)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryState>
    </section>
  );
}

const LEVEL_PILL: Record<AuditLevel, string> = { error: 'pill-down', warn: 'pill-degraded', info: 'pill-unknown' };

/** The security and health checklist (`GET /api/v1/db/<service>/audit`, what `shipshape db audit` prints): errors first. */
function Audit({ service }: { service: string }) {
  const q = useAudit(service);
  const order: AuditLevel[] = ['error', 'warn', 'info'];
  return (
    <section className="card db-card" data-testid="db-audit">
      <header className="card-head">
        <div>
          <h2 className="card-title">Audit</h2>
          <div className="muted db-sub">
            Supabase's splinter lints (RLS, views and functions that bypass it, exposed secrets, <code>search_path</code>, keys and indexes, bloat), connections and long queries — as <code>shipshape db audit --service {service}</code> checks them
          </div>
        </div>
        {q.data ? (
          <div className="db-audit-counts" data-testid="db-audit-counts">
            {order.map((l) => (
              <span key={l} className={`pill pill-sm ${q.data.counts[l] > 0 ? LEVEL_PILL[l] : 'pill-up'}`}>
                {plural(q.data.counts[l], l === 'error' ? 'error' : l === 'warn' ? 'warning' : 'note')}
              </span>
            ))}
            <button type="button" className="btn btn-ghost btn-sm" onClick={() => void q.refetch()} disabled={q.isFetching}>
              {q.isFetching ? 'Checking…' : 'Check again'}
            </button>
          </div>
        ) : null}
      </header>
      <QueryState query={q} errorTitle={`Could not audit the database of ${service}`}>
        {(r) => (
          <>
          {r.findings.length === 0 ? (
            <EmptyState title="Nothing to report">
              {plural(r.checked.tables, 'table')} and {plural(r.checked.indexes, 'index', 'indexes')} checked on PostgreSQL {r.checked.server_version}.
            </EmptyState>
          ) : (
            <div className="table-wrap">
              <table className="table db-table">
                <thead>
                  <tr>
                    <th>level</th>
                    <th>rule</th>
                    <th>object</th>
                    <th>what is wrong · the fix</th>
                  </tr>
                </thead>
                <tbody>
                  {[...r.findings]
                    .sort((a, b) => order.indexOf(a.level) - order.indexOf(b.level))
                    .map((f, i) => (
                      <tr key={`${f.rule}:${f.object}:${i}`} data-testid="db-finding">
                        <td>
                          <span className={`pill pill-sm ${LEVEL_PILL[f.level]}`}>{f.level}</span>
                        </td>
                        <td>
                          <code>{f.rule}</code>
                        </td>
                        <td>
                          <code>{f.object}</code>
                        </td>
                        <td>
                          <div>{f.message}</div>
                          <code className="muted db-fix">{f.remediation}</code>
                        </td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </div>
          )}
          {r.suppressed?.length ? (
            <details className="db-suppressed" data-testid="db-audit-suppressed">
              <summary className="muted">
                {plural(r.suppressed.length, 'finding')} suppressed in shipshape.yaml (<code>audit.suppress</code>), not counted
              </summary>
              <ul>
                {r.suppressed.map((f, i) => (
                  <li key={`${f.rule}:${f.object}:${i}`} data-testid="db-suppressed-finding">
                    <code>{f.rule}</code> <code>{f.object}</code> — {f.reason}
                  </li>
                ))}
              </ul>
            </details>
          ) : null}
          {r.checked.roles ? (
            <div className="muted db-sub" data-testid="db-audit-roles">
              privileges read for: {r.checked.roles.join(', ')}
            </div>
          ) : null}
          </>
        )}
      </QueryState>
    </section>
  );
}

function Top({ service, now }: { service: string; now: number }) {
  const [sort, setSort] = useState<TopSort>('total');
  const q = useTop(service, sort);
  return (
    <div className="db-group" data-testid="db-top">
      <header className="page-head db-group-head">
        <div>
          <h2>Busy with</h2>
          <p className="muted">
            The same report as <code>shipshape db top</code>, refreshed every 10 seconds{q.data ? <>; read {ago(q.data.at, now)} from PostgreSQL {q.data.server_version}</> : null}.
          </p>
        </div>
      </header>
      {q.error && q.data ? (
        <div className="banner banner-error" role="alert">
          The last refresh failed; showing the report from {ago(q.data.at, now)}.
        </div>
      ) : null}
      <QueryState query={q} errorTitle="Could not read what the database is busy with">
        {(r) => (
          <>
            <Connections r={r} />
            <Running r={r} />
            <Statements r={r} sort={sort} onSort={setSort} />
            <Sizes r={r} />
          </>
        )}
      </QueryState>
    </div>
  );
}

function ServiceDetail({ db, now }: { db: ServiceDatabase; now: number }) {
  return (
    <div data-testid={`db-service-${db.name}`}>
      <header className="db-service-head">
        <h2 className="db-service-name">{db.name}</h2>
        {db.status ? <code className="muted">{db.status.database}</code> : null}
      </header>
      {db.status ? <MigrationsCard status={db.status} now={now} /> : <ErrorState error={db.error} onRetry={() => void db.refetch()} title={`Could not read the migration status of ${db.name}`} />}
      <Backups service={db.name} now={now} />
      <Audit service={db.name} />
      <Top key={db.name} service={db.name} now={now} />
    </div>
  );
}

/** Database: per service with a `database:` section, its migration status and what the database is busy with. */
export default function DatabasePage({ params }: RouteProps) {
  useDocumentTitle('Database · Shipshape');
  const now = useNow();
  const { services, databases, settled } = useServiceDatabases();
  const chosen = params.service;
  return (
    <main className="page">
      <header className="page-head">
        <div>
          <h1>Database</h1>
          <p className="muted">
            Each service's own PostgreSQL (its <code>database:</code> section): which migrations are applied and pending, and what the database is busy with.
          </p>
        </div>
      </header>
      <QueryState query={services} errorTitle="Could not load the services">
        {() => {
          if (!settled) return <LoadingLines lines={3} />;
          if (databases.length === 0) {
            return (
              <section className="card">
                <EmptyState title="No service has a database">
                  Add one to a service: <code>database: {'{'} url: ${'{'}DATABASE_URL{'}'}, migrations: migrations/ {'}'}</code>
                </EmptyState>
              </section>
            );
          }
          const current = chosen === undefined ? databases[0] : databases.find((d) => d.name === chosen);
          return (
            <>
              <nav className="db-services" aria-label="Services with a database" data-testid="db-services">
                {databases.map((d) => (
                  <Link key={d.name} to={dbPath(d.name)} className={`db-tab${d.name === current?.name ? ' db-tab-on' : ''}`} aria-current={d.name === current?.name ? 'page' : undefined} data-testid={`db-tab-${d.name}`}>
                    {d.name}
                    {d.status && d.status.pending.length > 0 ? <span className="pill pill-sm pill-degraded">{d.status.pending.length} pending</span> : null}
                    {d.status && d.status.drift.length > 0 ? <span className="pill pill-sm pill-down">drift</span> : null}
                    {!d.status ? <span className="pill pill-sm pill-down">error</span> : null}
                  </Link>
                ))}
              </nav>
              {current ? (
                <ServiceDetail key={current.name} db={current} now={now} />
              ) : (
                <section className="card">
                  <EmptyState title={`No database for "${chosen ?? ''}"`}>
                    There is no service of that name with a <code>database:</code> section; pick one above.
                  </EmptyState>
                </section>
              )}
            </>
          );
        }}
      </QueryState>
    </main>
  );
}

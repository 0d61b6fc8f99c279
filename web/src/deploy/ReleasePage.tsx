import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { ago, bytes, dateTime, duration, ms } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { canWrite, useMe } from '../shell/session.ts';
import { EmptyState, Spinner } from '../shell/ui/Feedback.tsx';
import { LoadingLines, QueryState } from '../shell/ui/QueryState.tsx';
import { deployPath, servicePath, useRelease, useServiceDeploys } from './api.ts';
import { actorName, canaryText, ReleaseLink, ReleaseStatePill, ShortSha, STEP_TEXT, StepIcon, verificationChecks } from './bits.tsx';
import { READ_ONLY } from './dialogs.tsx';
import { mergeSteps, useLiveSteps, type ShownStep } from './live.ts';
import { canRollBackTo, envCanary, nextEnv, useDeployActions } from './ServiceStatus.tsx';
import type { GateResult, ReleaseDetailView } from './types.ts';
import './deploy.css';

const GATE_KIND: Record<string, string> = { run: 'command', bundle: 'bundle budget', migrations: 'migrations', backup: 'backup', env: 'env vars', secrets: 'secret scan', audit: 'dependency audit', headers: 'security headers' };

/** A step's output: monospace, scrolls with new lines while it is at the bottom. */
function Output({ id, step }: { id: string; step: ShownStep }) {
  const ref = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  useEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [step.output]);
  return (
    <>
      <pre
        id={id}
        ref={ref}
        className="dep-output mono"
        tabIndex={0}
        aria-label={`Output of ${step.name}`}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
        data-testid={`step-output-${step.name}`}
      >
        {step.output || <span className="muted">{step.live || step.state === 'running' ? 'Waiting for output…' : 'No output.'}</span>}
      </pre>
    </>
  );
}

function StepItem({ step, expanded, onToggle, now }: { step: ShownStep; expanded: boolean; onToggle: () => void; now: number }) {
  const outId = useId();
  const took = step.state === 'running' ? duration(now - step.started) : step.duration_ms !== null ? ms(step.duration_ms) : '';
  return (
    <li className={`dep-step dep-step-${step.state}`} data-testid={`step-${step.name}`} data-state={step.state}>
      <button type="button" className="dep-step-head" aria-expanded={expanded} aria-controls={outId} onClick={onToggle}>
        <svg className="dep-chevron" width="12" height="12" viewBox="0 0 16 16" aria-hidden="true">
          <path d="M6 4l4 4-4 4" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
        <StepIcon state={step.state} />
        <span className="dep-step-name">{step.name}</span>
        <span className="visually-hidden">: {STEP_TEXT[step.state]}</span>
        <span className="dep-step-detail muted" data-testid={`step-detail-${step.name}`}>
          {step.detail ?? (step.state === 'running' ? 'running…' : '')}
          {step.exit_code !== null && step.exit_code !== 0 && step.state === 'failed' ? ` (exit ${step.exit_code})` : ''}
        </span>
        <span className="dep-step-took num muted">{took}</span>
      </button>
      {expanded && <Output id={outId} step={step} />}
    </li>
  );
}

/** The steps, stored and live; running and failed ones open unless the viewer closed them. */
function Steps({ release }: { release: ReleaseDetailView }) {
  const live = useLiveSteps(release.id);
  // the live list changes in place (live.version counts the changes): merge on every render
  const steps = mergeSteps(release.steps, live.steps);
  const running = steps.some((s) => s.state === 'running');
  const now = useNow(running ? 1000 : 60_000);
  const [toggled, setToggled] = useState<Record<string, boolean>>({});
  const last = steps[steps.length - 1];
  if (steps.length === 0) return <EmptyState title={release.state === 'running' ? 'Starting…' : 'No steps recorded'} />;
  return (
    <>
      <p className="visually-hidden" role="status" aria-live="polite">
        {last ? `${last.name} ${STEP_TEXT[last.state]}` : ''}
      </p>
      <ol className="dep-steps" data-testid="steps">
        {steps.map((s) => {
          const auto = s.state === 'running' || s.state === 'failed';
          const expanded = toggled[s.key] ?? auto;
          return <StepItem key={s.key} step={s} now={now} expanded={expanded} onToggle={() => setToggled((t) => ({ ...t, [s.key]: !expanded }))} />;
        })}
      </ol>
    </>
  );
}

function Gates({ gates }: { gates: readonly GateResult[] }) {
  return (
    <div className="table-wrap">
      <table className="table" data-testid="gates">
        <thead>
          <tr>
            <th scope="col">Gate</th>
            <th scope="col">Result</th>
            <th scope="col">Summary</th>
            <th scope="col" className="num">
              Took
            </th>
          </tr>
        </thead>
        <tbody>
          {gates.map((g, i) => (
            <tr key={`${g.name}-${i}`} data-testid={`gate-${g.name}`}>
              <td>
                <span className="dep-gate-name">{g.name}</span>
                <div className="muted small">{GATE_KIND[g.kind] ?? g.kind}</div>
              </td>
              <td>
                <span className={`pill pill-sm ${g.passed ? 'pill-up' : 'dep-pill-failed'}`}>
                  <span className="pill-dot" aria-hidden="true" />
                  {g.passed ? 'Passed' : 'Failed'}
                </span>
              </td>
              <td className="td-reason">
                {g.summary}
                {g.warnings !== undefined && <div className="muted small">{g.warnings === 1 ? '1 warning' : `${g.warnings} warnings`}</div>}
                {g.size !== undefined && g.limit !== undefined && (
                  <div className="muted small">
                    {bytes(g.size)} of {bytes(g.limit)}
                  </div>
                )}
              </td>
              <td className="num">{ms(g.duration_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Verification({ value }: { value: unknown }) {
  const checks = verificationChecks(value);
  if (checks.length === 0) return null;
  return (
    <section className="card" aria-labelledby="verification-title">
      <div className="card-head">
        <h2 id="verification-title" className="card-title">
          Verification
        </h2>
      </div>
      <ul className="dep-checks" data-testid="verification">
        {checks.map((c, i) => (
          <li key={`${c.name}-${i}`}>
            <StepIcon state={c.passed === null ? 'skipped' : c.passed ? 'ok' : 'failed'} />
            <span className="dep-gate-name">{c.name}</span>
            <span className="visually-hidden">: {c.passed === null ? 'not run' : c.passed ? 'passed' : 'failed'}</span>
            {c.summary && <span className="muted">{c.summary}</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Fact({ k, children }: { k: string; children: ReactNode }) {
  return (
    <div className="dep-fact">
      <dt>{k}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function ReleaseBody({ service, r }: { service: string; r: ReleaseDetailView }) {
  const me = useMe();
  const writable = canWrite(me.data);
  const now = useNow(10_000);
  const status = useServiceDeploys(service);
  const envs = status.data?.environments ?? [];
  const actions = useDeployActions(service, envs);
  const envStatus = envs.find((e) => e.env === r.env);
  const to = nextEnv(envs, r.env);
  // the canary share: the release's own field, or the environment's canary when it is this release
  const envCanaryNow = envStatus ? envCanary(envStatus) : null;
  const canary = canaryText(r.canary) ?? (envCanaryNow && envCanaryNow.release === r.id ? envCanaryNow.text : null);
  const warm = !!envStatus?.warm.some((w) => w.id === r.id);
  const promotable = r.state !== 'running' && r.state !== 'failed' && r.on_disk && to !== null;
  const rollbackable = canRollBackTo(r) && (warm || r.on_disk) && envStatus !== undefined;
  useDocumentTitle(`#${r.id} ${r.version} · ${service} · Shipshape`);
  return (
    <>
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>
              Release #{r.id} <span className="mono dep-title-version">{r.version}</span>
            </h1>
            <ReleaseStatePill state={r.state} testId="release-state" />
            {r.state === 'running' && <Spinner label="Deploying" />}
          </div>
          <p className="svc-page-sub muted">
            <span className="tag">{r.env}</span> <ShortSha sha={r.git_sha} /> from <code className="mono">{r.ref}</code> · {r.commit_message}
          </p>
        </div>
        <div className="toolbar">
          {promotable && to && (
            <button type="button" className="btn btn-secondary" disabled={!writable} title={writable ? `Run this build in ${to}` : READ_ONLY} onClick={() => actions.open({ kind: 'promote', release: r, to })} data-testid="release-promote">
              Promote to {to}
            </button>
          )}
          {r.state === 'live' && envStatus && (
            <button type="button" className="btn btn-secondary" disabled={!writable} title={writable ? `Switch ${r.env} back to an earlier release` : READ_ONLY} onClick={() => actions.open({ kind: 'rollback', env: envStatus })} data-testid="release-rollback-away">
              Roll back…
            </button>
          )}
          {rollbackable && envStatus && (
            <button type="button" className="btn dep-btn-danger" disabled={!writable} title={writable ? `Make #${r.id} live in ${r.env} again` : READ_ONLY} onClick={() => actions.open({ kind: 'rollback', env: envStatus, release: r.id })} data-testid="release-rollback">
              Roll back to #{r.id}
            </button>
          )}
        </div>
      </header>

      {r.error && (
        <div className="banner banner-error" role="alert" data-testid="release-error">
          <strong>Failed:</strong> {r.error}
        </div>
      )}

      <section className="card" aria-labelledby="facts-title">
        <div className="card-head">
          <h2 id="facts-title" className="card-title">
            Release
          </h2>
        </div>
        <dl className="dep-facts">
          <Fact k="Commit">
            <ShortSha sha={r.git_sha} /> {r.commit_message}
            <div className="muted small">by {r.author}</div>
          </Fact>
          <Fact k="Deployed by">
            {actorName(r.actor)}
            {r.promoted_from !== null && (
              <div className="muted small">
                promoted from <ReleaseLink service={service} id={r.promoted_from} />
              </div>
            )}
          </Fact>
          <Fact k="Started">
            <span title={dateTime(r.created_at)}>{ago(r.created_at, now)}</span>
            {r.finished_at && <div className="muted small">took {duration(Date.parse(r.finished_at) - Date.parse(r.created_at))}</div>}
          </Fact>
          <Fact k="Served">
            {r.live_at ? (
              <>
                <span title={dateTime(r.live_at)}>from {ago(r.live_at, now)}</span>
                {r.ended_at && <div className="muted small" title={dateTime(r.ended_at)}>until {ago(r.ended_at, now)}</div>}
              </>
            ) : (
              <span className="muted">never</span>
            )}
          </Fact>
          {canary && (
            <Fact k="Canary">
              <span data-testid="release-canary">{canary}</span>
            </Fact>
          )}
          <Fact k="On disk">
            {r.on_disk ? 'yes' : 'no'}
            {r.port !== null && <div className="muted small mono">port {r.port}</div>}
          </Fact>
        </dl>
      </section>

      <section className="card" aria-labelledby="steps-title">
        <div className="card-head">
          <h2 id="steps-title" className="card-title">
            Steps
          </h2>
          {r.state === 'running' && <span className="muted small">updating live</span>}
        </div>
        <Steps release={r} />
      </section>

      {r.gates.length > 0 && (
        <section className="card" aria-labelledby="gates-title">
          <div className="card-head">
            <h2 id="gates-title" className="card-title">
              Gates
            </h2>
          </div>
          <Gates gates={r.gates} />
        </section>
      )}

      <Verification value={r.verification} />

      <section className="card">
        <details className="dep-config">
          <summary className="card-title">Config when it was cut</summary>
          <pre className="dep-output mono" tabIndex={0} aria-label="Deploy config snapshot">
            {JSON.stringify(r.config, null, 2)}
          </pre>
        </details>
      </section>
      {actions.dialog}
    </>
  );
}

/** One release: its facts, gate results and steps with their output, live while it runs. */
export function ReleasePage({ service, id }: { service: string; id: number }) {
  const q = useRelease(service, id);
  return (
    <main className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to={deployPath()}>Deploys</Link>
        <span className="crumb-sep" aria-hidden="true">
          /
        </span>
        <Link to={servicePath(service)}>{service}</Link>
        <span className="crumb-sep" aria-hidden="true">
          /
        </span>
        <span aria-current="page">#{id}</span>
      </nav>
      <QueryState
        query={q}
        errorTitle={`Could not load release ${id}`}
        loading={<LoadingLines lines={4} />}
        notFound={
          <section className="card">
            <EmptyState title={`No release ${id} of ${service}`}>
              <Link to={servicePath(service)}>All releases of {service}</Link>
            </EmptyState>
          </section>
        }
      >
        {(r) => <ReleaseBody service={service} r={r} />}
      </QueryState>
    </main>
  );
}

export default ReleasePage;

import { useState } from 'react';
import { ago, compact, dateTime, ms, ratio } from '../shell/format.ts';
import { useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { servicePath } from './api.ts';
import { actorName, authorName, canaryText, pinnedText, ReleaseLink, ShortSha } from './bits.tsx';
import { DeployDialog, LockDialog, PromoteDialog, READ_ONLY, RollbackDialog, UnlockDialog } from './dialogs.tsx';
import type { EnvView, ReleaseView } from './types.ts';

type Open =
  | { kind: 'deploy'; env: string }
  | { kind: 'promote'; release: ReleaseView; to: string }
  | { kind: 'rollback'; env: EnvView; release?: number }
  | { kind: 'lock'; env: string }
  | { kind: 'unlock'; env: EnvView };

/** The dialogs of one service's actions, opened from its environment tiles or the release page. */
export function useDeployActions(service: string, envs: readonly EnvView[]) {
  const [open, setOpen] = useState<Open | null>(null);
  const names = envs.map((e) => e.env);
  const close = () => setOpen(null);
  const dialog =
    open === null ? null : open.kind === 'deploy' ? (
      <DeployDialog service={service} envs={names} env={open.env} onClose={close} />
    ) : open.kind === 'promote' ? (
      <PromoteDialog service={service} release={open.release} to={open.to} onClose={close} />
    ) : open.kind === 'rollback' ? (
      <RollbackDialog service={service} env={open.env} release={open.release} onClose={close} />
    ) : open.kind === 'lock' ? (
      <LockDialog service={service} envs={names} env={open.env} onClose={close} />
    ) : open.env.lock ? (
      <UnlockDialog service={service} lock={open.env.lock} onClose={close} />
    ) : null;
  return { open: setOpen, dialog };
}

/** The environment after `env` in promotion order, if any. */
export function nextEnv(envs: readonly EnvView[], env: string): string | null {
  const i = envs.findIndex((e) => e.env === env);
  return i >= 0 && i + 1 < envs.length ? (envs[i + 1]?.env ?? null) : null;
}

function ReleaseLine({ service, r, now, testId }: { service: string; r: ReleaseView; now: number; testId: string }) {
  return (
    <div className="dep-rel-line" data-testid={testId}>
      <ReleaseLink service={service} id={r.id} testId={`${testId}-link`} />
      <span className="mono dep-version" data-testid={`${testId}-version`}>
        {r.version}
      </span>
      <ShortSha sha={r.git_sha} />
      <span className="muted small" title={`${r.author} · deployed by ${r.actor} · ${dateTime(r.created_at)}`}>
        {authorName(r.author)} · {r.state === 'live' ? `live ${ago(r.live_at, now)}` : `replaced ${ago(r.ended_at, now)}`}
      </span>
    </div>
  );
}

function Traffic({ service, env }: { service: string; env: EnvView }) {
  if (!env.proxy) return <span className="muted small">served by the hosting platform: no proxy figures</span>;
  const rows = [...env.proxy.releases].sort((a, b) => b.release - a.release);
  if (rows.length === 0) return <span className="muted small">no requests through the proxy since it started</span>;
  const latency = rows.some((r) => r.p95_ms !== undefined);
  return (
    <table className="dep-traffic" aria-label={`Requests per release through the ${env.env} proxy`} data-testid={`traffic-${env.env}`}>
      <thead>
        <tr>
          <th scope="col">Release</th>
          <th scope="col" className="num">
            Requests
          </th>
          <th scope="col" className="num">
            Errors
          </th>
          <th scope="col" className="num">
            Error rate
          </th>
          {latency && (
            <th scope="col" className="num">
              p95
            </th>
          )}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.release} data-testid={`traffic-${env.env}-${r.release}`}>
            <td>
              <ReleaseLink service={service} id={r.release} />
              {env.live?.id === r.release && <span className="muted small"> live</span>}
            </td>
            <td className="num" title={String(r.requests)}>
              {compact(r.requests)}
            </td>
            <td className={`num${r.errors > 0 ? ' text-down' : ''}`} title={String(r.errors)}>
              {compact(r.errors)}
            </td>
            <td className="num">{r.requests > 0 ? ratio(r.errors / r.requests) : '—'}</td>
            {latency && <td className="num" title={r.p50_ms != null ? `p50 ${ms(r.p50_ms)}` : undefined}>{ms(r.p95_ms)}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A canary in progress (the environment's `canary`, or the live release's), or null. */
export function envCanary(env: EnvView): { release: number | null; text: string } | null {
  const c = env.canary;
  if (c && typeof c === 'object') {
    const o = c as Record<string, unknown>;
    const text = canaryText(o.weight ?? o);
    if (text) return { release: typeof o.release === 'number' ? o.release : null, text: `gets ${text}` };
  }
  const text = env.live ? canaryText(env.live.canary) : null;
  return text ? { release: null, text } : null;
}

/** One environment of a service: what is live and warm, the lock, the traffic per release, and its actions. */
function EnvTile({ service, env, envs, writable, actions, now }: { service: string; env: EnvView; envs: readonly EnvView[]; writable: boolean; actions: ReturnType<typeof useDeployActions>; now: number }) {
  const to = nextEnv(envs, env.env);
  const pinned = pinnedText(env.pinned);
  const canary = envCanary(env);
  const watch = env.watch ?? null;
  const lock = env.lock;
  const lockedByDeploy = !!lock && lock.release_id !== null;
  const tid = `env-${service}-${env.env}`;
  return (
    <section className={`dep-env${lock ? ' dep-env-locked' : ''}`} aria-labelledby={`${tid}-title`} data-testid={tid}>
      <header className="dep-env-head">
        <h3 id={`${tid}-title`} className="dep-env-name">
          {env.env}
        </h3>
        {env.proxy ? (
          <span className={`dep-proxy${env.proxy.listening ? '' : ' text-down'}`} title={env.proxy.listening ? 'The proxy is listening' : 'The proxy is not listening'}>
            <span className={`dot dot-${env.proxy.listening ? 'up' : 'down'}`} aria-hidden="true" />
            <span className="mono">
              {env.proxy.host}:{env.proxy.port}
            </span>
            {!env.proxy.listening && ' (not listening)'}
          </span>
        ) : (
          <span className="dep-proxy" title="Served by the hosting platform (driver: command)" data-testid={`${tid}-url`}>
            {env.url ? (
              <a className="mono" href={env.url} rel="noreferrer noopener" target="_blank">
                {env.url}
              </a>
            ) : (
              <span className="muted">on the platform</span>
            )}
          </span>
        )}
        {pinned && (
          <span className="tag dep-tag-pinned" data-testid={`${tid}-pinned`} title="After an automatic rollback: deploys are held until a release is promoted explicitly or the environment is unlocked">
            {pinned}
          </span>
        )}
      </header>

      <div className="dep-env-body">
        <div className="dep-kv">
          <span className="dep-k">Live</span>
          {env.live ? <ReleaseLine service={service} r={env.live} now={now} testId={`${tid}-live`} /> : <span className="muted" data-testid={`${tid}-live`}>Nothing live yet</span>}
        </div>
        {canary && (
          <div className="dep-kv">
            <span className="dep-k">Canary</span>
            <span data-testid={`${tid}-canary`}>
              {canary.release !== null && <ReleaseLink service={service} id={canary.release} />} {canary.text}
            </span>
          </div>
        )}
        {watch && (
          <div className="dep-kv">
            <span className="dep-k">Watch</span>
            <div data-testid={`${tid}-watch`}>
              <span>
                <ReleaseLink service={service} id={watch.release} /> watched until {ago(watch.until, now)}
                {watch.baseline !== null && <span className="muted"> against #{watch.baseline}</span>}
              </span>
              {watch.windows.length > 0 && (
                <ul className="dep-windows" aria-label="Analysed windows">
                  {watch.windows.slice(-5).map((w) => (
                    <li key={w.at} className={w.ok === false ? 'text-down' : w.ok ? 'text-up' : 'muted'} title={dateTime(w.at)}>
                      {w.ok === null ? 'not judged' : w.ok ? 'ok' : 'failed'}: {w.reason}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          </div>
        )}
        <div className="dep-kv">
          <span className="dep-k">Warm</span>
          {env.warm.length === 0 ? (
            <span className="muted small">none</span>
          ) : (
            <div className="dep-warm">
              {env.warm.map((w) => (
                <ReleaseLine key={w.id} service={service} r={w} now={now} testId={`${tid}-warm-${w.id}`} />
              ))}
            </div>
          )}
        </div>
        <div className="dep-kv">
          <span className="dep-k">Lock</span>
          {lock ? (
            <div className="dep-lock" data-testid={`${tid}-lock`}>
              <span>
                <svg width="12" height="12" viewBox="0 0 16 16" aria-hidden="true">
                  <rect x="3" y="7" width="10" height="7" rx="1.5" fill="currentColor" />
                  <path d="M5 7V5a3 3 0 016 0v2" fill="none" stroke="currentColor" strokeWidth="1.6" />
                </svg>{' '}
                <strong>{actorName(lock.owner)}</strong>: {lock.reason}
                {lock.release_id !== null && (
                  <>
                    {' '}
                    · <ReleaseLink service={service} id={lock.release_id} testId={`${tid}-running`} />
                  </>
                )}
              </span>
              <span className="muted small" title={`Locked ${dateTime(lock.acquired_at)}, expires ${dateTime(lock.expires_at)}`}>
                since {ago(lock.acquired_at, now)} · expires {ago(lock.expires_at, now)}
              </span>
            </div>
          ) : (
            <span className="muted small" data-testid={`${tid}-lock`}>
              unlocked
            </span>
          )}
        </div>
        <div className="dep-kv">
          <span className="dep-k">Traffic</span>
          <div className="dep-traffic-wrap">
            <Traffic service={service} env={env} />
          </div>
        </div>
      </div>

      <div className="dep-env-actions">
        {env.live && to && (
          <button type="button" className="btn btn-secondary btn-sm" disabled={!writable} title={writable ? `Run release #${env.live.id} in ${to}` : READ_ONLY} onClick={() => env.live && actions.open({ kind: 'promote', release: env.live, to })} data-testid={`${tid}-promote`}>
            Promote to {to}
          </button>
        )}
        <button type="button" className="btn btn-secondary btn-sm" disabled={!writable} title={writable ? 'Switch back to an earlier release' : READ_ONLY} onClick={() => actions.open({ kind: 'rollback', env })} data-testid={`${tid}-rollback`}>
          Roll back…
        </button>
        {lock ? (
          <button
            type="button"
            className="btn btn-ghost btn-sm"
            disabled={!writable || lockedByDeploy}
            title={!writable ? READ_ONLY : lockedByDeploy ? 'Held by a running deploy: it unlocks when the deploy ends' : 'Remove the lock'}
            onClick={() => actions.open({ kind: 'unlock', env })}
            data-testid={`${tid}-unlock`}
          >
            Unlock
          </button>
        ) : (
          <button type="button" className="btn btn-ghost btn-sm" disabled={!writable} title={writable ? 'Refuse deploys here for a while' : READ_ONLY} onClick={() => actions.open({ kind: 'lock', env: env.env })} data-testid={`${tid}-lock-button`}>
            Lock…
          </button>
        )}
      </div>
    </section>
  );
}

/** A service's environments side by side, in promotion order, with a Deploy button. */
export function ServiceStatus({ service, envs, writable, title = true }: { service: string; envs: readonly EnvView[]; writable: boolean; title?: boolean }) {
  const now = useNow(10_000);
  const actions = useDeployActions(service, envs);
  return (
    <section className="card" aria-labelledby={`svc-${service}-title`} data-testid={`deploy-service-${service}`}>
      <div className="card-head">
        <h2 id={`svc-${service}-title`} className="card-title">
          {title ? <Link to={servicePath(service)}>{service}</Link> : 'Environments'}
        </h2>
        <div className="toolbar">
          {title && (
            <Link to={servicePath(service)} className="btn btn-ghost btn-sm">
              Releases
            </Link>
          )}
          <button type="button" className="btn btn-primary btn-sm" disabled={!writable || envs.length === 0} title={writable ? `Cut a release of ${service} from git` : READ_ONLY} onClick={() => actions.open({ kind: 'deploy', env: envs[0]?.env ?? '' })} data-testid={`deploy-${service}`}>
            Deploy…
          </button>
        </div>
      </div>
      <div className="dep-envs">
        {envs.map((e) => (
          <EnvTile key={e.env} service={service} env={e} envs={envs} writable={writable} actions={actions} now={now} />
        ))}
      </div>
      {actions.dialog}
    </section>
  );
}

/** Release states a rollback may switch to. */
export const canRollBackTo = (r: ReleaseView) => r.state === 'warm' || r.state === 'retired' || r.state === 'rolled_back';

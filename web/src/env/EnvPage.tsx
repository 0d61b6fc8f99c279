import { useId, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ApiError, errorMessage } from '../shell/api.ts';
import { ago, dateTime, plural } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { useMe } from '../shell/session.ts';
import { EmptyState, Skeleton, Spinner } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { envApi, envKeys, useEnvOverview } from './api.ts';
import type { EnvVarView } from './types.ts';
import './env.css';

const DAY = 86_400_000;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,199}$/;
const ENV_RE = /^[a-z][a-z0-9_-]{0,31}$/;
const ADMIN_ONLY = 'Needs a token with admin scope';

const span = (ms: number) => (ms >= DAY ? `${Math.floor(ms / DAY)}d` : ms >= 3_600_000 ? `${Math.floor(ms / 3_600_000)}h` : ms >= 60_000 ? `${Math.floor(ms / 60_000)}m` : `${Math.max(1, Math.floor(ms / 1000))}s`);

function problemText(err: unknown): string {
  return err instanceof ApiError && err.status === 403 ? 'Your token may not do this (admin scope needed).' : errorMessage(err);
}

/** Rotation state of one variable: nothing without a policy, "due in 12d", or a highlighted "overdue by 3d". */
function Rotation({ v, now }: { v: EnvVarView; now: number }) {
  if (v.rotation_due_at === null) return <span className="muted">no policy</span>;
  const due = Date.parse(v.rotation_due_at);
  if (v.overdue || due < now)
    return (
      <span className="pill pill-down pill-sm env-overdue" data-testid="env-overdue" title={`due ${dateTime(v.rotation_due_at)}`}>
        overdue by {span(now - due)}
      </span>
    );
  return (
    <span className="muted" title={`due ${dateTime(v.rotation_due_at)}`}>
      due in {span(due - now)}
    </span>
  );
}

function useRefresh() {
  const qc = useQueryClient();
  return () => void qc.invalidateQueries({ queryKey: envKeys.all });
}

/** Unset (two clicks) and mark rotated, for admins. */
function RowActions({ v }: { v: EnvVarView }) {
  const refresh = useRefresh();
  const [confirming, setConfirming] = useState(false);
  const unset = useMutation({ mutationFn: () => envApi.unset(v.service, v.env, v.name), onSettled: refresh });
  const rotated = useMutation({ mutationFn: () => envApi.rotated(v.service, v.env, v.name), onSettled: refresh });
  const error = unset.error ?? rotated.error;
  return (
    <div className="env-actions">
      {v.rotation_due_at !== null && (
        <button type="button" className="btn btn-ghost btn-sm" disabled={rotated.isPending} onClick={() => rotated.mutate()} title="Record that this secret was rotated (the stored value stays)">
          Mark rotated
        </button>
      )}
      {confirming ? (
        <>
          <button type="button" className="btn btn-sm env-btn-danger" disabled={unset.isPending} onClick={() => unset.mutate()} data-testid={`env-unset-confirm-${v.name}`}>
            {unset.isPending ? <Spinner label="Removing" /> : `Unset ${v.name}`}
          </button>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </>
      ) : (
        <button type="button" className="btn btn-secondary btn-sm" onClick={() => setConfirming(true)} data-testid={`env-unset-${v.name}`}>
          Unset
        </button>
      )}
      {error ? (
        <span className="form-error" role="alert">
          {problemText(error)}
        </span>
      ) : null}
    </div>
  );
}

/** Set a variable of a service: the value goes up once, encrypted by the server, and is never shown again. */
function SetForm({ service, envs }: { service: string; envs: string[] }) {
  const refresh = useRefresh();
  const ids = { env: useId(), name: useId(), value: useId(), list: useId() };
  const [env, setEnv] = useState(envs[0] ?? 'production');
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const m = useMutation({
    mutationFn: () => envApi.set(service, env, { [name]: value }),
    onSuccess: (r) => {
      const i = r.items[0];
      setDone(i ? (i.changed ? `${i.name} set for ${service}/${env} (version ${i.version})` : `${i.name} unchanged (same value)`) : null);
      setValue('');
      setName('');
    },
    onSettled: refresh,
  });
  const badName = name !== '' && !NAME_RE.test(name);
  const badEnv = !ENV_RE.test(env);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!badName && !badEnv && name && !m.isPending) {
      setDone(null);
      m.mutate();
    }
  };
  return (
    <form className="env-set" onSubmit={submit} noValidate data-testid={`env-set-${service}`} autoComplete="off">
      <label className="label" htmlFor={ids.env}>
        Environment
      </label>
      <input id={ids.env} className={`input input-sm ${badEnv ? 'input-invalid' : ''}`} list={ids.list} value={env} onChange={(e) => setEnv(e.target.value.trim())} />
      <datalist id={ids.list}>
        {envs.map((e) => (
          <option key={e} value={e} />
        ))}
      </datalist>
      <label className="label" htmlFor={ids.name}>
        Name
      </label>
      <input id={ids.name} className={`input input-sm input-mono ${badName ? 'input-invalid' : ''}`} placeholder="STRIPE_SECRET_KEY" value={name} onChange={(e) => setName(e.target.value.trim())} />
      <label className="label" htmlFor={ids.value}>
        Value
      </label>
      <input id={ids.value} className="input input-sm input-mono" type="password" autoComplete="new-password" spellCheck={false} value={value} onChange={(e) => setValue(e.target.value)} />
      <button type="submit" className="btn btn-primary btn-sm" disabled={m.isPending || !name || badName || badEnv}>
        {m.isPending ? <Spinner label="Saving" /> : 'Set'}
      </button>
      {badName && <span className="form-error">A name is letters, digits and “_”, not starting with a digit.</span>}
      {m.error ? (
        <span className="form-error" role="alert">
          {problemText(m.error)}
        </span>
      ) : done ? (
        <span className="muted" role="status">
          {done}
        </span>
      ) : null}
    </form>
  );
}

function ServiceCard({ service, vars, admin, now }: { service: string; vars: EnvVarView[]; admin: boolean; now: number }) {
  const envs = [...new Set(vars.map((v) => v.env))];
  const overdue = vars.filter((v) => v.overdue).length;
  return (
    <section className="card env-card" data-testid={`env-service-${service}`}>
      <div className="card-head">
        <h2 className="card-title">
          {service}
          <span className="card-title-sub muted">
            {' '}
            {plural(vars.length, 'variable')}
            {overdue > 0 && <span className="text-down"> · {overdue} overdue for rotation</span>}
          </span>
        </h2>
      </div>
      {envs.length === 0 ? (
        <p className="pad muted">Nothing stored for {service} yet.</p>
      ) : (
        envs.map((env) => (
          <div key={env} className="env-env">
            <h3 className="env-env-name">{env}</h3>
            <div className="table-wrap">
              <table className="table env-table">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Value</th>
                    <th className="num">Version</th>
                    <th>Updated</th>
                    <th>Rotated</th>
                    <th>Rotation</th>
                    {admin && <th aria-label="Actions" />}
                  </tr>
                </thead>
                <tbody>
                  {vars
                    .filter((v) => v.env === env)
                    .map((v) => (
                      <tr key={v.name} className={v.overdue ? 'env-row-overdue' : undefined} data-testid={`env-row-${env}-${v.name}`}>
                        <td className="mono">{v.name}</td>
                        <td className="mono env-masked" data-testid="env-masked">
                          {v.masked}
                        </td>
                        <td className="num">{v.version}</td>
                        <td title={dateTime(v.updated_at)}>
                          {ago(v.updated_at, now)} <span className="muted">by {v.updated_by}</span>
                        </td>
                        <td title={dateTime(v.rotated_at)}>{ago(v.rotated_at, now)}</td>
                        <td>
                          <Rotation v={v} now={now} />
                        </td>
                        {admin && (
                          <td>
                            <RowActions v={v} />
                          </td>
                        )}
                      </tr>
                    ))}
                </tbody>
              </table>
            </div>
          </div>
        ))
      )}
      <div className="card-foot">{admin ? <SetForm service={service} envs={envs} /> : <span className="muted small">{ADMIN_ONLY} to set or unset variables.</span>}</div>
    </section>
  );
}

/** Every service × environment of the encrypted env store: masked values, versions, who changed them, rotation. */
export function EnvPage() {
  const me = useMe();
  const admin = !!me.data?.scopes.includes('admin');
  const q = useEnvOverview();
  const now = useNow(30_000);
  useDocumentTitle('Env · Shipshape');
  const items = q.data?.items ?? [];
  const overdue = items.filter((v) => v.overdue).length;
  return (
    <main className="page">
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>Environment variables</h1>
          </div>
          <p className="svc-page-sub muted" data-testid="env-summary">
            {q.data ? (
              <>
                {plural(items.length, 'variable')} encrypted in the store
                {overdue > 0 && <span className="text-down"> · {overdue} overdue for rotation</span>}
              </>
            ) : q.isError ? (
              'Encrypted per service and environment'
            ) : (
              <Skeleton w={220} h={12} />
            )}
          </p>
        </div>
      </header>
      {q.data?.key.problem ? (
        <div className="banner banner-error" role="alert" data-testid="env-key-problem">
          {q.data.key.problem}
        </div>
      ) : null}
      <QueryState
        query={q}
        errorTitle="Could not load the env store"
        notFound={<EmptyState title="The env store is not available">This server has no env module.</EmptyState>}
        isEmpty={(d) => d.services.length === 0}
        empty={
          <section className="card">
            <EmptyState title="No services">
              Add a service under <code>services:</code> in <code>shipshape.yaml</code>, then store its variables here or with <code>shipshape env set NAME=value --service web</code>.
            </EmptyState>
          </section>
        }
      >
        {(d) =>
          d.services.map((s) => (
            <ServiceCard
              key={s}
              service={s}
              vars={d.items.filter((v) => v.service === s)}
              admin={admin}
              now={now}
            />
          ))
        }
      </QueryState>
    </main>
  );
}

export default EnvPage;

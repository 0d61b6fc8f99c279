import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode, type RefObject } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, errorMessage } from '../shell/api.ts';
import { ago, dateTime } from '../shell/format.ts';
import { useNow } from '../shell/hooks.ts';
import { navigate } from '../shell/router.tsx';
import { Spinner } from '../shell/ui/Feedback.tsx';
import { deployApi, deployKeys, releasePath } from './api.ts';
import { ReleaseStatePill, ShortSha } from './bits.tsx';
import type { DeployLock, EnvView, ReleaseView } from './types.ts';

/**
 * The deploy screens' confirmations: deploy a ref, promote a release, roll back to a chosen
 * release, lock and unlock an environment. Each is a modal <dialog> (the shell's `.dialog`), shows
 * the API's problem detail when refused (a lock's owner and reason, an unknown ref…), and closes
 * when the server accepted.
 */

export const READ_ONLY = 'Needs a token with write scope';

function problemText(err: unknown): string {
  return err instanceof ApiError && err.status === 403 ? 'Your token may not do this (write scope needed).' : errorMessage(err);
}

interface ShellProps {
  title: string;
  intro: ReactNode;
  submit: string;
  pendingText: string;
  pending: boolean;
  error: unknown;
  danger?: boolean;
  disabled?: boolean;
  testId: string;
  onSubmit: () => void;
  onClose: () => void;
  children?: ReactNode;
  dialogRef: RefObject<HTMLDialogElement | null>;
}

function DialogShell({ title, intro, submit, pendingText, pending, error, danger, disabled, testId, onSubmit, onClose, children, dialogRef }: ShellProps) {
  const head = useId();
  const desc = useId();
  useEffect(() => {
    const d = dialogRef.current;
    if (d && !d.open) d.showModal();
  }, [dialogRef]);
  const go = (e: FormEvent) => {
    e.preventDefault();
    if (!pending) onSubmit();
  };
  return (
    <dialog ref={dialogRef} className="dialog dep-dialog" aria-labelledby={head} aria-describedby={desc} onClose={onClose} onCancel={onClose} data-testid={testId}>
      <form onSubmit={go} noValidate>
        <div className="dialog-head">
          <h2 id={head}>{title}</h2>
          <p className="muted" id={desc}>
            {intro}
          </p>
        </div>
        <div className="dialog-body">
          {children}
          {error ? (
            <div className="form-error dep-problem" role="alert" data-testid={`${testId}-error`}>
              {problemText(error)}
            </div>
          ) : null}
        </div>
        <div className="dialog-foot">
          <button type="button" className="btn btn-secondary" onClick={() => dialogRef.current?.close()}>
            Cancel
          </button>
          <button type="submit" className={`btn ${danger ? 'dep-btn-danger' : 'btn-primary'}`} disabled={pending || disabled} data-testid={`${testId}-submit`}>
            {pending ? (
              <>
                <Spinner label={pendingText} /> {pendingText}
              </>
            ) : (
              submit
            )}
          </button>
        </div>
      </form>
    </dialog>
  );
}

function useRefresh() {
  const qc = useQueryClient();
  return () => void qc.invalidateQueries({ queryKey: deployKeys.all });
}

/** A deploy or promotion started: refresh now and when it ends, close the dialog, open the new release's page. */
function useStarted(service: string, dialog: RefObject<HTMLDialogElement | null>) {
  const refresh = useRefresh();
  return ({ release, done }: { release: { id: number }; done: Promise<unknown> }) => {
    refresh();
    void done.then(refresh, refresh);
    dialog.current?.close();
    navigate(releasePath(service, release.id));
  };
}

function EnvSelect({ id, envs, value, onChange }: { id: string; envs: readonly string[]; value: string; onChange: (v: string) => void }) {
  return (
    <select id={id} className="select" value={value} onChange={(e) => onChange(e.target.value)}>
      {envs.map((e) => (
        <option key={e} value={e}>
          {e}
        </option>
      ))}
    </select>
  );
}

/** Deploy a git ref to an environment; opens the new release's page as soon as it exists. */
export function DeployDialog({ service, envs, env: initialEnv, onClose }: { service: string; envs: readonly string[]; env?: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const ids = { ref: useId(), env: useId(), canary: useId() };
  const started = useStarted(service, ref);
  const [gitRef, setGitRef] = useState('');
  const [env, setEnv] = useState(initialEnv ?? envs[0] ?? '');
  const [canary, setCanary] = useState('');
  const run = useMutation({
    mutationFn: () => deployApi.deploy(service, { env, ...(gitRef.trim() ? { ref: gitRef.trim() } : {}), ...(canary.trim() ? { canary: canary.trim() } : {}) }),
    onSuccess: started,
  });
  return (
    <DialogShell
      dialogRef={ref}
      title={`Deploy ${service}`}
      intro={
        <>
          Cuts a release from the ref, runs the gates and the build, starts it and switches <strong>{env}</strong> to it once healthy. The release serving now keeps serving if anything fails.
        </>
      }
      submit={`Deploy to ${env}`}
      pendingText="Starting"
      pending={run.isPending}
      error={run.error}
      testId="deploy-dialog"
      onSubmit={() => run.mutate()}
      onClose={onClose}
    >
      <div className="dep-row">
        <div className="dep-grow">
          <label className="label" htmlFor={ids.ref}>
            Git ref
          </label>
          <input id={ids.ref} name="ref" className="input input-mono" placeholder="HEAD" value={gitRef} maxLength={200} onChange={(e) => setGitRef(e.target.value)} autoFocus aria-describedby={`${ids.ref}-hint`} />
          <div id={`${ids.ref}-hint`} className="muted small dep-hint">
            A branch, tag or commit of the service's repository; empty for HEAD.
          </div>
        </div>
        <div>
          <label className="label" htmlFor={ids.env}>
            Environment
          </label>
          <EnvSelect id={ids.env} envs={envs} value={env} onChange={setEnv} />
        </div>
        <div>
          <label className="label" htmlFor={ids.canary}>
            Canary <span className="muted">(optional)</span>
          </label>
          <input id={ids.canary} name="canary" className="input dep-input-short" placeholder="10%" value={canary} maxLength={6} onChange={(e) => setCanary(e.target.value)} title="Start with this share of clients on the new release, then step up" />
        </div>
      </div>
    </DialogShell>
  );
}

/** Promote a release's build to another environment (the next one by default). */
export function PromoteDialog({ service, release, to, onClose }: { service: string; release: ReleaseView; to: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const started = useStarted(service, ref);
  const run = useMutation({
    mutationFn: () => deployApi.promote(service, release.id, to),
    onSuccess: started,
  });
  return (
    <DialogShell
      dialogRef={ref}
      title={`Promote release #${release.id} to ${to}`}
      intro={
        <>
          Runs the build of release #{release.id} ({release.version}, <ShortSha sha={release.git_sha} />) from {release.env} in <strong>{to}</strong>: started, health-gated, then switched to. Its gates passed in {release.env}.
        </>
      }
      submit={`Promote to ${to}`}
      pendingText="Starting"
      pending={run.isPending}
      error={run.error}
      testId="promote-dialog"
      onSubmit={() => run.mutate()}
      onClose={onClose}
    />
  );
}

const ROLLBACK_STATES = new Set(['warm', 'retired', 'rolled_back']);

/** Roll an environment back to a release that served before: warm ones instantly, stopped ones by starting them again. */
export function RollbackDialog({ service, env, onClose, release: preselect }: { service: string; env: EnvView; onClose: () => void; release?: number }) {
  const ref = useRef<HTMLDialogElement>(null);
  const refresh = useRefresh();
  const now = useNow(15_000);
  const list = useQuery({ queryKey: [...deployKeys.releases(service), env.env, 'rollback'], queryFn: async ({ signal }) => (await deployApi.releases(service, { env: env.env, limit: 50 }, signal)).items });
  const warmIds = new Set(env.warm.map((w) => w.id));
  const candidates = (list.data ?? []).filter((r) => ROLLBACK_STATES.has(r.state) && r.id !== env.live?.id);
  const usable = (r: ReleaseView) => warmIds.has(r.id) || r.on_disk;
  const firstUsable = candidates.find((r) => warmIds.has(r.id)) ?? candidates.find(usable);
  const [picked, setPicked] = useState<number | null>(preselect ?? null);
  const chosen = candidates.find((r) => r.id === (picked ?? firstUsable?.id));
  const run = useMutation({
    mutationFn: async () => {
      if (!chosen) throw new Error('Choose a release to roll back to');
      const started = await deployApi.rollback(service, { env: env.env, release: chosen.id });
      // warm: a pointer swap; stopped: its start and health checks first. Either way, wait for the end.
      return started.done;
    },
    onSuccess: () => {
      refresh();
      ref.current?.close();
    },
    onError: refresh,
  });
  return (
    <DialogShell
      dialogRef={ref}
      title={`Roll back ${service} in ${env.env}`}
      intro={
        <>
          Switches <strong>{env.env}</strong> to an earlier release{env.live ? <> instead of #{env.live.id} ({env.live.version})</> : null}. A warm release takes over at once; a stopped one is started and health-checked first, and the current one keeps serving if that fails.
        </>
      }
      submit={chosen ? `Roll back to #${chosen.id}` : 'Roll back'}
      pendingText="Rolling back"
      pending={run.isPending}
      error={run.error}
      danger
      disabled={!chosen || !usable(chosen)}
      testId="rollback-dialog"
      onSubmit={() => run.mutate()}
      onClose={onClose}
    >
      <fieldset className="dep-fieldset">
        <legend className="label">Release to roll back to</legend>
        {list.isPending && <Spinner label="Loading releases" />}
        {list.isError && <div className="form-error">{problemText(list.error)}</div>}
        {list.data && candidates.length === 0 && <p className="muted">No earlier release of {env.env} served: there is nothing to roll back to.</p>}
        <div className="dep-choices">
          {candidates.map((r) => {
            const warm = warmIds.has(r.id);
            const ok = usable(r);
            return (
              <label key={r.id} className={`dep-choice${chosen?.id === r.id ? ' dep-choice-on' : ''}${ok ? '' : ' dep-choice-off'}`} data-testid={`rollback-choice-${r.id}`}>
                <input type="radio" name="release" value={r.id} checked={chosen?.id === r.id} disabled={!ok} onChange={() => setPicked(r.id)} />
                <span className="dep-choice-main">
                  <span className="dep-choice-title">
                    #{r.id} <span className="mono">{r.version}</span> <ShortSha sha={r.git_sha} /> <ReleaseStatePill state={r.state} />
                  </span>
                  <span className="muted small" title={dateTime(r.live_at)}>
                    {warm ? 'warm: instant' : ok ? 'stopped: starts again (cold)' : 'no longer on disk: deploy its commit again instead'}
                    {r.ended_at ? ` · replaced ${ago(r.ended_at, now)}` : ''}
                  </span>
                </span>
              </label>
            );
          })}
        </div>
      </fieldset>
    </DialogShell>
  );
}

/** Lock an environment against deploys, promotions and rollbacks, with a reason and an expiry. */
export function LockDialog({ service, envs, env: initialEnv, onClose }: { service: string; envs: readonly string[]; env: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const ids = { env: useId(), reason: useId(), for: useId() };
  const refresh = useRefresh();
  const [env, setEnv] = useState(initialEnv);
  const [reason, setReason] = useState('');
  const [forText, setFor] = useState('24h');
  const [touched, setTouched] = useState(false);
  const missing = touched && !reason.trim();
  const run = useMutation({
    mutationFn: () => deployApi.lock(service, { env, reason: reason.trim(), for: forText.trim() || undefined }),
    onSuccess: () => {
      refresh();
      ref.current?.close();
    },
  });
  return (
    <DialogShell
      dialogRef={ref}
      title={`Lock ${service} in ${env}`}
      intro="While locked, deploys, promotions and rollbacks of this environment are refused with your name and reason. The lock ends by itself when it expires."
      submit="Lock"
      pendingText="Locking"
      pending={run.isPending}
      error={run.error}
      testId="lock-dialog"
      onSubmit={() => {
        setTouched(true);
        if (reason.trim()) run.mutate();
      }}
      onClose={onClose}
    >
      <div className="dep-row">
        <div>
          <label className="label" htmlFor={ids.env}>
            Environment
          </label>
          <EnvSelect id={ids.env} envs={envs} value={env} onChange={setEnv} />
        </div>
        <div>
          <label className="label" htmlFor={ids.for}>
            For
          </label>
          <input id={ids.for} className="input dep-input-short" value={forText} maxLength={20} placeholder="24h" onChange={(e) => setFor(e.target.value)} />
        </div>
      </div>
      <div>
        <label className="label" htmlFor={ids.reason}>
          Reason
        </label>
        <input
          id={ids.reason}
          name="reason"
          className={`input${missing ? ' input-invalid' : ''}`}
          value={reason}
          maxLength={500}
          placeholder="Code freeze for the launch"
          onChange={(e) => setReason(e.target.value)}
          aria-invalid={missing || undefined}
          aria-describedby={missing ? `${ids.reason}-err` : undefined}
          autoFocus
        />
        {missing && (
          <div className="form-error" id={`${ids.reason}-err`}>
            Say why: it is shown to whoever tries to deploy.
          </div>
        )}
      </div>
    </DialogShell>
  );
}

/** Remove an environment's lock (a running deploy's lock is refused by the server). */
export function UnlockDialog({ service, lock, onClose }: { service: string; lock: DeployLock; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const refresh = useRefresh();
  const now = useNow(15_000);
  const run = useMutation({
    mutationFn: () => deployApi.unlock(service, lock.env),
    onSuccess: () => {
      refresh();
      ref.current?.close();
    },
  });
  return (
    <DialogShell
      dialogRef={ref}
      title={`Unlock ${service} in ${lock.env}`}
      intro={
        <>
          Locked by <strong>{lock.owner}</strong> {ago(lock.acquired_at, now)}: “{lock.reason}”. Unlocking lets deploys, promotions and rollbacks of {lock.env} run again.
        </>
      }
      submit="Unlock"
      pendingText="Unlocking"
      pending={run.isPending}
      error={run.error}
      testId="unlock-dialog"
      onSubmit={() => run.mutate()}
      onClose={onClose}
    />
  );
}

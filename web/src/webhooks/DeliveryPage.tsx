import { useMutation, useQueryClient } from '@tanstack/react-query';
import { errorMessage } from '../shell/api.ts';
import { dateTime, plural } from '../shell/format.ts';
import { useDocumentTitle } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { canWrite, useMe } from '../shell/session.ts';
import { EmptyState } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { inboxPath, useDelivery, webhookApi, webhookKeys } from './api.ts';
import { StatePill } from './bits.tsx';
import './webhooks.css';

/** One delivery: what came in (kept headers, size) and every forward attempt; replay with write scope. */
export function DeliveryPage({ id }: { id: number }) {
  useDocumentTitle(`Webhook #${id} · Shipshape`);
  const me = useMe();
  const q = useDelivery(id);
  const qc = useQueryClient();
  const replay = useMutation({
    mutationFn: () => webhookApi.replay(id),
    onSuccess: () => void qc.invalidateQueries({ queryKey: webhookKeys.all }),
  });
  return (
    <main className="page">
      <p className="muted">
        <Link to={inboxPath()}>← Webhooks</Link>
      </p>
      <QueryState query={q} errorTitle="Could not load the delivery" notFound={<EmptyState title={`No delivery #${id}`} />}>
        {(d) => (
          <>
            <header className="svc-page-head">
              <div>
                <div className="svc-page-title">
                  <h1>
                    {d.hook} #{d.id}
                  </h1>
                  <StatePill state={d.state} testId="wh-detail-state" />
                </div>
                <p className="svc-page-sub muted">
                  {d.event_type ? <code>{d.event_type}</code> : 'no event type'} · received {dateTime(d.received_at)} · {d.body_size} bytes {d.content_type} · {plural(d.attempts, 'attempt')}
                  {d.next_attempt_at && <> · next attempt {dateTime(d.next_attempt_at)}</>}
                </p>
              </div>
              {canWrite(me.data) && (
                <div>
                  <button type="button" className="btn btn-primary btn-sm" disabled={replay.isPending} onClick={() => replay.mutate()} data-testid="wh-replay">
                    {replay.isPending ? 'Replaying…' : 'Replay'}
                  </button>
                </div>
              )}
            </header>
            {replay.isError && (
              <p className="text-down" role="alert">
                {errorMessage(replay.error)}
              </p>
            )}
            {replay.isSuccess && (
              <p className="muted" role="status" data-testid="wh-replayed">
                Queued again.
              </p>
            )}
            <section className="card">
              <div className="card-head">
                <h2 className="card-title">Attempts</h2>
              </div>
              {d.attempt_log.length === 0 ? (
                <EmptyState title="No attempts yet" />
              ) : (
                <div className="table-wrap">
                  <table className="table" data-testid="wh-attempts">
                    <thead>
                      <tr>
                        <th>#</th>
                        <th>Started</th>
                        <th>Took</th>
                        <th>Status</th>
                        <th>Error</th>
                        <th>Answer</th>
                        <th>By</th>
                      </tr>
                    </thead>
                    <tbody>
                      {d.attempt_log.map((a) => (
                        <tr key={`${a.attempt}-${a.started_at}`}>
                          <td>{a.attempt}</td>
                          <td>{dateTime(a.started_at)}</td>
                          <td>{a.duration_ms} ms</td>
                          <td className={a.status !== null && a.status >= 200 && a.status < 300 ? 'text-up' : 'text-down'}>{a.status ?? '—'}</td>
                          <td className="wh-error">{a.error ?? ''}</td>
                          <td>
                            <div className="mono wh-snippet" title={a.response ?? ''}>
                              {a.response ?? ''}
                            </div>
                          </td>
                          <td>{a.trigger}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </section>
            <section className="card">
              <div className="card-head">
                <h2 className="card-title">Kept headers</h2>
              </div>
              <dl className="wh-headers">
                {Object.entries(d.headers).map(([k, v]) => (
                  <div key={k}>
                    <dt className="mono">{k}</dt>
                    <dd className="mono">{v}</dd>
                  </div>
                ))}
              </dl>
            </section>
          </>
        )}
      </QueryState>
    </main>
  );
}

export default DeliveryPage;

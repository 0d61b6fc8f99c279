import { useState } from 'react';
import { ago, plural } from '../shell/format.ts';
import { useDocumentTitle, useNow } from '../shell/hooks.ts';
import { Link } from '../shell/router.tsx';
import { EmptyState, Skeleton } from '../shell/ui/Feedback.tsx';
import { QueryState } from '../shell/ui/QueryState.tsx';
import { deliveryPath, useDeliveries, useHooks } from './api.ts';
import { StatePill } from './bits.tsx';
import './webhooks.css';

const EXAMPLE = `webhooks:
  stripe:
    verify: { stripe: { secret: "\${STRIPE_WEBHOOK_SECRET}" } }
    forward: "http://127.0.0.1:3000/api/webhooks/stripe"`;

/** The inbox: each hook's counts, then the deliveries (hook, received, state, attempts, last error). */
export function WebhooksPage() {
  useDocumentTitle('Webhooks · Shipshape');
  const now = useNow();
  const [hook, setHook] = useState('');
  const [state, setState] = useState('');
  const hooks = useHooks();
  const list = useDeliveries(hook, state);
  const failed = hooks.data?.reduce((n, h) => n + h.states.failed, 0) ?? 0;
  const pending = hooks.data?.reduce((n, h) => n + h.states.pending, 0) ?? 0;
  return (
    <main className="page">
      <header className="svc-page-head">
        <div>
          <div className="svc-page-title">
            <h1>Webhooks</h1>
          </div>
          <p className="svc-page-sub muted" data-testid="webhooks-summary">
            {hooks.data ? (
              <>
                {plural(hooks.data.length, 'hook')} · {pending} pending
                {failed > 0 && <span className="text-down"> · {failed} failed</span>}
              </>
            ) : (
              <Skeleton w={200} h={12} />
            )}
          </p>
        </div>
      </header>
      <QueryState
        query={hooks}
        errorTitle="Could not load webhooks"
        isEmpty={(d) => d.length === 0}
        empty={
          <section className="card">
            <EmptyState title="No webhooks yet">
              Add a <code>webhooks:</code> section to <code>shipshape.yaml</code>; senders post to <code>/hooks/&lt;name&gt;</code>:
              <pre className="snippet">{EXAMPLE}</pre>
            </EmptyState>
          </section>
        }
      >
        {(hs) => (
          <>
            <section className="card">
              <div className="table-wrap">
                <table className="table wh-hooks" data-testid="wh-hooks">
                  <thead>
                    <tr>
                      <th>Hook</th>
                      <th>Scheme</th>
                      <th>Forwards to</th>
                      <th>Pending</th>
                      <th>Delivered</th>
                      <th>Failed</th>
                    </tr>
                  </thead>
                  <tbody>
                    {hs.map((h) => (
                      <tr key={h.name} data-hook={h.name}>
                        <td>
                          <code>{h.path}</code>
                        </td>
                        <td>{h.scheme}</td>
                        <td className="mono wh-url">{h.forward}</td>
                        <td>{h.states.pending}</td>
                        <td>{h.states.delivered}</td>
                        <td className={h.states.failed ? 'text-down' : ''}>{h.states.failed}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
            <section className="card">
              <div className="card-head wh-filters">
                <h2 className="card-title">Deliveries</h2>
                <label>
                  Hook{' '}
                  <select value={hook} onChange={(e) => setHook(e.target.value)} data-testid="wh-filter-hook">
                    <option value="">all</option>
                    {hs.map((h) => (
                      <option key={h.name} value={h.name}>
                        {h.name}
                      </option>
                    ))}
                  </select>
                </label>
                <label>
                  State{' '}
                  <select value={state} onChange={(e) => setState(e.target.value)} data-testid="wh-filter-state">
                    <option value="">all</option>
                    <option value="pending">pending</option>
                    <option value="delivered">delivered</option>
                    <option value="failed">failed</option>
                  </select>
                </label>
              </div>
              <QueryState query={list} errorTitle="Could not load deliveries" isEmpty={(d) => d.length === 0} empty={<EmptyState title="No deliveries match" />}>
                {(items) => (
                  <div className="table-wrap">
                    <table className="table" data-testid="wh-deliveries">
                      <thead>
                        <tr>
                          <th>#</th>
                          <th>Hook</th>
                          <th>Event</th>
                          <th>Received</th>
                          <th>State</th>
                          <th>Attempts</th>
                          <th>Last error</th>
                        </tr>
                      </thead>
                      <tbody>
                        {items.map((d) => (
                          <tr key={d.id} data-id={d.id}>
                            <td>
                              <Link to={deliveryPath(d.id)} data-testid={`wh-link-${d.id}`}>
                                #{d.id}
                              </Link>
                            </td>
                            <td>{d.hook}</td>
                            <td className="mono">{d.event_type ?? ''}</td>
                            <td title={d.received_at}>{ago(d.received_at, now)}</td>
                            <td>
                              <StatePill state={d.state} testId={`wh-state-${d.id}`} />
                            </td>
                            <td>{d.attempts}</td>
                            <td className="wh-error">{d.last_error ?? ''}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </QueryState>
            </section>
          </>
        )}
      </QueryState>
    </main>
  );
}

export default WebhooksPage;

import type { DeliveryState } from './api.ts';

const TEXT: Record<DeliveryState, string> = { pending: 'Pending', delivered: 'Delivered', failed: 'Failed' };
const PILL: Record<DeliveryState, string> = { pending: 'pill-degraded', delivered: 'pill-up', failed: 'pill-down' };

export function StatePill({ state, testId }: { state: DeliveryState; testId?: string }) {
  return (
    <span className={`pill pill-sm ${PILL[state]}`} data-state={state}>
      <span className="pill-dot" aria-hidden="true" />
      <span data-testid={testId}>{TEXT[state]}</span>
    </span>
  );
}

import { STATE_LABEL, stateTone } from './state.ts';
import type { CheckState, ServiceState } from './types.ts';

/** The state of a service or check as a coloured pill: Up, Degraded, Down, Unknown (Pending for checks). */
export function StatePill({ state, testId, size = 'md' }: { state: ServiceState | CheckState; testId?: string; size?: 'sm' | 'md' }) {
  const tone = stateTone(state);
  return (
    <span className={`pill pill-${tone} pill-${size}`} data-state={state}>
      <span className="pill-dot" aria-hidden="true" />
      <span data-testid={testId}>{STATE_LABEL[state] ?? 'Unknown'}</span>
    </span>
  );
}

export function StateDot({ state }: { state: ServiceState | CheckState }) {
  const tone = stateTone(state);
  return <span className={`dot dot-${tone}`} aria-hidden="true" />;
}

import { useEnvOverview } from './api.ts';

/** The number of secrets overdue for rotation, next to the nav entry (nothing when none). */
export function OverdueBadge() {
  const q = useEnvOverview();
  const n = (q.data?.items ?? []).filter((v) => v.overdue).length;
  if (!n) return null;
  return (
    <span className="nav-badge" data-testid="nav-env-overdue" aria-label={`${n} overdue for rotation`} title={`${n} secret${n === 1 ? '' : 's'} overdue for rotation`}>
      {n}
    </span>
  );
}

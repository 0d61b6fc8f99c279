import type { IssueSummary } from './types.ts';

export function levelTone(level: string): string {
  return level === 'fatal' || level === 'error' ? 'down' : level === 'warning' ? 'degraded' : 'unknown';
}

export function LevelBadge({ level }: { level: string }) {
  return <span className={`level level-${levelTone(level)}`}>{level}</span>;
}

/** Unresolved again after a resolve because a new event came in (a manual reopen is not a regression). */
export function isRegressed(i: IssueSummary): boolean {
  return i.status === 'unresolved' && !!i.resolved_at && Date.parse(i.last_seen) > Date.parse(i.resolved_at);
}

/** `TypeError: x is undefined` → the type in bold, the message after it. */
export function IssueTitle({ issue }: { issue: Pick<IssueSummary, 'title' | 'type'> }) {
  const t = issue.type;
  if (t && issue.title.startsWith(`${t}: `)) {
    return (
      <>
        <span className="issue-type">{t}</span>
        <span className="issue-value">: {issue.title.slice(t.length + 2)}</span>
      </>
    );
  }
  return <span className="issue-type">{issue.title}</span>;
}

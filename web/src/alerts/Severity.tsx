const SEVERITY_TITLE: Record<string, string> = {
  P0: 'P0 · critical: all hands, page now',
  P1: 'P1 · high: page the on-call',
  P2: 'P2 · medium: during working hours',
  P3: 'P3 · low: when convenient',
};

/** P0–P3 as a compact coloured tag; anything else (an external alert's own severity) in grey. */
export function SeverityPill({ severity }: { severity: string | undefined }) {
  const s = severity && /^P[0-3]$/.test(severity) ? severity : null;
  return (
    <span className={`sev sev-${s ? s.toLowerCase() : 'none'}`} title={s ? SEVERITY_TITLE[s] : severity ? `Severity ${severity}` : 'No severity'}>
      {s ?? severity ?? '—'}
    </span>
  );
}

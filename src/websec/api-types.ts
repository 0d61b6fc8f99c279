/** Shapes of the websec API, shared with the dashboard (types only, no imports). */

/** One test of a header grade (see HeaderTest in headers.ts). */
export interface HeaderTestView {
  name: string;
  title: string;
  pass: boolean;
  result: string;
  scoreModifier: number;
  description: string;
  fix: string;
  informational?: boolean;
}

/** A header grade (see HeaderReport in headers.ts). */
export interface HeaderReportView {
  url: string;
  finalUrl: string;
  status: number;
  score: number;
  grade: string;
  tests: HeaderTestView[];
  redirects: string[];
  httpRedirects: string[];
}

/** One item of `GET /api/v1/websec/headers`: a configured `headers` check and its grade. */
export interface HeadersCheckGrade {
  service: string;
  /** the check's name in the config, when it has one */
  check: string | null;
  url: string;
  min_grade: string;
  graded_at: string;
  /** whether the grade is at least min_grade */
  ok: boolean;
  report: HeaderReportView | null;
  error: string | null;
}

/** One advisory of a dependency audit (see Advisory in audit.ts). */
export interface AdvisoryView {
  package: string;
  severity: 'critical' | 'high' | 'moderate' | 'low' | 'info';
  title: string;
  url: string;
  range?: string;
  fixAvailable: boolean;
}

/** One item of `GET /api/v1/websec/audits`: a configured `audit` check and its latest audit. */
export interface AuditCheckResult {
  service: string;
  check: string | null;
  /** the project path as the config gives it */
  path: string;
  level: string;
  audited_at: string;
  /** whether nothing is at or above level */
  ok: boolean;
  manager: string | null;
  counts: Record<'critical' | 'high' | 'moderate' | 'low' | 'info', number> | null;
  advisories: AdvisoryView[];
  /** the advisories at or above level */
  failing: AdvisoryView[];
  error: string | null;
}

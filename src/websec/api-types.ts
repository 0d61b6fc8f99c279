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

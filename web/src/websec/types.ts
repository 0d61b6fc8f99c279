/** The websec and secrets APIs' shapes, shared with the server (types only; src/websec/api-types.ts, src/secrets/api-types.ts). */
export type { AdvisoryView, AuditCheckResult, HeaderReportView, HeaderTestView, HeadersCheckGrade } from '../../../src/websec/api-types.ts';
export type { SecretFindingView, SecretsCheckScan } from '../../../src/secrets/api-types.ts';

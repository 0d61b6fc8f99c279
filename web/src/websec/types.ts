/** The websec API's shapes, shared with the server (types only; src/websec/api-types.ts). */
export type { HeaderReportView, HeaderTestView, HeadersCheckGrade } from '../../../src/websec/api-types.ts';

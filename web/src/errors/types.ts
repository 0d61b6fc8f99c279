/** The errors domain's API shapes, shared with the server (types only). */
export type { Breadcrumb, ExceptionValue, Frame, IssueDetail, IssueEvent, IssueStatus, IssueSummary } from '../../../src/errors/types.ts';

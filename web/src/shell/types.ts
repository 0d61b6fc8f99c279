/**
 * The core API shapes the shell uses (session, paging, problem details, the event log), shared
 * with the server as types only. Each domain imports its own shapes in `<domain>/types.ts`.
 */
export type { EventRecord, Me, Page, Problem, Scope } from '../../../src/core/api-types.ts';

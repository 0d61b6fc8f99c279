/** The checks domain's API shapes, shared with the server (types only; nothing of it is bundled). */
export type {
  Aggregate,
  CheckState,
  CheckSummary,
  ConditionOutcome,
  DayBar,
  FailedResult,
  LastResult,
  ServiceState,
  ServiceSummary,
  SparkPoint,
  StateChange,
  UptimeWindows,
} from '../../../src/checks/api-types.ts';

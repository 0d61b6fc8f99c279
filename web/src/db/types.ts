/** The db API's shapes as the dashboard reads them (types only; src/db/api-types.ts). */
import type { AppliedInfo, AuditFinding, AuditLevel, AuditReport, BackupListItem, BackupsReport, ConnectionsReport, DriftInfo, IndexStat, PendingInfo, RunningQuery, SlowStatement, StatementsReport, StatusReport, TableStat, TopReport } from '../../../src/db/api-types.ts';

export type { AppliedInfo, AuditFinding, AuditLevel, AuditReport, BackupListItem, BackupsReport, ConnectionsReport, DriftInfo, IndexStat, PendingInfo, RunningQuery, SlowStatement, StatementsReport, StatusReport, TableStat, TopReport };

export type TopSort = 'total' | 'mean';

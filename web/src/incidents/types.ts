/** The incidents domain's API shapes, shared with the server (types only). */
export type {
  ActionItem,
  Breach,
  Incident,
  IncidentDetail,
  IncidentState,
  IncidentUpdate,
  PostmortemFields,
  Role,
  Roles,
  TargetName,
  TargetStatus,
  Timeline,
  UpdateStatus,
} from '../../../src/incidents/types.ts';

/**
 * `GET /api/v1/incidents/severities` (src/incidents/routes.ts builds it inline; keep this in step):
 * the levels in force, most severe first. Targets are milliseconds or `next_business_day`.
 */
export interface SeverityLevel {
  name: string;
  /** P0…P9 by position */
  alias: string | null;
  description: string | null;
  ack: number | 'next_business_day' | null;
  first_update: number | 'next_business_day' | null;
  update_every: number | null;
  resolve: number | 'next_business_day' | null;
}

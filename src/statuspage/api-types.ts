/** The dashboard's view of the status pages (`GET /api/v1/status-pages`), shared with web/ as types only (no imports). */

export type PageComponentStatus = 'operational' | 'degraded_performance' | 'partial_outage' | 'major_outage' | 'under_maintenance';
export type PageIndicator = 'none' | 'minor' | 'major' | 'critical' | 'maintenance';

export interface StatusPageOverview {
  key: string;
  title: string;
  description: string | null;
  /** where the page is served; its Statuspage API is under `<path>/api/v2/` */
  path: string;
  host: string | null;
  private: boolean;
  indicator: PageIndicator;
  /** "All Systems Operational", … as the page says it */
  indicator_text: string;
  components: {
    id: string;
    name: string;
    service: string;
    group?: string;
    description?: string;
    status: PageComponentStatus;
    /** the checks' view: up, degraded, down, unknown */
    state: string;
    since: string | null;
    pinned: boolean;
    /** the status pinned in the config, when pinned */
    pin: PageComponentStatus | null;
    uptime90: number | null;
  }[];
  /** open incidents shown on the page, with their public updates (newest first) */
  active: {
    id: number;
    ref: string;
    name: string;
    status: 'investigating' | 'identified' | 'monitoring' | 'resolved' | 'postmortem';
    impact: 'none' | 'minor' | 'major' | 'critical';
    services: string[];
    created_at: string;
    updated_at: string;
    updates: { id: number; status: string; body: string; at: string }[];
  }[];
}

/** The status pages domain's API shapes (and the maintenance module's), shared with the server as types only. */
export type { PageComponentStatus, PageIndicator, StatusPageOverview } from '../../../src/statuspage/api-types.ts';
export type { MaintenanceWindow, WindowStatus } from '../../../src/maintenance/types.ts';

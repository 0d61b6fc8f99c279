/** The on-call domain's API shapes, shared with the server (types only). */
export type { CalendarFeed, CalendarSubscription, Escalation, OnCallNow, PolicyOut, ScheduleDetail, ShiftOut } from '../../../src/oncall/api-types.ts';
export type { Incident } from '../../../src/incidents/types.ts';

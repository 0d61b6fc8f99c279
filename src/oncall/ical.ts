/**
 * iCalendar feeds of shifts (ical-generator): one VEVENT per shift, times in UTC (DTSTART…Z), so
 * every calendar shows the right instants on both sides of a daylight-saving change; the
 * schedule's zone is named in X-WR-TIMEZONE for calendars that display in it.
 */
import ical from 'ical-generator';
import type { ShiftOut } from './service.js';

export function calendarOf(opts: { name: string; description: string; timeZone?: string; shifts: ShiftOut[]; now: number }): string {
  const cal = ical({ name: opts.name, description: opts.description, prodId: { company: 'shipshape', product: 'oncall', language: 'EN' }, ttl: 3600 });
  if (opts.timeZone) cal.x([{ key: 'X-WR-TIMEZONE', value: opts.timeZone }]);
  for (const s of opts.shifts) {
    cal.createEvent({
      id: `${s.schedule}-${s.person}-${s.start}@shipshape`,
      start: new Date(s.start),
      end: new Date(s.end),
      stamp: new Date(opts.now),
      summary: `On call: ${s.name} (${s.schedule})`,
      description: `${s.name} is on call for ${s.schedule} (${s.source}).`,
    });
  }
  return cal.toString();
}

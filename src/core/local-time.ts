/**
 * Local wall-clock times read in a time zone, the same whatever the clock says now.
 *
 * Luxon resolves a local time that happens twice (the autumn fall-back) with the zone's offset at
 * the current moment, so "02:30 on 25 October, Europe/Berlin" would be 00:30Z when the server
 * runs in summer and 01:30Z in winter. This reads such a time in standard time (the later of the
 * two instants) every time. A local time that does not exist (the spring-forward gap) moves
 * forward by the gap (02:30 -> 03:30), as luxon already does whatever the season.
 */
import type { DateTime } from 'luxon';

/** The instant (epoch ms) of a DateTime made from local fields in a zone (`fromObject`, `fromISO`). */
export function localInstant(local: DateTime): number {
  return Math.max(...local.getPossibleOffsets().map((d) => d.toMillis()));
}

/**
 * Runs `fn` once with luxon's "now" in European summer and once in winter, for code that reads
 * local times in a zone: luxon guesses an ambiguous local time's offset from the zone's offset now,
 * so an answer that changes with the season shows here. The real clock is put back after.
 */
import { Settings } from 'luxon';

export function inEachSeason(fn: (now: string) => void): void {
  const real = Settings.now;
  try {
    for (const now of ['2027-07-01T12:00:00Z', '2027-01-15T12:00:00Z']) {
      Settings.now = () => Date.parse(now);
      fn(now);
    }
  } finally {
    Settings.now = real;
  }
}

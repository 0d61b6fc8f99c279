import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parsePercent, parseSize } from '../../src/core/config/units.js';

describe('units', () => {
  it('parses durations', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('1.5s')).toBe(1500);
    for (const bad of ['', '30', 's', '30 seconds', '5x', '-1s']) expect(parseDuration(bad)).toBeUndefined();
  });
  it('parses percentages and sizes', () => {
    expect(parsePercent('80%')).toBe(0.8);
    expect(parsePercent('0.5%')).toBe(0.005);
    expect(parsePercent('80')).toBeUndefined();
    expect(parseSize('100KB')).toBe(102_400);
    expect(parseSize('1.5MB')).toBe(1_572_864);
    expect(parseSize('512B')).toBe(512);
    expect(parseSize('1 MiB')).toBe(1_048_576);
    expect(parseSize('lots')).toBeUndefined();
  });
  it('formats durations for people', () => {
    expect(formatDuration(732)).toBe('732ms');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(26 * 3_600_000)).toBe('1d2h');
  });
});

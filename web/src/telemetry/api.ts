import { api, enc } from '../shell/api.ts';
import type { Telemetry } from './types.ts';

export const telemetryApi = {
  telemetry: (service: string, from: Date, to: Date, signal?: AbortSignal) =>
    api.get<Telemetry>(`/api/v1/services/${enc(service)}/telemetry`, { from: from.toISOString(), to: to.toISOString() }, signal),
};

export const telemetryKeys = {
  telemetry: (service: string) => ['telemetry', service] as const,
  /** alert and deploy markers on the charts */
  markers: ['markers'] as const,
};

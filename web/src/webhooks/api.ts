import { useQuery } from '@tanstack/react-query';
import { api } from '../shell/api.ts';
import type { DeliveryDetail, DeliveryState, DeliverySummary, HookInfo, ReplayResult } from '../../../src/webhooks/types.ts';

export type { DeliveryDetail, DeliveryState, DeliverySummary, HookInfo, ReplayResult };

/** Query keys of the webhook inbox; the live handler marks them stale. */
export const webhookKeys = {
  all: ['webhooks'] as const,
  hooks: ['webhooks', 'hooks'] as const,
  list: (hook: string, state: string) => ['webhooks', 'list', hook, state] as const,
  delivery: (id: number) => ['webhooks', 'delivery', id] as const,
};

export const inboxPath = () => '/webhooks';
export const deliveryPath = (id: number) => `/webhooks/deliveries/${id}`;

export const webhookApi = {
  hooks: (signal?: AbortSignal) => api.get<{ items: HookInfo[] }>('/api/v1/webhooks', undefined, signal),
  list: (o: { hook?: string; state?: string; limit?: number }, signal?: AbortSignal) => api.get<{ items: DeliverySummary[]; next_cursor: number | null }>('/api/v1/webhooks/deliveries', { hook: o.hook, state: o.state, limit: o.limit ?? 100 }, signal),
  delivery: (id: number, signal?: AbortSignal) => api.get<DeliveryDetail>(`/api/v1/webhooks/deliveries/${id}`, undefined, signal),
  replay: (id: number) => api.post<ReplayResult>(`/api/v1/webhooks/deliveries/${id}/replay`),
};

export function useHooks() {
  return useQuery({ queryKey: webhookKeys.hooks, queryFn: async ({ signal }) => (await webhookApi.hooks(signal)).items, refetchInterval: 15_000 });
}

export function useDeliveries(hook: string, state: string) {
  return useQuery({
    queryKey: webhookKeys.list(hook, state),
    queryFn: async ({ signal }) => (await webhookApi.list({ hook: hook || undefined, state: state || undefined }, signal)).items,
    refetchInterval: 5_000,
    placeholderData: (prev) => prev,
  });
}

export function useDelivery(id: number) {
  return useQuery({
    queryKey: webhookKeys.delivery(id),
    queryFn: ({ signal }) => webhookApi.delivery(id, signal),
    refetchInterval: (q) => (q.state.data?.state === 'pending' ? 2_000 : 30_000),
  });
}

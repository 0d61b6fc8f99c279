/** What the webhook inbox's API answers (shared with the CLI and the dashboard). */

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface DeliverySummary {
  id: number;
  hook: string;
  /** the service the hook belongs to (its `service`, else its name) */
  service: string;
  /** Stripe `type`, GitHub event, Svix `type`, when the delivery says */
  event_type: string | null;
  /** the sender's delivery id (Stripe event id, X-GitHub-Delivery, webhook-id) */
  sender_id: string | null;
  state: DeliveryState;
  attempts: number;
  received_at: string;
  next_attempt_at: string | null;
  delivered_at: string | null;
  last_status: number | null;
  last_error: string | null;
  content_type: string;
  body_size: number;
}

export interface AttemptInfo {
  attempt: number;
  started_at: string;
  duration_ms: number;
  /** the app's HTTP status; null when no answer came (timeout, refused) */
  status: number | null;
  error: string | null;
  /** the first 1 KB of the app's answer */
  response: string | null;
  /** `auto`, or the actor whose replay started this attempt's cycle */
  trigger: string;
}

export interface DeliveryDetail extends DeliverySummary {
  /** the kept request headers (signature headers and the hook's `headers`), forwarded as they came */
  headers: Record<string, string>;
  attempt_log: AttemptInfo[];
}

export interface DeliveryBody {
  id: number;
  content_type: string;
  /** utf8 when the bytes are valid UTF-8, else base64 */
  encoding: 'utf8' | 'base64';
  body: string;
}

export interface HookInfo {
  name: string;
  scheme: 'stripe' | 'github' | 'svix' | 'hmac';
  /** the app URL (credentials removed) */
  forward: string;
  service: string;
  /** the public URL path senders post to */
  path: string;
  states: Record<DeliveryState, number>;
  /** since the server started */
  received: number;
  rejected: number;
}

export interface RejectionInfo {
  id: number;
  hook: string;
  at: string;
  code: string;
  reason: string;
  remote: string;
  body_size: number;
}

export interface ReplayResult {
  /** the deliveries queued again */
  ids: number[];
}

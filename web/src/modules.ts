import { alertsModule } from './alerts/index.tsx';
import { checksModule } from './checks/index.tsx';
import { dbModule } from './db/index.tsx';
import { deployModule } from './deploy/index.tsx';
import { envModule } from './env/index.tsx';
import { errorsModule } from './errors/index.tsx';
import { incidentsModule } from './incidents/index.tsx';
import { oncallModule } from './oncall/index.tsx';
import type { WebModule } from './shell/module.ts';
import { statuspageModule } from './statuspage/index.tsx';
import { telemetryModule } from './telemetry/index.ts';
import { webhooksModule } from './webhooks/index.tsx';
import { websecModule } from './websec/index.tsx';

/**
 * The dashboard's domains. The shell builds the router, the top bar's navigation and the live
 * event subscriptions from this list; a new domain is a folder with an index and one line here.
 */
export const modules: readonly WebModule[] = [checksModule, telemetryModule, alertsModule, errorsModule, incidentsModule, oncallModule, statuspageModule, deployModule, dbModule, envModule, webhooksModule, websecModule];

/** The notify domain: routes firing and resolved alerts to channels. (Being built.) */
import type { Domain, DomainContext } from '../domain.js';

export function createNotify(_ctx: DomainContext): Domain {
  return { name: 'notify' };
}

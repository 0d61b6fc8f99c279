/**
 * Limits on parsed JSON: JSON.parse copes with any nesting, but JSON.stringify, zod and every
 * recursive walk after it overflow the stack on a document nested thousands deep. Bodies deeper
 * than MAX_JSON_DEPTH are refused with a 400 problem before anything walks them.
 */
import { HttpProblem } from './problem.js';

/** Nesting depth (objects and arrays) any JSON body may have. */
export const MAX_JSON_DEPTH = 64;

/** The nesting depth of a parsed JSON value, counted without recursion; stops past `limit`. */
export function jsonDepth(value: unknown, limit = Number.MAX_SAFE_INTEGER): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    const depth = d + 1;
    if (depth > max) max = depth;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth]);
  }
  return max;
}

/** Throw a 400 problem when `value` is nested deeper than `limit`. */
export function assertJsonDepth(value: unknown, what = 'the JSON body', limit = MAX_JSON_DEPTH): void {
  if (jsonDepth(value, limit) > limit) throw new HttpProblem(400, 'Bad Request', `${what} is nested more than ${limit} levels deep`);
}

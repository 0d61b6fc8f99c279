/**
 * Release comparison for regressions: semver order when both releases parse (`1.2.3`, `v1.2.3`,
 * `my-app@1.2.3`, pre-releases ordered as semver says), otherwise "different".
 */

interface SemVer {
  pkg: string;
  nums: [number, number, number];
  pre: string[];
}

export function parseSemver(release: string): SemVer | undefined {
  const at = release.lastIndexOf('@');
  const pkg = at > 0 ? release.slice(0, at) : '';
  const v = (at > 0 ? release.slice(at + 1) : release).trim().replace(/^v/i, '');
  const m = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(v);
  if (!m) return undefined;
  return { pkg, nums: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split('.') : [] };
}

/** <0, 0, >0 like a sort comparator; undefined when they cannot be ordered (not both semver of the same package). */
export function compareReleases(a: string, b: string): number | undefined {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (!x || !y || x.pkg !== y.pkg) return undefined;
  for (let i = 0; i < 3; i++) if (x.nums[i] !== y.nums[i]) return (x.nums[i] as number) - (y.nums[i] as number);
  if (!x.pre.length || !y.pre.length) return (x.pre.length ? -1 : 0) - (y.pre.length ? -1 : 0);
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

/**
 * Does an event in `eventRelease` reopen an issue resolved while `resolvedRelease` was current?
 * - both semver: only a newer release regresses (stragglers on the old version do not);
 * - otherwise a different release regresses (it was seen after the resolution);
 * - without a release on either side we cannot tell versions apart, so any new event regresses
 *   (Sentry's plain "resolve" behaves the same).
 */
export function regresses(eventRelease: string | null | undefined, resolvedRelease: string | null | undefined): boolean {
  if (!eventRelease || !resolvedRelease) return true;
  const c = compareReleases(eventRelease, resolvedRelease);
  if (c !== undefined) return c > 0;
  return eventRelease !== resolvedRelease;
}

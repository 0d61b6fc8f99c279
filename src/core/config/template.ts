/**
 * Templates for alert summaries and notification texts: Mustache (`{{ service }}`,
 * `{{ labels.severity }}`, `{{#alerts}}…{{/alerts}}`), rendered as plain text (no HTML escaping).
 */
import Mustache from 'mustache';

export function renderTemplate(template: string, view: Record<string, unknown>): string {
  try {
    return Mustache.render(template, view, undefined, { escape: (s: unknown) => String(s) });
  } catch (e) {
    return `${template} (template error: ${(e as Error).message})`;
  }
}

/** Parse once to report template syntax errors at config load. Returns the error text or undefined. */
export function templateError(template: string): string | undefined {
  try {
    Mustache.parse(template);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export interface ScenarioContext {
  /** progress lines (stderr) */
  log(s: string): void;
}

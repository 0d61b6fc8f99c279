/** Reading a source file: YAML with line numbers for errors, and small type guards over its data. */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { ImportInputError } from './draft.js';

export type Json = Record<string, unknown>;

export function readSource(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory, expected a file' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new ImportInputError(file, `cannot read: ${why}`);
  }
}

/** A parsed YAML file that can say on which line a key path is. */
export class YamlSource {
  readonly data: unknown;
  private readonly doc: Document;
  private readonly lines = new LineCounter();

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: false });
    const err = this.doc.errors[0];
    if (err) {
      const pos = this.lines.linePos(err.pos[0]);
      throw new ImportInputError(file, `invalid YAML: ${err.message.split('\n')[0]}`, pos.line);
    }
    this.data = this.doc.toJS({ maxAliasCount: 1000 });
  }

  /** The line of the value at a path (`['endpoints', 2, 'url']`), or of the deepest part that exists. */
  lineOf(path: readonly (string | number)[]): number | undefined {
    let node: unknown = this.doc.contents;
    let offset: number | undefined = (node as { range?: number[] } | null)?.range?.[0];
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
        if (!pair) break;
        offset = (pair.key as { range?: number[] }).range?.[0] ?? offset;
        node = pair.value;
        offset = (node as { range?: number[] } | null)?.range?.[0] ?? offset;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        if (!node) break;
        offset = (node as { range?: number[] }).range?.[0] ?? offset;
      } else break;
    }
    return offset === undefined ? undefined : this.lines.linePos(offset).line;
  }

  /** Bad input at a key path: the error names the file, the line and the key. */
  fail(path: readonly (string | number)[], message: string): never {
    throw new ImportInputError(this.file, message, this.lineOf(path), keyPath(path));
  }
}

/** `['endpoints', 2, 'url']` -> `endpoints[2].url` */
export function keyPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A string, number or boolean as text (YAML reads `port: 587` as a number, `id: 0123` as a string). */
export function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Keys of a mapping whose values are set (not null, empty string, empty list or empty mapping). */
export function setKeys(o: Json): string[] {
  return Object.keys(o).filter((k) => {
    const v = o[k];
    if (v === null || v === undefined || v === '') return false;
    if (Array.isArray(v)) return v.length > 0;
    if (isObject(v)) return Object.keys(v).length > 0;
    return true;
  });
}

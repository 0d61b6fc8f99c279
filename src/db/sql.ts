/**
 * Migration SQL read with the real PostgreSQL parser (libpg-query, PostgreSQL's own grammar
 * compiled to WebAssembly): the `-- migrate:down` marker found among the scanner's comment tokens,
 * statements split where the parser says they end (dollar-quoted bodies, `BEGIN ATOMIC`, comments
 * and strings holding `;` are whole), and each classified by its parse tree: may it run inside a
 * transaction?
 */
import type * as PgQuery from 'libpg-query';

let loaded: Promise<void> | undefined;
let pgQuery: typeof PgQuery | undefined;

/**
 * Load the parser (WebAssembly) once; every other function here needs it. Imported on first use,
 * not with the module: a server that never reads a migration does not pay its ~100 ms and ~20 MB.
 */
export function loadParser(): Promise<void> {
  loaded ??= import('libpg-query').then(async (m) => {
    await m.loadModule();
    pgQuery = m;
  });
  return loaded;
}

function parser(): typeof PgQuery {
  if (!pgQuery) throw new Error('the SQL parser is not loaded (call loadParser first)');
  return pgQuery;
}

/** Where a statement or an error is in its file (1-based). */
export interface Place {
  line: number;
  column: number;
}

export interface Statement {
  /** 0-based index in its section */
  index: number;
  /** the statement as sent to the server (no trailing `;`) */
  sql: string;
  /** the parse tree's node name: CreateStmt, IndexStmt, … */
  kind: string;
  /** where it starts in the file */
  at: Place;
  /** character offset in the (normalised) file where `sql` starts */
  offset: number;
  /** why it must run outside a transaction, or undefined when it may run inside one */
  outside?: string;
  /** the index a CREATE INDEX names (to point at an INVALID one a failed CONCURRENTLY run leaves) */
  index_name?: string;
}

export interface Section {
  statements: Statement[];
  /** the file had its own BEGIN … COMMIT around the statements (dropped: Shipshape opens the transaction) */
  ownTransaction: boolean;
}

export interface ParsedMigration {
  up: Section;
  /** undefined when the file has no `-- migrate:down` section */
  down?: Section;
}

/** A file the parser rejects: where and why. */
export class SqlSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly at: Place,
    readonly lineText: string,
  ) {
    super(`line ${at.line}, column ${at.column}: ${reason}`);
    this.name = 'SqlSyntaxError';
  }
}

/** Position helper over one file's text: byte offsets (what the parser gives) to characters and lines. */
class Positions {
  private readonly bytes: Buffer;
  private readonly lineStarts: number[] = [0];
  constructor(readonly text: string) {
    this.bytes = Buffer.from(text, 'utf8');
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }
  charOf(byteOffset: number): number {
    return this.bytes.subarray(0, Math.max(0, byteOffset)).toString('utf8').length;
  }
  place(charOffset: number): Place {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= charOffset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: charOffset - (this.lineStarts[lo] ?? 0) + 1 };
  }
  lineText(line: number): string {
    const start = this.lineStarts[line - 1] ?? 0;
    const end = this.lineStarts[line] ?? this.text.length + 1;
    return this.text.slice(start, end - 1);
  }
}

const DOWN_MARKER = /^--\s*(migrate:down|\+migrate\s+down)\b/i;

function syntaxError(e: unknown, pos: Positions, sectionStart: number, sectionText: string): SqlSyntaxError {
  const details = (e as { sqlDetails?: { cursorPosition?: number; message?: string } }).sqlDetails;
  const reason = details?.message ?? (e as Error).message;
  // the cursor is a byte offset into the section we parsed
  const inSection = details?.cursorPosition !== undefined ? Buffer.from(sectionText, 'utf8').subarray(0, details.cursorPosition).toString('utf8').length : 0;
  const at = pos.place(sectionStart + inSection);
  const lineText = pos.lineText(at.line);
  const hint = /^\s*\\/.test(lineText) ? ' (psql meta-commands such as \\i or \\connect are not SQL: migrations run through a driver, not psql)' : '';
  return new SqlSyntaxError(reason + hint, at, lineText);
}

type Node = Record<string, unknown>;

function defNames(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.map((d) => String(((d as Node).DefElem as Node | undefined)?.defname ?? ''));
}

/**
 * Why a statement cannot run inside a transaction block, from its parse tree; undefined when it
 * can. `serverVersion` is server_version_num (ALTER TYPE … ADD VALUE runs inside one from 12 on).
 */
export function outsideReason(kind: string, node: Node, serverVersion: number): string | undefined {
  switch (kind) {
    case 'IndexStmt':
      return node.concurrent ? 'CREATE INDEX CONCURRENTLY' : undefined;
    case 'DropStmt':
      return node.concurrent ? 'DROP INDEX CONCURRENTLY' : undefined;
    case 'ReindexStmt': {
      if (defNames(node.params).includes('concurrently')) return 'REINDEX CONCURRENTLY';
      return node.kind === 'REINDEX_OBJECT_DATABASE' || node.kind === 'REINDEX_OBJECT_SYSTEM' ? 'REINDEX DATABASE / SYSTEM' : undefined;
    }
    case 'VacuumStmt':
      return node.is_vacuumcmd ? 'VACUUM' : undefined;
    case 'ClusterStmt':
      return node.relation ? undefined : 'CLUSTER without a table';
    case 'CreatedbStmt':
      return 'CREATE DATABASE';
    case 'DropdbStmt':
      return 'DROP DATABASE';
    case 'AlterSystemStmt':
      return 'ALTER SYSTEM';
    case 'CreateTableSpaceStmt':
      return 'CREATE TABLESPACE';
    case 'DropTableSpaceStmt':
      return 'DROP TABLESPACE';
    case 'CreateSubscriptionStmt':
    case 'DropSubscriptionStmt':
    case 'AlterSubscriptionStmt':
      return 'a SUBSCRIPTION command (it may create or drop a replication slot)';
    case 'AlterEnumStmt':
      return node.newVal !== undefined && !node.oldVal && serverVersion < 120000 ? 'ALTER TYPE … ADD VALUE (before PostgreSQL 12)' : undefined;
    case 'AlterTableStmt': {
      const cmds = Array.isArray(node.cmds) ? (node.cmds as Node[]) : [];
      const detach = cmds.some((c) => {
        const cmd = c.AlterTableCmd as Node | undefined;
        return cmd?.subtype === 'AT_DetachPartition' && Boolean(((cmd.def as Node | undefined)?.PartitionCmd as Node | undefined)?.concurrent);
      });
      return detach ? 'DETACH PARTITION CONCURRENTLY' : undefined;
    }
    default:
      return undefined;
  }
}

const TX_ALLOWED = new Set(['TRANS_STMT_SAVEPOINT', 'TRANS_STMT_RELEASE', 'TRANS_STMT_ROLLBACK_TO']);
const TX_BEGIN = new Set(['TRANS_STMT_BEGIN', 'TRANS_STMT_START']);
const TX_COMMIT = new Set(['TRANS_STMT_COMMIT']);

function parseSection(pos: Positions, start: number, end: number, serverVersion: number): Section {
  const text = pos.text.slice(start, end);
  let tree: { stmts?: { stmt: Node; stmt_location?: number; stmt_len?: number }[] };
  try {
    tree = parser().parseSync(text) as typeof tree;
  } catch (e) {
    throw syntaxError(e, pos, start, text);
  }
  const bytes = Buffer.from(text, 'utf8');
  const raw = (tree.stmts ?? []).map((s) => {
    const kind = Object.keys(s.stmt)[0] ?? 'Unknown';
    const node = (s.stmt[kind] ?? {}) as Node;
    const b0 = s.stmt_location ?? 0;
    const b1 = s.stmt_len ? b0 + s.stmt_len : bytes.length;
    const sql0 = bytes.subarray(b0, b1).toString('utf8');
    const lead = sql0.length - sql0.trimStart().length;
    const offset = start + bytes.subarray(0, b0).toString('utf8').length + lead;
    return { kind, node, sql: sql0.trim(), offset };
  });
  let ownTransaction = false;
  const first = raw[0];
  const last = raw[raw.length - 1];
  if (raw.length >= 2 && first?.kind === 'TransactionStmt' && TX_BEGIN.has(String(first.node.kind)) && last?.kind === 'TransactionStmt' && TX_COMMIT.has(String(last.node.kind))) {
    raw.shift();
    raw.pop();
    ownTransaction = true;
  }
  const statements: Statement[] = raw.map((r, index) => {
    const at = pos.place(r.offset);
    if (r.kind === 'TransactionStmt' && !TX_ALLOWED.has(String(r.node.kind))) {
      throw new SqlSyntaxError(
        `${r.sql.split(/\s/)[0]?.toUpperCase()} in the middle of a migration: Shipshape runs each migration in its own transaction (a file may wrap all its statements in one BEGIN … COMMIT, which is then dropped); split the file into two migrations instead`,
        at,
        pos.lineText(at.line),
      );
    }
    const outside = outsideReason(r.kind, r.node, serverVersion);
    const indexName = r.kind === 'IndexStmt' && typeof r.node.idxname === 'string' ? r.node.idxname : undefined;
    return { index, sql: r.sql, kind: r.kind, at, offset: r.offset, ...(outside ? { outside } : {}), ...(indexName ? { index_name: indexName } : {}) };
  });
  return { statements, ownTransaction };
}

/**
 * Split a migration file (already normalised: LF line ends, no BOM) into its up and down sections'
 * statements. Throws SqlSyntaxError naming the line and column the parser stopped at.
 * `serverVersion` (server_version_num) decides the version-dependent cases; without a server,
 * pass a high number.
 */
export function parseMigration(text: string, serverVersion = 999999): ParsedMigration {
  const pos = new Positions(text);
  let marker: { start: number; end: number } | undefined;
  try {
    const { tokens } = parser().scanSync(text);
    const t = tokens.find((k) => k.tokenName === 'SQL_COMMENT' && DOWN_MARKER.test(k.text));
    if (t) marker = { start: pos.charOf(t.start), end: pos.charOf(t.end) };
  } catch {
    // the scanner stops at what the parser reports better (an unterminated string or comment)
    parseSection(pos, 0, text.length, serverVersion);
  }
  const up = parseSection(pos, 0, marker ? marker.start : text.length, serverVersion);
  const down = marker ? parseSection(pos, marker.end, text.length, serverVersion) : undefined;
  return down ? { up, down } : { up };
}

/** The first line of a statement, shortened, for progress lines and messages. */
export function summary(sql: string, max = 80): string {
  const one = sql.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

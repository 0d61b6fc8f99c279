/** Migration files read with the real PostgreSQL parser: splitting, classification, the down marker, errors with line and column. */
import { beforeAll, describe, expect, it } from 'vitest';
import { checksumOf, gapsOf, nextFile, normalise, sumText } from '../../src/db/files.js';
import { loadParser, parseMigration, SqlSyntaxError } from '../../src/db/sql.js';

beforeAll(() => loadParser());

describe('splitting statements', () => {
  it('keeps dollar-quoted bodies, BEGIN ATOMIC bodies, strings and comments holding ; whole', () => {
    const sql = `-- a comment; with a semicolon
CREATE TABLE a (id int, note text DEFAULT 'x;y'); /* block ; comment */
CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$
BEGIN
  PERFORM 1; -- inner ;
  RETURN 1;
END;
$body$;
CREATE FUNCTION g() RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT 1;
  SELECT 2;
END;
INSERT INTO a VALUES (1, $$semi;colon$$)`;
    const m = parseMigration(sql);
    expect(m.up.statements.map((s) => s.kind)).toEqual(['CreateStmt', 'CreateFunctionStmt', 'CreateFunctionStmt', 'InsertStmt']);
    expect(m.up.statements[0]).toMatchObject({ sql: "CREATE TABLE a (id int, note text DEFAULT 'x;y')", at: { line: 2, column: 1 } });
    expect(m.up.statements[1]?.sql).toContain('PERFORM 1; -- inner ;');
    expect(m.up.statements[1]?.sql.endsWith('$body$')).toBe(true);
    expect(m.up.statements[2]?.sql).toMatch(/BEGIN ATOMIC\n {2}SELECT 1;\n {2}SELECT 2;\nEND$/);
    expect(m.up.statements[3]).toMatchObject({ sql: 'INSERT INTO a VALUES (1, $$semi;colon$$)', at: { line: 14, column: 1 } });
    expect(m.down).toBeUndefined();
  });

  it('finds the down marker among comment tokens only, not inside a string or a body', () => {
    const sql = `-- migrate:up
CREATE FUNCTION h() RETURNS text LANGUAGE sql AS $$ SELECT '-- migrate:down' $$;
-- migrate:down
DROP FUNCTION h();
`;
    const m = parseMigration(sql);
    expect(m.up.statements).toHaveLength(1);
    expect(m.down?.statements.map((s) => s.sql)).toEqual(['DROP FUNCTION h()']);
    expect(m.down?.statements[0]?.at).toEqual({ line: 4, column: 1 });
  });

  it('counts positions in characters when the file has multi-byte text', () => {
    const m = parseMigration(`-- café ☕ naïve\nCREATE TABLE "ça" (x text DEFAULT 'ü');\nSELECT 1`);
    expect(m.up.statements[0]?.sql).toBe(`CREATE TABLE "ça" (x text DEFAULT 'ü')`);
    expect(m.up.statements[1]).toMatchObject({ sql: 'SELECT 1', at: { line: 3, column: 1 } });
  });

  it('classifies what cannot run in a transaction from the parse tree', () => {
    const m = parseMigration(`CREATE INDEX CONCURRENTLY i ON a (id);
CREATE INDEX j ON a (id);
DROP INDEX CONCURRENTLY i;
REINDEX (CONCURRENTLY) INDEX j;
VACUUM ANALYZE a;
ANALYZE a;
ALTER TYPE mood ADD VALUE 'meh';
ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;
SELECT 'CREATE INDEX CONCURRENTLY x ON y (z)'`);
    expect(m.up.statements.map((s) => s.outside ?? null)).toEqual([
      'CREATE INDEX CONCURRENTLY',
      null,
      'DROP INDEX CONCURRENTLY',
      'REINDEX CONCURRENTLY',
      'VACUUM',
      null,
      null, // PostgreSQL 12+ adds enum values inside a transaction
      'DETACH PARTITION CONCURRENTLY',
      null,
    ]);
    expect(parseMigration(`ALTER TYPE mood ADD VALUE 'meh'`, 110000).up.statements[0]?.outside).toBe('ALTER TYPE … ADD VALUE (before PostgreSQL 12)');
  });

  it('drops a BEGIN … COMMIT around the whole file and refuses one in the middle', () => {
    const m = parseMigration('BEGIN;\nCREATE TABLE a (id int);\nCREATE TABLE b (id int);\nCOMMIT;\n');
    expect(m.up.ownTransaction).toBe(true);
    expect(m.up.statements.map((s) => s.kind)).toEqual(['CreateStmt', 'CreateStmt']);
    expect(() => parseMigration('CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);')).toThrow(/line 2, column 1: COMMIT in the middle of a migration/);
  });

  it('reports a syntax error with its line and column', () => {
    try {
      parseMigration('CREATE TABLE a (id int);\nCREATE TABLE b (id int,, x int);\n');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SqlSyntaxError);
      expect((e as SqlSyntaxError).at).toEqual({ line: 2, column: 24 });
      expect((e as SqlSyntaxError).reason).toBe('syntax error at or near ","');
      expect((e as SqlSyntaxError).lineText).toBe('CREATE TABLE b (id int,, x int);');
    }
    expect(() => parseMigration("SELECT 1;\nSELECT 'never closed")).toThrow(/line 2, column 8: unterminated quoted string/);
    expect(() => parseMigration('\\i other.sql')).toThrow(/psql meta-commands/);
  });
});

describe('files', () => {
  it('checksums ignore CRLF line ends and a BOM', () => {
    const lf = 'CREATE TABLE a (id int);\nSELECT 1;\n';
    expect(checksumOf(`\uFEFF${lf.replace(/\n/g, '\r\n')}`)).toBe(checksumOf(lf));
    expect(normalise('a\r\nb\rc')).toBe('a\nb\nc');
    expect(checksumOf('SELECT 2;\n')).not.toBe(checksumOf(lf));
  });

  it('finds gaps in numbered files but not in timestamped ones', () => {
    const f = (label: string) => ({ label, version: Number(label) }) as never;
    expect(gapsOf([f('001'), f('002'), f('004'), f('007')])).toEqual(['003', '005', '006']);
    expect(gapsOf([f('20240101000000'), f('20240301000000')])).toEqual([]);
  });

  it('chains the sum so two branches adding the same number differ in the last line and the total', () => {
    const base = [
      { filename: '001_a.sql', checksum: 'aa' },
      { filename: '002_b.sql', checksum: 'bb' },
    ];
    const one = sumText([...base, { filename: '003_x.sql', checksum: 'cc' }]).split('\n');
    const two = sumText([...base, { filename: '003_y.sql', checksum: 'dd' }]).split('\n');
    expect(one.slice(1, 3)).toEqual(two.slice(1, 3));
    expect(one[0]).not.toBe(two[0]);
    expect(one[3]).not.toBe(two[3]);
    // a change to an earlier file changes every later link
    const edited = sumText([{ filename: '001_a.sql', checksum: 'a2' }, ...base.slice(1)]).split('\n');
    expect(edited[2]).not.toBe(sumText(base).split('\n')[2]);
  });

  it('names the next file like the directory', () => {
    const dir = (labels: string[]) => ({ files: labels.map((l) => ({ label: l, version: Number(l) })) }) as never;
    expect(nextFile(dir(['001', '013']), 'Add billing & orgs', new Date('2026-01-31T12:00:00Z'))).toEqual({ filename: '014_add_billing_orgs.sql', version: 14 });
    expect(nextFile(dir([]), 'init', new Date()).filename).toBe('001_init.sql');
    expect(nextFile(dir(['20240101000000']), 'x', new Date('2026-01-31T12:00:00Z')).filename).toBe('20260131120000_x.sql');
  });
});

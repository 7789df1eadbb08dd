/**
 * Every export of the source folders says what it is for: a `/** … *\/` doc comment on each
 * exported declaration, so an editor's hover shows it. Re-exports (`export … from`) are exempt;
 * their declaration carries the comment.
 */
import { readdirSync, readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const SOURCE_FOLDERS = ['core', 'adapters', 'lambdas', 'lib', 'local', 'cli', 'bin', 'bench'];

/** The exported declarations of a module that have no doc comment, as `file:line name`. */
function undocumentedExports(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const missing: string[] = [];
  for (const statement of source.statements) {
    const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined;
    if (!modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
    const documented = ts.getJSDocCommentsAndTags(statement).length > 0 || hasDocComment(statement, text);
    if (documented) continue;
    const line = source.getLineAndCharacterOfPosition(statement.getStart(source)).line + 1;
    missing.push(`${fileName}:${line} ${nameOf(statement)}`);
  }
  return missing;
}

function hasDocComment(node: ts.Node, text: string): boolean {
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  return ranges.some((r) => text.slice(r.pos, r.pos + 3) === '/**');
}

function nameOf(statement: ts.Statement): string {
  if (ts.isVariableStatement(statement))
    return statement.declarationList.declarations.map((d) => d.name.getText()).join(', ');
  const named = statement as { name?: ts.Node };
  return named.name?.getText() ?? ts.SyntaxKind[statement.kind];
}

describe('doc comments', () => {
  it('finds an export without one, and accepts one with', () => {
    const text = [
      '/** Documented. */',
      'export const a = 1;',
      'export function b() {}',
      '// a line comment is not a doc comment',
      'export interface C {}',
      '/** Documented too. */',
      'export class D {}',
      "export { e } from './e';",
      'const f = 2;',
    ].join('\n');
    expect(undocumentedExports('x.ts', text)).toEqual(['x.ts:3 b', 'x.ts:5 C']);
  });

  it('every export of the source folders has one', () => {
    const files = SOURCE_FOLDERS.flatMap((folder) =>
      readdirSync(`${root}${folder}`, { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
        .map((file) => `${folder}/${file}`),
    );
    expect(files.length).toBeGreaterThan(100);
    const missing = files.flatMap((file) =>
      undocumentedExports(file, readFileSync(`${root}${file}`, 'utf8')),
    );
    expect(missing).toEqual([]);
  });
});

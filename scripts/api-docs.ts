/**
 * The API reference in docs/api/, generated from the doc comments of every entry point in the
 * packages' `exports`, with the TypeScript compiler API (no documentation tool to keep up to date).
 *
 *   npm run docs:api          writes docs/api/<import path>.md and docs/api/README.md
 *   npm run check:api-docs    fails when a page differs from what the sources give, or when a
 *                             public export has no doc comment (each one is listed)
 *
 * Each export gets its kind, its signature as written in the source (bodies left out, private class
 * members too), the first paragraph of its doc comment and its `@example`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { type EntryPoint, readPackages, root } from './packages.js';

const OUT = join(root, 'docs/api');
const NOTICE = '<!-- Generated from the doc comments by `npm run docs:api`. Do not edit. -->';

interface Page {
  entry: EntryPoint;
  /** docs/api-relative path: `latchkey/memory.md`, `@latchkey/client.md`. */
  file: string;
  summary: string;
  markdown: string;
  exports: number;
}

interface DocComment {
  text: string;
  examples: string[];
  deprecated?: string;
}

const undocumented: string[] = [];

function createProgram(entries: EntryPoint[]): ts.Program {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error('tsconfig.json could not be read');
  // One program for both packages: the client needs the DOM's types, the server Node's.
  const options = {
    ...config.options,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    noEmit: true,
  };
  return ts.createProgram(
    entries.map((e) => join(root, e.dir, e.source)),
    options,
  );
}

/** The first paragraph of a doc comment's text (the rest stays in the source). */
function firstParagraph(text: string): string {
  return (text.trim().split(/\n\s*\n/)[0] ?? '').replace(/\s*\n\s*/g, ' ').trim();
}

const NO_DOC: DocComment = { text: '', examples: [] };

/**
 * A doc comment's text and examples, read from its source rather than from TypeScript's parse:
 * TypeScript starts a tag at any ` @` (so "errors @latchkey/client throws" loses its end) and
 * drops an example's indentation. Here only a known block tag at the start of a line opens a tag.
 */
function parseDoc(raw: string): DocComment {
  const body = raw
    .replace(/^\/\*\*/, '')
    .replace(/\*\/$/, '')
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, '').trimEnd())
    .join('\n');
  const [text = '', ...tags] = body.split(
    /^(?=@(?:example|see|remarks|deprecated|param|returns|throws|default|typeParam|internal|module|packageDocumentation)\b)/m,
  );
  const examples = tags
    .filter((t) => t.startsWith('@example'))
    .map((t) =>
      t
        .slice('@example'.length)
        .replace(/^[ \t]*\n/, '')
        .trimEnd(),
    )
    .map((t) => (t.startsWith(' ') ? t.trim() : t));
  const deprecated = tags.find((t) => t.startsWith('@deprecated'));
  return {
    text: text.trim(),
    examples,
    deprecated: deprecated === undefined ? undefined : deprecated.slice('@deprecated'.length).trim() || 'Deprecated.',
  };
}

/** The doc comment closest above the first of the declarations that has one. */
function docOf(declarations: readonly ts.Declaration[]): DocComment {
  for (const decl of declarations) {
    const docs = ts.getJSDocCommentsAndTags(decl).filter(ts.isJSDoc);
    const doc = docs[docs.length - 1];
    if (doc) return parseDoc(doc.getSourceFile().text.slice(doc.getStart(), doc.end));
  }
  return NO_DOC;
}

/** The file's header: the doc comment above its first statement when that statement is an import or a re-export. */
function moduleDoc(sf: ts.SourceFile): DocComment {
  const first = sf.statements[0];
  if (!first || !(ts.isImportDeclaration(first) || ts.isExportDeclaration(first))) return NO_DOC;
  const range = ts
    .getLeadingCommentRanges(sf.text, first.getFullStart())
    ?.find((r) => sf.text.startsWith('/**', r.pos));
  return range ? parseDoc(sf.text.slice(range.pos, range.end)) : NO_DOC;
}

/** Source text from `from` to `to`, its later lines moved left by the column it starts at. */
function sourceText(sf: ts.SourceFile, from: number, to: number): string {
  const column = sf.getLineAndCharacterOfPosition(from).character;
  const lines = sf.text.slice(from, to).trim().split('\n');
  return [lines[0], ...lines.slice(1).map((l) => l.replace(new RegExp(`^ {0,${column}}`), ''))].join('\n');
}

const isPrivate = (member: ts.ClassElement): boolean =>
  (member.name !== undefined && ts.isPrivateIdentifier(member.name)) ||
  (ts.canHaveModifiers(member) &&
    (ts.getModifiers(member) ?? []).some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) ||
  ts.getJSDocTags(member).some((t) => t.tagName.text === 'internal');

/** The declaration as written, without function bodies, private members or its own doc comment. */
function signature(decl: ts.Declaration, name: string, checker: ts.TypeChecker): string {
  const sf = decl.getSourceFile();
  const start = decl.getStart(sf);
  if (ts.isFunctionDeclaration(decl)) {
    return decl.body ? `${sourceText(sf, start, decl.body.getStart(sf))};` : sourceText(sf, start, decl.end);
  }
  if (ts.isClassDeclaration(decl)) {
    const head = sourceText(sf, start, decl.members.pos);
    const members = decl.members
      .filter((m) => !isPrivate(m))
      .map((m) => {
        const from = m.getStart(sf, true); // with the member's doc comment
        const body = 'body' in m ? (m.body as ts.Node | undefined) : undefined;
        const own = body ? `${sourceText(sf, from, body.getStart(sf))};` : sourceText(sf, from, m.end);
        return `  ${own.split('\n').join('\n  ')}`;
      });
    return `${head}\n${members.join('\n')}\n}`;
  }
  if (ts.isVariableDeclaration(decl)) {
    const list = decl.parent;
    const keyword = ts.isVariableDeclarationList(list) && list.flags & ts.NodeFlags.Const ? 'const' : 'let';
    const type = decl.type
      ? sourceText(sf, decl.type.getStart(sf), decl.type.end)
      : checker.typeToString(
          checker.getTypeAtLocation(decl),
          decl,
          ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.MultilineObjectLiterals,
        );
    return `export declare ${keyword} ${name}: ${type};`;
  }
  return sourceText(sf, start, decl.end);
}

function kindOf(decl: ts.Declaration): string {
  if (ts.isFunctionDeclaration(decl)) return 'function';
  if (ts.isClassDeclaration(decl)) return 'class';
  if (ts.isInterfaceDeclaration(decl)) return 'interface';
  if (ts.isTypeAliasDeclaration(decl)) return 'type';
  if (ts.isEnumDeclaration(decl)) return 'enum';
  if (ts.isVariableDeclaration(decl)) {
    return ts.isVariableDeclarationList(decl.parent) && decl.parent.flags & ts.NodeFlags.Const ? 'const' : 'let';
  }
  return ts.SyntaxKind[decl.kind];
}

/** GitHub's heading anchor for a single identifier. */
const anchor = (name: string) => name.toLowerCase().replace(/[^a-z0-9_-]/g, '');

function renderExample(example: string): string {
  if (example.startsWith('```')) return example;
  return `\`\`\`ts\n${example}\n\`\`\``;
}

function renderPage(entry: EntryPoint, program: ts.Program, checker: ts.TypeChecker): Page {
  const sf = program.getSourceFile(join(root, entry.dir, entry.source));
  if (!sf) throw new Error(`${entry.specifier}: ${entry.source} is not in the program`);
  const moduleSymbol = checker.getSymbolAtLocation(sf);
  const symbols = moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : [];
  const header = moduleDoc(sf);
  const sections: string[] = [];
  const contents: string[] = [];
  for (const exported of symbols) {
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const all = target.declarations ?? [];
    // An overloaded function: its overloads are the signatures; the implementation is not callable.
    const declarations =
      all.length > 1 ? all.filter((d) => !(ts.isFunctionDeclaration(d) && d.body !== undefined)) : all;
    const first = declarations[0];
    if (!first) continue;
    const name = exported.name;
    const doc = docOf(all);
    if (!doc.text.trim() && doc.examples.length === 0) {
      const where = relative(root, first.getSourceFile().fileName);
      const line = first.getSourceFile().getLineAndCharacterOfPosition(first.getStart()).line + 1;
      undocumented.push(`${entry.specifier}: ${name} (${where}:${line})`);
    }
    const kinds = [...new Set(declarations.map(kindOf))].join(', ');
    const lines = [`## ${name}`, '', `*${kinds}*`, ''];
    lines.push('```ts', declarations.map((d) => signature(d, name, checker)).join('\n\n'), '```', '');
    if (doc.deprecated) lines.push(`**Deprecated.** ${firstParagraph(doc.deprecated)}`, '');
    const paragraph = firstParagraph(doc.text);
    if (paragraph) lines.push(paragraph, '');
    for (const example of doc.examples) lines.push(renderExample(example), '');
    sections.push(lines.join('\n').trimEnd());
    contents.push(`- [${name}](#${anchor(name)}) — ${kinds}`);
  }
  const file = `${entry.specifier}.md`;
  const parts = [
    NOTICE,
    '',
    `# ${entry.specifier}`,
    '',
    `Source: [\`${entry.dir}/${entry.source}\`](${relative(dirname(join(OUT, file)), join(root, entry.dir, entry.source))})`,
    '',
  ];
  if (header.text) parts.push(header.text, '');
  for (const example of header.examples) parts.push(renderExample(example), '');
  parts.push('## Contents', '', ...contents, '', sections.join('\n\n'), '');
  return {
    entry,
    file,
    summary: summaryOf(entry.specifier, header.text),
    markdown: parts.join('\n'),
    exports: symbols.length,
  };
}

/** The header's first sentence, without the `latchkey/x:` it may open with. */
function summaryOf(specifier: string, header: string): string {
  const sentence = firstParagraph(header).split(/(?<=\.)\s/)[0] ?? '';
  const rest = sentence.replace(new RegExp(`^\`?${specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\`?:\\s*`), '');
  return rest === sentence ? sentence : rest.charAt(0).toUpperCase() + rest.slice(1);
}

function renderIndex(pages: Page[]): string {
  const rows = pages.map(
    (p) => `| [\`${p.entry.specifier}\`](${p.file}) | ${p.exports} | ${p.summary.replace(/\|/g, '\\|')} |`,
  );
  return [
    NOTICE,
    '',
    '# API reference',
    '',
    "One page per entry point of `latchkey` and `@latchkey/client`, generated from the sources' doc",
    'comments (`npm run docs:api`). Each export: its kind, its signature, what it is for, an example.',
    '',
    '| Import | Exports | What it is |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** The page as `npm run lint` wants it: Biome formats Markdown and the code blocks in it. */
async function formatted(file: string, text: string): Promise<string> {
  const biome = spawn(join(root, 'node_modules/.bin/biome'), ['format', `--stdin-file-path=docs/api/${file}`], {
    cwd: root,
  });
  let out = '';
  let err = '';
  biome.stdout.on('data', (chunk) => {
    out += chunk;
  });
  biome.stderr.on('data', (chunk) => {
    err += chunk;
  });
  biome.stdin.end(text);
  const code = await new Promise<number | null>((resolve) => biome.once('close', resolve));
  if (code !== 0) throw new Error(`biome could not format docs/api/${file}:\n${err}`);
  return out;
}

async function generate(): Promise<Map<string, string>> {
  const entries = readPackages().flatMap((p) => p.entries);
  const program = createProgram(entries);
  const checker = program.getTypeChecker();
  const pages = entries.map((entry) => renderPage(entry, program, checker));
  const raw: [string, string][] = [
    ...pages.map((p): [string, string] => [p.file, p.markdown]),
    ['README.md', renderIndex(pages)],
  ];
  return new Map(
    await Promise.all(raw.map(async ([file, text]): Promise<[string, string]> => [file, await formatted(file, text)])),
  );
}

function existing(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((f) => f.isFile() && f.name.endsWith('.md'))
      .map((f) => relative(dir, join(f.parentPath, f.name)).split('\\').join('/'));
  } catch {
    return [];
  }
}

const check = process.argv.includes('--check');
const files = await generate();
let failed = false;
if (check) {
  const stale = [...files].filter(([file, text]) => {
    try {
      return readFileSync(join(OUT, file), 'utf8') !== text;
    } catch {
      return true;
    }
  });
  const extra = existing(OUT).filter((file) => !files.has(file));
  if (stale.length > 0 || extra.length > 0) {
    failed = true;
    console.error(
      `docs/api is stale; run \`npm run docs:api\` and commit the result.\n${[
        ...stale.map(([file]) => `  differs: docs/api/${file}`),
        ...extra.map((file) => `  not generated: docs/api/${file}`),
      ].join('\n')}`,
    );
  }
} else {
  for (const file of existing(OUT)) if (!files.has(file)) rmSync(join(OUT, file));
  for (const [file, text] of files) {
    mkdirSync(dirname(join(OUT, file)), { recursive: true });
    writeFileSync(join(OUT, file), text);
  }
  console.log(`docs/api: ${files.size} pages written`);
}
if (undocumented.length > 0) {
  console.error(
    `${undocumented.length} public export(s) without a doc comment (add /** what it is for, @example */):\n${undocumented.map((u) => `  ${u}`).join('\n')}`,
  );
  if (check) failed = true;
}
if (failed) process.exit(1);

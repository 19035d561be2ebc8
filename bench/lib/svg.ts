/** Plain SVG bar charts, drawn from the bench's own numbers (no chart library, no hand work). */
export interface Bar {
  label: string;
  value: number;
  /** Shown at the end of the bar; default the value with two decimals. */
  text?: string;
  highlight?: boolean;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bars, one per row, optional vertical reference line (for example at 1.0×). */
export function barChart(options: {
  title: string;
  bars: Bar[];
  unit: string;
  reference?: number;
  log?: boolean;
}): string {
  const { bars } = options;
  // ~6.8 px per character at 12 px sans-serif: room for the longest label and value text.
  const labelWidth = Math.ceil(Math.max(...bars.map((b) => b.label.length)) * 6.8) + 20;
  const textWidth = Math.ceil(Math.max(...bars.map((b) => (b.text ?? b.value.toFixed(2)).length)) * 6.8) + 20;
  const plotWidth = 420;
  const row = 22;
  const top = 48;
  const height = top + bars.length * row + 36;
  const max = Math.max(...bars.map((b) => b.value), options.reference ?? 0) * 1.05;
  const min = options.log ? Math.min(...bars.map((b) => b.value)) / 2 : 0;
  const x = (v: number) =>
    options.log ? (Math.log10(v / min) / Math.log10(max / min)) * plotWidth : (v / max) * plotWidth;
  const rows = bars
    .map((b, i) => {
      const y = top + i * row;
      const w = Math.max(1, x(b.value));
      return (
        `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${xml(b.label)}</text>` +
        `<rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${row - 6}" fill="${b.highlight ? '#2563eb' : '#94a3b8'}"/>` +
        `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 15}">${xml(b.text ?? b.value.toFixed(2))}</text>`
      );
    })
    .join('\n');
  const ref =
    options.reference === undefined
      ? ''
      : `<line x1="${labelWidth + x(options.reference)}" x2="${labelWidth + x(options.reference)}" y1="${top - 4}" y2="${top + bars.length * row}" stroke="#dc2626" stroke-dasharray="4 3"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + plotWidth + textWidth}" height="${height}" font-family="sans-serif" font-size="12" fill="#0f172a" role="img">
<title>${xml(options.title)}</title>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="12" y="24" font-size="15" font-weight="bold">${xml(options.title)}</text>
${rows}
${ref}
<text x="${labelWidth}" y="${height - 12}" fill="#475569">${xml(options.unit)}${options.log ? ' (log scale)' : ''}</text>
</svg>
`;
}

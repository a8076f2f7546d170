/**
 * A small SVG writer for the scale benchmark's figures: panels of lines
 * against N on a log axis, y linear from 0 (so "flat in N" reads as flat).
 * Hand-rolled: a few dozen elements, and no browser or canvas to install.
 */
export interface Series {
  name: string;
  /** One value per x; null where it was not measured. */
  values: (number | null)[];
}
export interface Panel {
  title: string;
  unit: string;
  series: Series[];
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];
const W = 460;
const H = 300;
const M = { left: 62, right: 24, top: 30, bottom: 90 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (v >= 1e6 ? `${+(v / 1e6).toPrecision(3)}M` : v >= 1e3 ? `${+(v / 1e3).toPrecision(3)}k` : `${+v.toPrecision(3)}`);

/** Rounded-up axis top and a tick step that divides it into 4–5 parts. */
function niceTop(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const mag = 10 ** Math.floor(Math.log10(max));
  for (const s of [0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10]) {
    const step = s * mag;
    if (Math.ceil(max / step) <= 5) return { top: Math.ceil(max / step) * step, step };
  }
  return { top: max, step: max / 4 };
}

function panelSvg(p: Panel, xs: readonly number[], ox: number, oy: number): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const all = p.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const { top, step } = niceTop(Math.max(0, ...all));
  const lo = Math.log10(Math.min(...xs));
  const hi = Math.log10(Math.max(...xs));
  // One size: a point in the middle.
  const xAt = (x: number) => M.left + (hi === lo ? pw / 2 : ((Math.log10(x) - lo) / (hi - lo)) * pw);
  const yAt = (v: number) => M.top + ph - (v / top) * ph;
  const parts: string[] = [`<g transform="translate(${ox},${oy})">`, `<text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(p.title)} (${esc(p.unit)})</text>`];
  for (let v = 0; v <= top + step / 2; v += step) {
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${yAt(v)}" y2="${yAt(v)}" stroke="#ddd"/>`, `<text x="${M.left - 6}" y="${yAt(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const x of xs) parts.push(`<line x1="${xAt(x)}" x2="${xAt(x)}" y1="${M.top}" y2="${M.top + ph}" stroke="#eee"/>`, `<text x="${xAt(x)}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(x)}</text>`);
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`, `<text x="${M.left + pw / 2}" y="${M.top + ph + 32}" text-anchor="middle">records (log scale)</text>`);
  p.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const pts = s.values.map((v, j) => (v === null || !Number.isFinite(v) ? null : `${xAt(xs[j]!).toFixed(1)},${yAt(v).toFixed(1)}`)).filter((x): x is string => x !== null);
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const pt of pts) {
      const [cx, cy] = pt.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${colour}"/>`);
    }
    const lx = M.left + (i % 2) * (pw / 2);
    const ly = M.top + ph + 50 + Math.floor(i / 2) * 15;
    parts.push(`<line x1="${lx}" x2="${lx + 16}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"/>`, `<text x="${lx + 20}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push('</g>');
  return parts.join('\n');
}

/** The panels in a grid two wide, as one SVG document. */
export function svgPlot(title: string, xs: readonly number[], panels: readonly Panel[]): string {
  const cols = 2;
  const rows = Math.ceil(panels.length / cols);
  const width = cols * W;
  const height = rows * H + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
    ...panels.map((p, i) => panelSvg(p, xs, (i % cols) * W, 30 + Math.floor(i / cols) * H)),
    '</svg>',
    '',
  ].join('\n');
}

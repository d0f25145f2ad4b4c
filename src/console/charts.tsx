/**
 * @module charts
 * Charts drawn on the server as SVG: they need no script, print, and scale.
 * Each has a title and description for screen readers and is followed by
 * the same numbers as a table (in a <details>), so nothing is said by
 * colour or shape alone.
 */

export interface Bar {
  label: string;
  value: number;
  href?: string;
}

const COLOURS: Record<string, string> = { allow: "#1a7f37", deny: "#cf222e", require_approval: "#9a6700" };
const PALETTE = ["#0b57d0", "#cf222e", "#9a6700", "#1a7f37", "#8250df", "#57606a"];

export function colourOf(name: string, index: number): string {
  return COLOURS[name] ?? PALETTE[index % PALETTE.length];
}

/** Horizontal bars, largest first as given; each label can link to what it counts. */
export function BarChart(props: { id: string; title: string; bars: Bar[]; unit?: string; colour?: string; empty: string }) {
  const { bars } = props;
  if (bars.length === 0) return <p class="empty">{props.empty}</p>;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const rowHeight = 24;
  const labelWidth = 230;
  const width = 720;
  const barSpace = width - labelWidth - 70;
  const height = bars.length * rowHeight + 8;
  return (
    <figure class="chart">
      <figcaption id={`${props.id}-title`}>{props.title}</figcaption>
      <svg class="chart" role="img" aria-labelledby={`${props.id}-title`} viewBox={`0 0 ${width} ${height}`} width="100%" preserveAspectRatio="xMinYMin meet">
        {bars.map((bar, i) => {
          const y = i * rowHeight + 4;
          const w = Math.max(1, Math.round((bar.value / max) * barSpace));
          const label = bar.label.length > 34 ? `${bar.label.slice(0, 33)}…` : bar.label;
          return (
            <g>
              <title>{`${bar.label}: ${bar.value}${props.unit ? ` ${props.unit}` : ""}`}</title>
              <text x={labelWidth - 8} y={y + 15} text-anchor="end">
                {label}
              </text>
              <rect x={labelWidth} y={y + 3} width={w} height={rowHeight - 8} fill={props.colour ?? "#0b57d0"} />
              <text x={labelWidth + w + 6} y={y + 15}>
                {bar.value}
              </text>
            </g>
          );
        })}
      </svg>
      <details>
        <summary>The numbers</summary>
        <table>
          <tbody>
            {bars.map((bar) => (
              <tr>
                <th scope="row">{bar.href ? <a href={bar.href}>{bar.label}</a> : bar.label}</th>
                <td class="num">{bar.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

export interface Series {
  name: string;
  values: number[];
}

/** Stacked columns over time buckets (one series per outcome), with a legend in words. */
export function StackedColumns(props: { id: string; title: string; buckets: string[]; series: Series[]; empty: string }) {
  const { buckets, series } = props;
  const totals = buckets.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  if (totals.every((t) => t === 0)) return <p class="empty">{props.empty}</p>;
  const max = Math.max(...totals, 1);
  const width = 720;
  const height = 220;
  const left = 40;
  const bottom = 28;
  const plotHeight = height - bottom - 10;
  const step = (width - left - 10) / buckets.length;
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  return (
    <figure class="chart">
      <figcaption id={`${props.id}-title`}>{props.title}</figcaption>
      <div class="legend">
        {series.map((s, i) => (
          <span>
            <svg width="12" height="12" aria-hidden="true">
              <rect width="12" height="12" fill={colourOf(s.name, i)} />
            </svg>{" "}
            {s.name.replace(/_/g, " ")}
          </span>
        ))}
      </div>
      <svg class="chart" role="img" aria-labelledby={`${props.id}-title`} viewBox={`0 0 ${width} ${height}`} width="100%" preserveAspectRatio="xMinYMin meet">
        <line class="axis" x1={left} y1={10 + plotHeight} x2={width - 10} y2={10 + plotHeight} />
        <text x={left - 6} y={16} text-anchor="end">
          {max}
        </text>
        <text x={left - 6} y={10 + plotHeight} text-anchor="end">
          0
        </text>
        {buckets.map((bucket, i) => {
          let y = 10 + plotHeight;
          return (
            <g>
              <title>{`${bucket}: ${series.map((s) => `${s.name} ${s.values[i] ?? 0}`).join(", ")}`}</title>
              {series.map((s, k) => {
                const h = ((s.values[i] ?? 0) / max) * plotHeight;
                y -= h;
                return h > 0 ? <rect x={left + i * step + 1} y={y} width={Math.max(1, step - 2)} height={h} fill={colourOf(s.name, k)} /> : null;
              })}
              {i % labelEvery === 0 ? (
                <text x={left + i * step} y={height - 8}>
                  {bucket}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <details>
        <summary>The numbers</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Period</th>
              {series.map((s) => (
                <th scope="col" class="num">
                  {s.name.replace(/_/g, " ")}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {buckets.map((bucket, i) => (
              <tr>
                <th scope="row">{bucket}</th>
                {series.map((s) => (
                  <td class="num">{s.values[i] ?? 0}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

/**
 * @module console-styles
 * The console's one stylesheet, served from the Worker at
 * /console/static/console.css (a string, so the deploy carries no asset
 * step). Plain, legible, printable; focus is always visible, and colour is
 * never the only thing that says an outcome (each badge has its word).
 */
export const CONSOLE_CSS = `
:root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #ffffff; --panel: #f6f8fa; --accent: #0b57d0;
  --allow: #1a7f37; --deny: #cf222e; --approval: #9a6700; --focus: #0b57d0; font-size: 15px; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); line-height: 1.45; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, summary:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem 1rem; z-index: 10; }
.skip:focus { left: .5rem; }
header.top { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.5rem; border-bottom: 1px solid var(--line); background: var(--panel); flex-wrap: wrap; }
header.top .brand { font-weight: 700; text-decoration: none; color: var(--ink); }
nav.main ul { list-style: none; display: flex; gap: 1rem; margin: 0; padding: 0; flex-wrap: wrap; }
nav.main a[aria-current="page"] { font-weight: 700; text-decoration: none; color: var(--ink); border-bottom: 2px solid var(--accent); }
header.top .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; color: var(--muted); font-size: .9rem; }
main { padding: 1.25rem 1.5rem 3rem; max-width: 1200px; }
h1 { font-size: 1.45rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .93rem; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
caption.caption { text-align: left; caption-side: top; padding: .2rem 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: .88em; word-break: break-all; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-size: .82rem; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.badge.allow, .badge.approved, .badge.ok, .badge.delivered, .badge.closed { color: var(--allow); }
.badge.deny, .badge.rejected, .badge.problem, .badge.given_up, .badge.open, .badge.expired { color: var(--deny); }
.badge.require_approval, .badge.pending, .badge.failed, .badge.half_open { color: var(--approval); }
.badge.used { color: var(--muted); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; margin: .8rem 0; }
.notice { border-left: 4px solid var(--accent); background: #eef4ff; padding: .6rem .9rem; margin: .8rem 0; }
.error { border-left: 4px solid var(--deny); background: #fff0f0; padding: .6rem .9rem; margin: .8rem 0; }
.empty { color: var(--muted); padding: 1rem 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1.2rem; margin: .5rem 0 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
form.inline { display: inline; }
form.search { display: flex; gap: .8rem; flex-wrap: wrap; align-items: flex-end; background: var(--panel); padding: .8rem; border: 1px solid var(--line); border-radius: 6px; }
form.search label, form.stack label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); gap: .2rem; }
form.stack { display: flex; flex-direction: column; gap: .8rem; max-width: 36rem; }
input, select, textarea { font: inherit; padding: .35rem .5rem; border: 1px solid #8c959f; border-radius: 4px; color: var(--ink); background: #fff; }
textarea { min-height: 4.5rem; }
button, .button { font: inherit; padding: .4rem .9rem; border-radius: 4px; border: 1px solid #8c959f; background: #fff; cursor: pointer; color: var(--ink); text-decoration: none; display: inline-block; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.approve { background: var(--allow); border-color: var(--allow); color: #fff; }
button.reject { background: var(--deny); border-color: var(--deny); color: #fff; }
.actions { display: flex; gap: .8rem; align-items: center; flex-wrap: wrap; }
.muted { color: var(--muted); }
.live { font-size: .85rem; color: var(--muted); }
figure.chart { margin: .5rem 0 1.2rem; }
figure.chart figcaption { font-size: .9rem; color: var(--muted); margin-bottom: .3rem; }
svg.chart text { font-size: 11px; fill: var(--ink); font-family: inherit; }
svg.chart .axis { stroke: var(--line); }
.legend { display: flex; gap: 1rem; font-size: .85rem; margin: .2rem 0; }
details summary { cursor: pointer; }
pre { background: var(--panel); border: 1px solid var(--line); padding: .6rem; overflow-x: auto; font-size: .85rem; }
.diff-added { color: var(--allow); }
.diff-removed { color: var(--deny); }
@media print { header.top, .actions, form { display: none; } }
`;

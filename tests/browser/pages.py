"""Every page of the dashboard in real Chromium, through its DevTools protocol (Playwright's
Python package driving Debian's /usr/bin/chromium): at a phone's 360x740 and a desktop's
1280x800, light and dark. For each page it measures what a person would meet and prints
one JSON object per page on stdout; the Rust test (tests/pages.rs) says what must hold.

Usage: python pages.py CONFIG.json, CONFIG being
  {"chromium": "/usr/bin/chromium", "screens": "target/pages-screens",
   "sites": [{"name": "1s", "url": "http://127.0.0.1:PORT", "pages": ["/", "/day?date=…"]}]}

Measured per page:
- console errors and uncaught exceptions;
- the document's width against the window's (nothing wider than the screen);
- the contrast ratio (WCAG 2.1) of every visible text against its background, and of the
  chart's lines, bars and marks against theirs;
- the chart's axis labels: their font size against the body's, and whether one sticks out
  of its chart;
- words broken across two lines (a date, an amount and its unit);
- the pieces of the power curve (one polyline.mean each);
- the visible text (the test looks for "0.00 €" and for command-line flags).
"""

import json
import os
import sys

from playwright.sync_api import sync_playwright

MEASURE = r"""
() => {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = (c) => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat([1]);
  };
  // The opaque colour behind an element: its own and its ancestors' backgrounds, blended.
  const bg = (el) => {
    const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let c = [255, 255, 255, 1];
    const root = parse(getComputedStyle(document.documentElement).backgroundColor);
    if (root[3] > 0) c = over(root, c);
    for (let i = layers.length - 1; i >= 0; i--) c = over(layers[i], c);
    return c;
  };
  const visible = (el) => {
    const s = getComputedStyle(el);
    if (s.display === "none" || s.visibility === "hidden" || Number(s.opacity) === 0) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().replace(/\s+/g, ".") : "");
  const bodySize = parseFloat(getComputedStyle(document.body).fontSize);
  const out = { texts: [], graphics: [], labels: [], overflow: null, curves: 0 };
  // Texts: elements with their own visible text.
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg") || !visible(el)) continue;
    const own = Array.from(el.childNodes).filter((n) => n.nodeType === 3 && n.textContent.trim()).map((n) => n.textContent.trim()).join(" ");
    if (!own) continue;
    const s = getComputedStyle(el);
    const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    const fg = over(parse(s.color), bg(el));
    out.texts.push({ el: name(el), text: own.slice(0, 40), ratio: ratio(fg, bg(el)), need: large ? 3 : 4.5 });
  }
  // Graphics that carry meaning: the curve, the bars, the incomplete marks, the legend.
  for (const el of document.querySelectorAll("svg .mean, svg .seg, svg .mark, .legend i")) {
    if (!visible(el) && el.tagName.toLowerCase() !== "polyline") continue;
    const s = getComputedStyle(el);
    const paint = el.tagName.toLowerCase() === "i" ? s.backgroundColor : (el.classList.contains("mean") ? s.stroke : s.fill);
    const holder = el.closest(".plot, .live, .legend") || el.parentElement;
    out.graphics.push({ el: name(el), ratio: ratio(over(parse(paint), bg(holder)), bg(holder)), need: 3 });
  }
  // Axis labels: the body's size, inside their chart.
  for (const el of document.querySelectorAll(".chart .xaxis span, .chart .yaxis span")) {
    if (!visible(el)) continue;
    const fig = el.closest(".chart").getBoundingClientRect();
    const r = el.getBoundingClientRect();
    out.labels.push({
      text: el.textContent, size: parseFloat(getComputedStyle(el).fontSize), body: bodySize,
      inside: r.left >= fig.left - 1 && r.right <= fig.right + 1 && r.left >= 0 && r.right <= window.innerWidth + 1,
    });
  }
  // Figures broken across two lines ("2026-/01", "1,717.59/€"): a word with a digit, between
  // ASCII blanks (a no-break space binds an amount to its unit), whose pieces lie on lines
  // of different tops.
  out.broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest("svg, script, style") || !visible(el)) continue;
    const re = /[^ \t\n\r]+/g;
    let m;
    while ((m = re.exec(n.textContent)) !== null) {
      // Prose may break at a hyphen (off-peak); a date, a time or an amount may not.
      if (m[0].length < 2 || !/[0-9]/.test(m[0])) continue;
      const r = document.createRange();
      r.setStart(n, m.index);
      r.setEnd(n, m.index + m[0].length);
      const tops = new Set(Array.from(r.getClientRects()).filter((q) => q.width > 0).map((q) => Math.round(q.top)));
      if (tops.size > 1) out.broken.push({ el: name(el), word: m[0] });
    }
  }
  out.overflow = { scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth, inner: window.innerWidth };
  out.curves = document.querySelectorAll("figure.power polyline.mean").length;
  out.live = document.querySelectorAll("#live-chart polyline.mean").length;
  const first = document.querySelector("#contracts tbody tr th");
  out.first_row = first ? first.textContent : null;
  out.text = document.body.innerText;
  return out;
}
"""


def main():
    config = json.load(open(sys.argv[1]))
    os.makedirs(config["screens"], exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=config["chromium"],
            headless=True,
            # No network of its own, no updates, no first-run screens: the run sees only the
            # loopback server.
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-dev-shm-usage",
            ],
        )
        for site in config["sites"]:
            for scheme in ["light", "dark"]:
                for (w, h) in [(360, 740), (1280, 800)]:
                    context = browser.new_context(viewport={"width": w, "height": h}, color_scheme=scheme)
                    for path in site["pages"]:
                        page = context.new_page()
                        errors = []
                        page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
                        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                        page.goto(site["url"] + path, wait_until="load", timeout=60000)
                        if path == "/":
                            # The script has drawn the last hour (or said why it cannot).
                            page.wait_for_function(
                                "() => { const c = document.getElementById('live-chart'); return c && c.getAttribute('data-ready') === '1'; }",
                                timeout=20000,
                            )
                        result = page.evaluate(MEASURE)
                        slug = path.strip("/").replace("?", "-").replace("=", "-").replace("&", "-") or "now"
                        shot = os.path.join(config["screens"], f"{site['name']}-{slug}-{w}-{scheme}.png")
                        page.screenshot(path=shot, full_page=True)
                        result.update({"site": site["name"], "page": path, "width": w, "scheme": scheme,
                                       "errors": errors, "screenshot": shot})
                        print(json.dumps(result), flush=True)
                        page.close()
                    context.close()
        browser.close()


if __name__ == "__main__":
    main()

import { expect, hydrated, newEmail, signUpAs, test } from "./fixtures";
import type { Browser, BrowserContext, Page } from "@playwright/test";

// Records, from the first script the page runs, the moment the bundle has taken over the
// page (the `data-hydrated` marker turning true), so the figure does not include the time
// the test takes to notice.
const RECORD_HYDRATION = () => {
  const w = window as unknown as { __hydratedAt?: number };
  new MutationObserver(() => {
    if (w.__hydratedAt === undefined && document.querySelector('main[data-hydrated="true"]')) {
      w.__hydratedAt = performance.now();
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-hydrated"] });
};

type Load = {
  interactiveMs: number;
  htmlMs: number;
  wasm: string;
  wasmOverWire: number;
  wasmSize: number;
  script: string;
  scriptOverWire: number;
  wasmCaching: string;
};

/** Loads `path` and says when it became interactive, and what its bundle cost to fetch. */
async function load(page: Page, path: string): Promise<Load> {
  let wasmCaching = "";
  const seen = (r: import("@playwright/test").Response) => {
    if (new URL(r.url()).pathname.endsWith(".wasm")) wasmCaching = r.headers()["cache-control"] ?? "";
  };
  page.on("response", seen);
  await page.goto(path);
  await hydrated(page);
  page.off("response", seen);
  const timings = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    const entries = performance.getEntriesByType("resource") as PerformanceResourceTiming[];
    const wasm = entries.find((e) => new URL(e.name).pathname.endsWith(".wasm"));
    const script = entries.find((e) => /^\/pkg\/[^/]+\.js$/.test(new URL(e.name).pathname));
    return {
      interactiveMs: Math.round((window as unknown as { __hydratedAt: number }).__hydratedAt),
      htmlMs: Math.round(nav.responseEnd),
      wasm: wasm ? new URL(wasm.name).pathname : "",
      wasmOverWire: wasm?.transferSize ?? -1,
      wasmSize: wasm?.decodedBodySize ?? -1,
      script: script ? new URL(script.name).pathname : "",
      scriptOverWire: script?.transferSize ?? -1,
    };
  });
  return { ...timings, wasmCaching };
}

/** A context with an empty cache, signed in as the account `from` holds. */
async function freshContext(browser: Browser, from: BrowserContext): Promise<BrowserContext> {
  const context = await browser.newContext({ storageState: await from.storageState() });
  await context.addInitScript(RECORD_HYDRATION);
  return context;
}

test("/credits becomes interactive from a cold and a warm cache, the bundle kept without asking", async ({
  page,
  browser,
}) => {
  await signUpAs(page, newEmail("speed"));
  const context = await freshContext(browser, page.context());
  const tab = await context.newPage();
  const errors: string[] = [];
  tab.on("pageerror", (e) => errors.push(e.message));

  const cold = await load(tab, "/credits");
  await expect(tab.getByRole("heading", { level: 1 })).toHaveText("Credits");
  const warm = await load(tab, "/credits");
  await expect(tab.getByRole("heading", { level: 1 })).toHaveText("Credits");

  console.log(
    `time to interactive, /credits: cold ${cold.interactiveMs} ms (page ${cold.htmlMs} ms, ` +
      `${cold.wasm} ${cold.wasmSize} bytes, ${cold.wasmOverWire} over the wire); ` +
      `warm ${warm.interactiveMs} ms (page ${warm.htmlMs} ms, wasm ${warm.wasmOverWire} and script ` +
      `${warm.scriptOverWire} bytes over the wire)`,
  );

  // The build names the bundle after its content and it is sent to be kept for good, so
  // the second visit takes the script from the cache without a request, not even a
  // revalidation. (Whether the WebAssembly is kept too is the browser's choice by size:
  // a debug build's is too big for a private window's memory cache.)
  expect(cold.wasm).toMatch(/^\/pkg\/tollgate\.[A-Za-z0-9_-]{22}\.wasm$/);
  expect(warm.wasm).toBe(cold.wasm);
  expect(cold.wasmCaching).toBe("public, max-age=31536000, immutable");
  expect(cold.script).toMatch(/^\/pkg\/tollgate\.[A-Za-z0-9_-]{22}\.js$/);
  expect(cold.scriptOverWire).toBeGreaterThan(0);
  expect(warm.scriptOverWire).toBe(0);
  const css = await tab.locator('link[rel="stylesheet"]').getAttribute("href");
  expect(css).toMatch(/^\/pkg\/tollgate\.[A-Za-z0-9_-]{22}\.css$/);
  expect(errors).toEqual([]);
  await context.close();
});

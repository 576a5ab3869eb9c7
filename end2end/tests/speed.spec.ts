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

type Load = { interactiveMs: number; htmlMs: number; wasm: string; wasmOverWire: number; wasmSize: number };

/** Loads `path` and says when it became interactive, and what its bundle cost to fetch. */
async function load(page: Page, path: string): Promise<Load> {
  await page.goto(path);
  await hydrated(page);
  return page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    const wasm = (performance.getEntriesByType("resource") as PerformanceResourceTiming[]).find((e) =>
      new URL(e.name).pathname.endsWith(".wasm"),
    );
    return {
      interactiveMs: Math.round((window as unknown as { __hydratedAt: number }).__hydratedAt),
      htmlMs: Math.round(nav.responseEnd),
      wasm: wasm ? new URL(wasm.name).pathname : "",
      wasmOverWire: wasm?.transferSize ?? -1,
      wasmSize: wasm?.decodedBodySize ?? -1,
    };
  });
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
      `warm ${warm.interactiveMs} ms (page ${warm.htmlMs} ms, bundle ${warm.wasmOverWire} bytes over the wire)`,
  );

  // The build names the bundle after its content, so the second visit takes it from the
  // cache without a request, not even a revalidation.
  expect(cold.wasm).toMatch(/^\/pkg\/tollgate\.[A-Za-z0-9_-]{22}\.wasm$/);
  expect(warm.wasm).toBe(cold.wasm);
  expect(cold.wasmOverWire).toBeGreaterThan(0);
  expect(warm.wasmOverWire).toBe(0);
  const css = await tab.locator('link[rel="stylesheet"]').getAttribute("href");
  expect(css).toMatch(/^\/pkg\/tollgate\.[A-Za-z0-9_-]{22}\.css$/);
  expect(errors).toEqual([]);
  await context.close();
});

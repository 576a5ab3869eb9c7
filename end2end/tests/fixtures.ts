import { test as base, expect } from "@playwright/test";

// Every test fails if the page logs an error or throws: a hydration mismatch or a panic
// in the browser bundle shows up here even when the page still looks right.
// "Failed to load resource" is left out: a 404 page is one on purpose.
export const test = base.extend<{ browserErrors: string[] }>({
  browserErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
          errors.push(`console: ${m.text()}`);
        }
      });
      await use(errors);
      expect(errors, "errors in the browser").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** Waits until the browser bundle has taken over the server-rendered page. */
export async function hydrated(page: import("@playwright/test").Page): Promise<void> {
  await expect(page.locator("main")).toHaveAttribute("data-hydrated", "true");
}

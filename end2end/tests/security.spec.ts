import { test as plain } from "@playwright/test";
import { dismissOnboarding, expect, hydrated, newEmail, test } from "./fixtures";

/** Collects Content-Security-Policy violations the page reports, from its first script on. */
async function watchViolations(page: import("@playwright/test").Page): Promise<void> {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { cspViolations: string[] }).cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
}

async function violations(page: import("@playwright/test").Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
}

test("every page hydrates and works under its content security policy", async ({ page }) => {
  await watchViolations(page);
  const first = await page.goto("/signup");
  const policy = first?.headers()["content-security-policy"] ?? "";
  expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]{16,}' 'wasm-unsafe-eval'/);
  expect(policy).toContain("frame-ancestors 'none'");
  await hydrated(page);
  await page.getByLabel("Email").fill(newEmail("csp"));
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/credits$/);
  await dismissOnboarding(page);

  // Each page: rendered, its streamed parts filled in, hydrated, and something clicked.
  await page.goto("/credits?tab=transactions");
  await hydrated(page);
  await expect(page.getByRole("tab", { name: "Transactions" })).toHaveAttribute("aria-selected", "true");
  await page.getByRole("tab", { name: "Gift Codes" }).click();
  await expect(page).toHaveURL(/tab=gift-codes/);

  await page.goto("/studio");
  await hydrated(page);
  await page.getByLabel("Prompt").fill("a lighthouse at dusk");
  await page.getByRole("button", { name: "Generate" }).click();
  await expect(page.getByTestId("run-cost")).toContainText("charged to your credits");
  await expect(page.getByRole("img", { name: /Generated image/ })).toHaveCount(1);

  await page.goto("/settings/api-keys");
  await hydrated(page);
  await page.goto("/settings/api-tokens");
  await hydrated(page);
  await page.goto("/");
  await hydrated(page);
  expect(await violations(page)).toEqual([]);
  await page.goto("/status");
  await hydrated(page);
  await page.getByRole("button", { name: "Check status" }).click();
  await expect(page.getByRole("status")).toContainText("All systems operational.");

  expect(await violations(page)).toEqual([]);
});

// Without the console check: the browser reports the refused frame as an error, on purpose.
plain("no other site can show the app in a frame", async ({ page, baseURL }) => {
  await page.setContent(`<h1>Another site</h1><iframe title="framed" src="${baseURL}/signin"></iframe>`);
  const frame = await (await page.waitForSelector('iframe[title="framed"]')).contentFrame();
  expect(frame).not.toBeNull();
  await frame!.waitForLoadState("load");
  // The browser put its own error page in the frame instead of the app.
  expect(frame!.url()).not.toContain("/signin");
  await expect(frame!.getByRole("heading", { name: "Sign in" })).toHaveCount(0);
  const res = await page.request.get("/signin");
  expect(res.headers()["x-frame-options"]).toBe("DENY");
});

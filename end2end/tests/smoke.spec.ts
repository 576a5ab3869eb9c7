import { expect, hydrated, test } from "./fixtures";

test.describe("home page", () => {
  test("hydrates, and the status page shows the server's status from a server function", async ({ page }) => {
    await page.goto("/");
    await expect(page).toHaveTitle("Tollgate");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Prepaid credits for AI generation");
    await hydrated(page);
    await page.getByRole("contentinfo").getByRole("link", { name: "Status" }).click();
    await expect(page).toHaveURL(/\/status$/);
    await expect(page).toHaveTitle("Status · Tollgate");
    await hydrated(page);

    const status = page.getByRole("status");
    await expect(status).toBeEmpty();
    await page.getByRole("button", { name: "Check status" }).click();
    await expect(status).toContainText("All systems operational.");
    await expect(status.getByText("SQLite", { exact: true })).toBeVisible();
    await expect(status).toContainText("Schema version");
  });

  test("says it runs in sandbox mode", async ({ page }) => {
    await page.goto("/");
    await expect(page.getByRole("banner").getByText("Sandbox")).toBeVisible();
    await hydrated(page);
  });
});

test.describe("navigation", () => {
  test("header links reach Settings and Credits, which ask a visitor to sign in", async ({ page }) => {
    await page.goto("/");
    await hydrated(page);
    const nav = page.getByRole("navigation", { name: "Main" });

    await nav.getByRole("link", { name: "Settings" }).click();
    await expect(page).toHaveURL(/\/signin\?next=\/settings\/api-keys$/);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign in");

    await nav.getByRole("link", { name: "Credits" }).click();
    await expect(page).toHaveURL(/\/signin\?next=\/credits$/);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign in");
    // Client-side navigation keeps the hydrated app: the marker never went back to false.
    await hydrated(page);
  });

  test("an unknown address shows a 404 page with a way back", async ({ page }) => {
    const res = await page.goto("/no/such/page");
    expect(res?.status()).toBe(404);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Page not found");
    await hydrated(page);
    await page.getByRole("link", { name: "Back to the home page" }).click();
    await expect(page).toHaveURL(/\/$/);
  });

  test("works at phone width", async ({ page }) => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto("/");
    await hydrated(page);
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect(nav.getByRole("link", { name: "Credits" })).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });
});

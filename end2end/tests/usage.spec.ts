import { dismissOnboarding, expect, hydrated, newEmail, snapshot, test } from "./fixtures";

async function signUp(page: import("@playwright/test").Page): Promise<void> {
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill(newEmail("usage"));
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/credits$/);
  await dismissOnboarding(page);
}

/** A call through the gateway with the page's session, as the Studio makes them. */
async function run(page: import("@playwright/test").Page, endpoint: string, input: object): Promise<number> {
  const res = await page.request.post(`/api/v1/run/${endpoint}`, { data: input });
  return res.status();
}

test("the usage section shows the week's spend, a chart of it and the call history", async ({ page }) => {
  await signUp(page);
  expect(await run(page, "fal-ai/flux/dev", { prompt: "a lighthouse" })).toBe(200);
  expect(await run(page, "fal-ai/flux/dev", { prompt: "a harbour", num_images: 2 })).toBe(200);
  // A provider failure is listed but charges nothing.
  expect(await run(page, "fal-ai/flux/dev", { prompt: "x", sandbox_failure: "server_error" })).toBe(502);

  await page.goto("/credits");
  await hydrated(page);
  const usage = page.getByTestId("usage");
  await expect(usage.getByRole("heading", { name: "Usage" })).toBeVisible();
  await expect(page.getByTestId("usage-balance")).toContainText("$4.9250");

  const today = new Date().toISOString().slice(0, 10);
  const summary = page.getByTestId("usage-summary");
  await expect(summary.getByRole("row")).toHaveCount(1 + 7 + 1);
  const todayRow = summary.getByRole("row", { name: new RegExp(`^${today}`) });
  await expect(todayRow).toContainText("$0.0750");
  await expect(todayRow.getByRole("cell").nth(2)).toHaveText("3");
  await expect(page.getByTestId("usage-total")).toHaveText("$0.0750");

  // The chart is a picture with words: its name is the caption, and it has one bar.
  const chart = page.getByRole("img", { name: /Daily credit spend/ });
  await expect(chart).toBeVisible();
  await expect(chart).toHaveAccessibleName(new RegExp(`\\$0\\.0750 in all; the most was \\$0\\.0750 on ${today}`));
  await expect(chart.locator("rect.spend-chart__bar")).toHaveCount(1);
  await expect(chart.locator(`[data-date="${today}"]`)).toHaveAttribute("data-cost-micros", "75000");
  const bar = await chart.locator("rect.spend-chart__bar").boundingBox();
  expect(bar?.height ?? 0, "the only day with spend fills most of the scale").toBeGreaterThan(40);

  const history = page.getByTestId("usage-history");
  await expect(history.getByRole("row")).toHaveCount(1 + 3);
  const failed = history.locator("tr[data-status=failed]");
  await expect(failed).toContainText("Not charged");
  await expect(failed).toContainText("$0.00");
  const succeeded = history.locator("tr[data-status=succeeded]").first();
  await expect(succeeded).toContainText("FLUX.1 [dev]");
  await expect(succeeded).toContainText("Image generation");
  await expect(succeeded).toContainText("fal.ai");
  await expect(succeeded).not.toContainText("tollgate");
  await snapshot(page, "usage-section");

  // The controls change the address and the list, without leaving the page.
  await page.getByLabel("from the last").selectOption("7");
  await expect(page).toHaveURL(/days=7/);
  await expect(page.getByLabel("from the last")).toHaveValue("7");
  await expect(history.getByRole("row")).toHaveCount(1 + 3);
  await page.getByLabel("Show").selectOption("50");
  await expect(page).toHaveURL(/limit=50&days=7/);
  await expect(history.getByRole("row")).toHaveCount(1 + 3);

  // Reloading keeps the choices.
  await page.reload();
  await hydrated(page);
  await expect(page.getByLabel("Show")).toHaveValue("50");
  await expect(page.getByLabel("from the last")).toHaveValue("7");
});

test("someone new sees one sentence, not seven days of nothing", async ({ page }) => {
  await signUp(page);
  await expect(page.getByTestId("usage-history-empty")).toHaveText("No calls in the last 30 days.");
  await expect(page.getByTestId("usage-summary-empty")).toHaveText(
    "Nothing spent in the last 7 days. What you generate shows here, day by day.",
  );
  await expect(page.getByRole("img", { name: /Daily credit spend/ })).toHaveCount(0);
  await expect(page.getByTestId("usage-summary")).toHaveCount(0);
  await expect(page.getByTestId("low-balance")).toHaveCount(0);
});

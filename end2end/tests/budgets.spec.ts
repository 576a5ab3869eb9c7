import { expect, hydrated, newEmail, signUpAs, test } from "./fixtures";

test("a budget set on an API token stops its calls at the limit, with a 402 naming it", async ({ page }) => {
  await signUpAs(page, newEmail("budget"));
  await page.goto("/settings/api-tokens");
  await hydrated(page);
  await page.getByLabel("Token name").fill("render farm");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.getByTestId("new-token").textContent())!.trim();
  const budget = page.getByTestId("budget-render farm");
  await expect(budget).toContainText("No limit");

  await page.getByLabel("Budget for render farm in USD").fill("0.006");
  await page.getByLabel("Budget window for render farm").selectOption("day");
  await budget.getByRole("button", { name: "Set budget" }).click();
  await expect(budget).toContainText("$0.0060 per day (UTC), $0.0060 left");

  const call = (id: string) =>
    page.request.post("/api/v1/run/fal-ai/flux/schnell", {
      data: { prompt: "a fox" },
      headers: { authorization: `Bearer ${secret}`, "x-request-id": id },
    });
  expect((await call("one")).status()).toBe(200);
  expect((await call("two")).status()).toBe(200);
  const refused = await call("three");
  expect(refused.status()).toBe(402);
  const body = await refused.json();
  expect(body.limit).toBe("token_budget");
  expect(body.window).toBe("day");

  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("budget-render farm")).toContainText("$0.0060 per day (UTC), $0.00 left");
  await page.getByRole("button", { name: "Remove the budget of render farm" }).click();
  await expect(page.getByTestId("budget-render farm")).toContainText("No limit");
  expect((await call("four")).status()).toBe(200);
});

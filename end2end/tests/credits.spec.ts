import { dismissOnboarding, expect, hydrated, test } from "./fixtures";

async function signUp(page: import("@playwright/test").Page): Promise<void> {
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill(`credits-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/credits$/);
  await dismissOnboarding(page);
}

test("the Credits tabs have addresses and follow the arrow keys", async ({ page }) => {
  await signUp(page);
  await hydrated(page);
  const tabs = page.getByRole("tablist", { name: "Credits" });
  await expect(tabs.getByRole("tab", { name: "Balance" })).toHaveAttribute("aria-selected", "true");
  await tabs.getByRole("tab", { name: "Balance" }).focus();
  await page.keyboard.press("ArrowRight");
  await expect(page).toHaveURL(/\?tab=transactions$/);
  await expect(tabs.getByRole("tab", { name: "Transactions" })).toBeFocused();
  await expect(page.getByRole("tabpanel")).toContainText("Transactions");
  await page.keyboard.press("End");
  await expect(page).toHaveURL(/\?tab=gift-codes$/);
  await page.keyboard.press("Home");
  await expect(page).toHaveURL(/\?tab=balance$/);
  await expect(page.getByTestId("balance")).toHaveText("$5.00");
});

test("transactions filter by type and download as CSV", async ({ page }) => {
  await signUp(page);
  await page.goto("/credits?tab=transactions");
  await hydrated(page);
  const table = page.getByRole("table");
  await expect(table.getByRole("row", { name: /Sign-up credit/ })).toContainText("+$5.00");

  await page.getByLabel("Type").selectOption("usage");
  await expect(page).toHaveURL(/type=usage/);
  await expect(page.getByTestId("tx-empty")).toBeVisible();
  await page.getByLabel("Type").selectOption("grants");
  await expect(page.getByRole("table").getByRole("row", { name: /Sign-up credit/ })).toBeVisible();

  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download CSV" }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe("tollgate-transactions-grants.csv");
  const text = await (await file.createReadStream()).toArray();
  const csv = Buffer.concat(text).toString("utf8");
  expect(csv.split("\n")[0]).toBe("date_utc,type,description,provider,model,operation,amount_usd,balance_after_usd,transaction_id");
  expect(csv).toContain("Sign-up credit,Welcome credits,,,,5,5,");
});

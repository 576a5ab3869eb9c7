import { expect, generateAtPrice, hydrated, newEmail, signUpAs, snapshot, test } from "./fixtures";

async function saveSandboxCard(page: import("@playwright/test").Page, label: RegExp): Promise<void> {
  await page.getByRole("button", { name: /Save a card|Replace card/ }).click();
  await expect(page).toHaveURL(/\/sandbox\/card$/);
  await hydrated(page);
  await page.getByLabel(label).check();
  await page.getByRole("button", { name: "Save card" }).click();
  await expect(page).toHaveURL(/\/credits\?card=saved$/);
  await expect(page.getByText("Card saved.")).toBeVisible();
}

async function enableAutoTopUp(page: import("@playwright/test").Page, threshold: string): Promise<void> {
  await hydrated(page);
  const section = page.getByTestId("auto-top-up");
  await section.getByLabel("Turn on auto top-up").check();
  await section.getByLabel("When the balance falls under (USD)").fill(threshold);
  await section.getByLabel("Add (USD)").fill("25");
  await section.getByLabel("At most per month (USD)").fill("200");
  await section.getByRole("button", { name: "Save auto top-up" }).click();
  await expect(page.getByText("Auto top-up saved.")).toBeVisible();
}

test("a saved card refills the balance when spending takes it under the threshold", async ({ page }) => {
  const email = newEmail("topup");
  await signUpAs(page, email);
  await saveSandboxCard(page, /Visa ending in 4242/);
  await expect(page.getByTestId("card")).toContainText("Visa ending in 4242");
  await enableAutoTopUp(page, "5");
  await expect(page.getByTestId("auto-top-up")).toContainText("On: when your available balance falls under $5.00");
  await snapshot(page, "auto-top-up-on");

  // One $1 image in the Studio takes $5.00 to $4.00: the card is charged $25.
  await generateAtPrice(page, email, "1");

  await page.goto("/credits");
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("balance")).toHaveText("$29.00", { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  const payments = page.getByTestId("payments");
  await expect(payments.locator('tr[data-status="paid"]')).toContainText("Auto top-up");
  await expect(payments.locator('tr[data-status="paid"]')).toContainText("$25.00");
  await expect(page.getByTestId("auto-top-up")).toContainText("$25.00 so far this month");
  await snapshot(page, "auto-top-up-refilled");
});

test("a declining card pauses auto top-up and says so on the Balance tab", async ({ page }) => {
  await signUpAs(page, newEmail("declined"));
  await saveSandboxCard(page, /ending in 0002/);
  // $5.00 is under a $10 threshold: the attempt starts on saving, and is declined.
  await enableAutoTopUp(page, "10");
  const paused = page.getByTestId("auto-top-up-paused");
  await expect(paused).toContainText("Auto top-up is paused: Your card was declined.");
  await expect(page.getByTestId("balance")).toHaveText("$5.00");
  await expect(page.getByTestId("payments").locator('tr[data-status="declined"]')).toContainText("Declined");
  await snapshot(page, "auto-top-up-paused");

  // A card that pays lifts the pause.
  await saveSandboxCard(page, /Visa ending in 4242/);
  await expect(page.getByTestId("auto-top-up-paused")).toBeHidden();
});

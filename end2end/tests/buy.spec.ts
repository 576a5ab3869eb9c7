import { dismissOnboarding, expect, hydrated, test } from "./fixtures";

async function signUp(page: import("@playwright/test").Page): Promise<void> {
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill(`buyer-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/credits$/);
  await dismissOnboarding(page);
}

test("buy $50 in the sandbox and see $55.00 added as two transactions", async ({ page }) => {
  await signUp(page);
  await page.getByRole("button", { name: "$50" }).click();
  await expect(page.getByTestId("quote")).toHaveText("You pay $50.00, you get $55.00.");
  await page.getByRole("button", { name: "Continue to payment" }).click();

  await expect(page).toHaveURL(/\/sandbox\/checkout\/cs_sandbox_/);
  await expect(page.getByText("Sandbox: no real money")).toBeVisible();
  await hydrated(page);
  await page.getByRole("button", { name: "Pay $50.00" }).click();

  await expect(page).toHaveURL(/checkout=success/);
  await expect(page.getByRole("status").getByText("Payment received: $55.00 was added to your balance.")).toBeVisible();
  await expect(page.getByTestId("balance")).toHaveText("$60.00");

  await page.getByRole("tab", { name: "Transactions" }).click();
  await page.getByLabel("Type").selectOption("purchases");
  await expect(page.getByRole("row", { name: /Purchase bonus/ })).toContainText("+$5.00");
  await expect(page.getByRole("row", { name: /Bought \$50\.00/ })).toContainText("+$50.00");
});

test("a cancelled checkout shows a notice and adds nothing", async ({ page }) => {
  await signUp(page);
  await page.getByLabel("Amount (USD)").fill("12.50");
  await expect(page.getByTestId("quote")).toHaveText("You pay $12.50, you get $12.50.");
  await page.getByRole("button", { name: "Continue to payment" }).click();
  await expect(page).toHaveURL(/\/sandbox\/checkout\//);
  await hydrated(page);
  await page.getByRole("link", { name: "Cancel" }).click();
  await expect(page).toHaveURL(/checkout=cancel/);
  await expect(page.getByText("Checkout cancelled. Nothing was charged and nothing was added.")).toBeVisible();
  await expect(page.getByTestId("balance")).toHaveText("$5.00");
});

test("an amount under the minimum is refused before paying", async ({ page }) => {
  await signUp(page);
  await page.getByLabel("Amount (USD)").fill("4");
  await expect(page.getByRole("button", { name: "Continue to payment" })).toBeDisabled();
});

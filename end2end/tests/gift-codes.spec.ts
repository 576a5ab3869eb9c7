import { execFileSync } from "node:child_process";
import { dismissOnboarding, expect, hydrated, test } from "./fixtures";

// Codes are made the way an operator makes them: with the tollgate command, against the
// same data directory the server under test uses (TOLLGATE_DATA_DIR is inherited).
function makeCode(amount: string): string {
  const csv = execFileSync("../target/debug/tollgate", ["admin", "gift-codes", "create", "--amount", amount], {
    encoding: "utf8",
  });
  return csv.trim().split("\n")[1].split(",")[0];
}

test("redeem a code, then see the error when redeeming it again", async ({ page }) => {
  const code = makeCode("10");
  await page.goto("/signup?next=/credits?tab=gift-codes");
  await hydrated(page);
  await page.getByLabel("Email").fill(`gift-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/tab=gift-codes$/);
  await dismissOnboarding(page);

  // Typed sloppily: lower case, spaces instead of dashes.
  await page.getByLabel("Gift code", { exact: true }).fill(code.toLowerCase().replaceAll("-", " "));
  await page.getByRole("button", { name: "Redeem" }).click();
  await expect(page.getByRole("status").getByText("$10.00 was added to your balance.")).toBeVisible();

  await page.getByLabel("Gift code", { exact: true }).fill(code);
  await page.getByRole("button", { name: "Redeem" }).click();
  await expect(page.getByText("You have already redeemed this code.")).toBeVisible();
  await expect(page.getByLabel("Gift code", { exact: true })).toHaveAttribute("aria-invalid", "true");

  await page.getByRole("tab", { name: "Balance" }).click();
  await expect(page.getByTestId("balance")).toHaveText("$15.00");
  await page.getByRole("tab", { name: "Transactions" }).click();
  await expect(page.getByRole("row", { name: /Gift code/ })).toContainText("+$10.00");
});

import { execFileSync } from "node:child_process";
import { expect, generateAtPrice, hydrated, newEmail, signUpAs, snapshot, test } from "./fixtures";

// The operator's commands run against the data directory the server under test uses.
function tollgate(...args: string[]): string {
  return execFileSync("../target/debug/tollgate", args, { encoding: "utf8" });
}

function lastMonth(): string {
  const now = new Date();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}

test("a postpaid account spends on credit and pays its monthly invoice with its card", async ({ page }) => {
  const email = newEmail("postpaid");
  await signUpAs(page, email);

  expect(tollgate("admin", "billing-mode", "set", "--email", email, "--mode", "postpaid", "--credit-limit-usd", "50")).toContain(
    "is postpaid with a credit limit of $50.00",
  );
  await page.reload();
  await expect(page.getByTestId("credit-line")).toContainText("you can spend up to $50.00 on credit");

  // A $7 image with $5 of credits: $2 on credit.
  await generateAtPrice(page, email, "7");

  await page.goto("/credits");
  await expect(page.getByTestId("credit-line")).toContainText("Drawn so far: $2.00");
  await page.getByRole("button", { name: "Save a card" }).click();
  await hydrated(page);
  await page.getByRole("button", { name: "Save card" }).click();
  await expect(page).toHaveURL(/card=saved/);

  // Last month's invoice (for the credit drawn), charged to the card at once.
  expect(tollgate("admin", "invoices", "run", "--month", lastMonth())).toMatch(/\d+ made/);
  await page.reload();
  const invoices = page.getByTestId("invoices");
  await expect(invoices.locator('tr[data-status="paid"]')).toContainText("$2.00");
  await snapshot(page, "invoices-list");
  await invoices.getByRole("link", { name: `Invoice for ${lastMonth()}` }).click();
  await expect(page.getByTestId("invoice")).toContainText("Paid");
  await expect(page.getByText("Spent on credit: due")).toBeVisible();
  await snapshot(page, "invoice-page");
  await page.goto("/credits");
  await expect(page.getByTestId("credit-line")).toContainText("Drawn so far: $0.00");
});

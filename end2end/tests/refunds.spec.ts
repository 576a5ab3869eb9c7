import { execFileSync } from "node:child_process";
import { dismissOnboarding, expect, hydrated, test } from "./fixtures";

// An operator refunds with the tollgate command, against the data directory the server
// under test uses (TOLLGATE_DATA_DIR is inherited); the sandbox sends the refund event.
function refund(payment: string, amountUsd?: string): string {
  const args = ["admin", "refund", "--payment", payment, ...(amountUsd ? ["--amount-usd", amountUsd] : [])];
  return execFileSync("../target/debug/tollgate", args, { encoding: "utf8" });
}

test("a refund after spending shows what is owed, and the payment as refunded", async ({ page }) => {
  const email = `refund-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`;
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/credits$/);
  await dismissOnboarding(page);

  await page.getByRole("button", { name: "$50" }).click();
  await page.getByRole("button", { name: "Continue to payment" }).click();
  await expect(page).toHaveURL(/\/sandbox\/checkout\/cs_sandbox_/);
  const session = new URL(page.url()).pathname.split("/").pop() as string;
  await hydrated(page);
  await page.getByRole("button", { name: "Pay $50.00" }).click();
  await expect(page.getByTestId("balance")).toHaveText("$60.00");

  // $20 refunded: $20 and its $2 bonus share go back.
  expect(refund(session, "20")).toContain("refund $20.00 of");
  await page.reload();
  await expect(page.getByTestId("balance")).toHaveText("$38.00");
  const payments = page.getByTestId("payments");
  await expect(payments.locator('tr[data-status="partly_refunded"]')).toContainText("Partly refunded");
  await expect(payments.locator('tr[data-status="partly_refunded"]')).toContainText("$20.00");

  // Spend $30 in the Studio, then refund the rest: $33 goes back, $25 of it was spent.
  execFileSync("../target/debug/tollgate", ["admin", "prices", "set", "--email", email, "--endpoint", "fal-ai/flux/schnell", "--usd", "30"]);
  await page.goto("/studio");
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId("estimate")).toContainText("$30.00", { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await page.getByLabel("Prompt").fill("a lighthouse at dusk");
  await page.getByRole("button", { name: "Generate" }).click();
  await expect(page.getByText(/Cost \$30\.00, charged to your credits/)).toBeVisible();

  refund(session);
  await page.goto("/credits");
  await expect(page.getByTestId("balance")).toHaveText("$0.00");
  await expect(page.getByTestId("owed")).toContainText("You owe $25.00");
  const refunded = page.getByTestId("payments").locator('tr[data-status="refunded"]');
  await expect(refunded).toContainText("Refunded");
  await expect(refunded).toContainText("$50.00");
  await page.screenshot({ path: "test-results/refund-owed.png", fullPage: true });

  // Owing pauses new work: the Studio opens the billing gate.
  await page.goto("/studio");
  await hydrated(page);
  await page.getByLabel("Prompt").fill("one more");
  await page.getByRole("button", { name: "Generate" }).click();
  await expect(page.getByRole("dialog", { name: "Set up billing to continue" })).toBeVisible();
});

import { execFileSync } from "node:child_process";
import { expect, newEmail, signUpAs, test } from "./fixtures";

// The same person in a browser with JavaScript turned off: every page shows its data from
// the first response, and forms work as plain forms.
test("the Credits page works with JavaScript disabled", async ({ browser }) => {
  const email = newEmail("noscript");
  const withScripts = await (await browser.newContext()).newPage();
  await signUpAs(withScripts, email);
  for (const i of [1, 2]) {
    const res = await withScripts.request.post("/api/v1/run/fal-ai/flux/schnell", {
      data: { prompt: "a fox" },
      headers: { "x-request-id": `noscript-${i}` },
    });
    expect(res.status()).toBe(200);
  }
  const context = await browser.newContext({ javaScriptEnabled: false, storageState: await withScripts.context().storageState() });
  const page = await context.newPage();

  await page.goto("/credits");
  await expect(page.getByTestId("balance")).toHaveText("$4.9940");
  await expect(page.getByTestId("header-balance")).toHaveText("$4.9940");
  await expect(page.getByTestId("usage-summary").getByRole("row")).toHaveCount(9); // header, 7 days, total
  await expect(page.getByTestId("usage-total")).toHaveText("$0.0060");
  await expect(page.getByText("Loading…")).toHaveCount(0);

  // Transactions: the rows, and the type filter as a plain form.
  await page.getByRole("tab", { name: "Transactions" }).click();
  await expect(page).toHaveURL(/tab=transactions/);
  await expect(page.locator("tr[data-code]")).toHaveCount(3);
  await page.getByLabel("Type").selectOption({ label: "Sign-up credits" });
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/type=grants/);
  await expect(page.locator("tr[data-code]")).toHaveCount(1);
  await expect(page.locator("tr[data-code]")).toContainText("+$5.00");

  // A gift code redeemed with a plain form post: back on the page, with the credits added.
  const csv = execFileSync("../target/debug/tollgate", ["admin", "gift-codes", "create", "--amount", "10"], { encoding: "utf8" });
  const code = csv.trim().split("\n")[1].split(",")[0];
  await page.goto("/credits?tab=gift-codes");
  await page.getByLabel("Gift code", { exact: true }).fill(code);
  await page.getByRole("button", { name: "Redeem" }).click();
  await expect(page).toHaveURL(/\/credits\?tab=gift-codes/);
  await page.goto("/credits");
  await expect(page.getByTestId("balance")).toHaveText("$14.9940");

  // The Studio and settings pages also arrive whole.
  for (const path of ["/studio", "/settings/api-keys", "/settings/api-tokens"]) {
    await page.goto(path);
    await expect(page.getByText("Loading…")).toHaveCount(0);
  }
  await page.goto("/studio");
  await expect(page.getByTestId("studio-balance")).toHaveText("$14.9940");
  await context.close();
});

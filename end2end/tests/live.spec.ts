import { expect, hydrated, newEmail, signInAs, signUpAs, test } from "./fixtures";

test("a purchase in one browser updates the balance in another without a reload", async ({ browser }) => {
  const email = newEmail("live");
  const buyer = await (await browser.newContext()).newPage();
  await signUpAs(buyer, email);

  // The same person in another browser, on the Credits page.
  const watcher = await (await browser.newContext()).newPage();
  await signInAs(watcher, email);
  await expect(watcher.getByTestId("balance")).toHaveText("$5.00");
  await expect(watcher.getByTestId("header-balance")).toHaveText("$5.00");
  const loads: string[] = [];
  watcher.on("framenavigated", (frame) => loads.push(frame.url()));
  // And in the Studio, in another tab of that browser.
  const studio = await watcher.context().newPage();
  await studio.goto("/studio");
  await hydrated(studio);
  await expect(studio.getByTestId("studio-balance")).toHaveText("$5.00");

  await buyer.getByLabel("Amount (USD)").fill("10");
  await buyer.getByRole("button", { name: "Continue to payment" }).click();
  await expect(buyer).toHaveURL(/\/sandbox\/checkout\//);
  await hydrated(buyer);
  await buyer.getByRole("button", { name: "Pay $10.00" }).click();
  await expect(buyer).toHaveURL(/checkout=success/);
  const paid = Date.now();

  // The other browser hears of it, without navigating.
  await expect(watcher.getByTestId("balance")).toHaveText("$15.00", { timeout: 3000 });
  const seen = Date.now() - paid;
  await expect(watcher.getByTestId("header-balance")).toHaveText("$15.00");
  await expect(watcher.getByTestId("usage-balance")).toContainText("$15.00");
  await expect(studio.getByTestId("studio-balance")).toHaveText("$15.00");
  expect(loads).toEqual([]);
  console.log(`balance updated in the other browser ${seen} ms after the payment page returned`);

  // A call made elsewhere (the API, as the Studio makes them) shows up too.
  expect((await buyer.request.post("/api/v1/run/fal-ai/flux/schnell", { data: { prompt: "a fox" } })).status()).toBe(200);
  await expect(watcher.getByTestId("balance")).toHaveText("$14.9970", { timeout: 3000 });
  await watcher.getByRole("tab", { name: "Transactions" }).click();
  await expect(watcher.getByRole("row", { name: /FLUX\.1 \[schnell\]/ }).first()).toBeVisible();
});

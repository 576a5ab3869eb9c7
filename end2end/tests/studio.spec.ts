import { execFileSync } from "node:child_process";
import { dismissOnboarding, expect, hydrated, newEmail, snapshot, test } from "./fixtures";

const FAL_KEY = "3f1c2a9e-1b2c-4d5e-8f90-0123456789ab:0123456789abcdef0123456789ab7a9f";

async function signUp(page: import("@playwright/test").Page): Promise<string> {
  const email = newEmail("studio");
  await page.goto("/signup?next=/studio");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/studio$/);
  await dismissOnboarding(page);
  return email;
}

test("the estimate shows before running, and a run charges its cost and shows in Transactions", async ({ page }) => {
  await signUp(page);
  const estimate = page.getByTestId("estimate");
  await expect(estimate).toHaveText("Estimated cost: $0.0030 from your credits.");
  await page.getByLabel("Images").selectOption("2");
  await expect(estimate).toHaveText("Estimated cost: $0.0060 from your credits.");
  await page.getByLabel("Prompt").fill("A lighthouse at dusk");
  await page.getByRole("button", { name: "Generate" }).click();
  await expect(page.getByTestId("run-cost")).toHaveText("Cost $0.0060, charged to your credits (estimated $0.0060).");
  await expect(page.getByRole("img", { name: /Generated image/ })).toHaveCount(2);
  await snapshot(page, "studio-result");

  await page.goto("/credits?tab=transactions");
  await hydrated(page);
  // Described by the model's name and what it did, not by ids.
  const row = page.getByRole("row", { name: /FLUX\.1 \[schnell\]/ });
  await expect(row).toContainText("$0.0060");
  await expect(row).toContainText("fal.ai · Image generation");
  await expect(row).not.toContainText("generateImage");
  await expect(row.locator('td[title="fal-ai/flux/schnell"]')).toContainText("FLUX.1 [schnell]");
});

test("a provider failure charges nothing", async ({ page }) => {
  await signUp(page);
  await page.getByLabel("Prompt").fill("anything");
  await page.getByLabel("Simulate a provider failure (sandbox)").check();
  await page.getByRole("button", { name: "Generate" }).click();
  await expect(page.getByRole("alert").getByText(/could not make this \(provider error\)\. Nothing was charged\./)).toBeVisible();
  await page.goto("/credits");
  await expect(page.getByTestId("balance")).toHaveText("$5.00");
});

test("running out of credits opens the billing gate, which says how much is needed", async ({ page }) => {
  const email = await signUp(page);
  execFileSync("../target/debug/tollgate", ["admin", "prices", "set", "--email", email, "--endpoint", "fal-ai/flux/schnell", "--usd", "6"]);
  // The server sees a price set from the command line within a few seconds.
  await expect(async () => {
    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId("estimate")).toHaveText("Estimated cost: $6.00. That is more than your available credits.", {
      timeout: 1_000,
    });
  }).toPass({ timeout: 20_000 });
  await page.getByLabel("Prompt").fill("too expensive");
  const generate = page.getByRole("button", { name: "Generate" });
  await generate.click();

  const gate = page.getByRole("dialog", { name: "Set up billing to continue" });
  await expect(gate).toBeVisible();
  await expect(gate).toContainText("This needs $6.00 and you have $5.00 available, and no fal.ai key of yours covers it.");
  // The gate has the ways to pay; no toast competes with it (nor could be clicked behind it).
  await expect(page.getByRole("region", { name: "Notifications" }).locator(".toast")).toHaveCount(0);
  await expect(gate.getByRole("link", { name: /Add credits/ })).toHaveAttribute("href", "/credits?tab=balance&next=/studio");
  await snapshot(page, "gate-generation");
  await page.keyboard.press("Escape");
  await expect(gate).toBeHidden();
  await expect(generate).toBeFocused();
  // Closed, the reason stays said beside the button.
  await expect(page.getByRole("alert")).toContainText("Insufficient credits: this needs $6.00 and $5.00 is available.");
});

test("a saved fal.ai key makes the run free", async ({ page }) => {
  await signUp(page);
  await page.goto("/settings/api-keys");
  await hydrated(page);
  const fal = page.locator("[data-provider=fal]");
  await fal.getByLabel("Add a fal.ai key").fill(FAL_KEY);
  await fal.getByRole("button", { name: "Save key" }).click();
  await expect(fal.getByTestId("key-status")).toHaveText("Connected");

  await page.goto("/studio");
  await hydrated(page);
  await expect(page.getByTestId("estimate")).toHaveText(
    "Estimated $0.0030 at the provider's price: paid with your own key, no credits used.",
  );
  await page.getByLabel("Prompt").fill("free with my key");
  await page.getByRole("button", { name: "Generate" }).click();
  await expect(page.getByTestId("run-cost")).toHaveText(
    "Cost $0.0030 at the provider's price: paid with your own key, no credits used.",
  );
  await page.goto("/credits");
  await expect(page.getByTestId("balance")).toHaveText("$5.00");
});

test("a video job shows its progress while queued and running, then the video and what it cost", async ({ page }) => {
  await signUp(page);
  await page.getByLabel("Model").selectOption("fal-ai/kling-video/v1/standard/text-to-video");
  await expect(page.getByLabel("Images")).toBeHidden();
  await expect(page.getByTestId("estimate")).toHaveText("Estimated cost: $0.10 from your credits.");
  await page.getByLabel("Prompt").fill("A paper boat on a rainy street");
  await page.getByRole("button", { name: "Generate video" }).click();

  const status = page.getByTestId("job-status");
  await expect(status).toHaveText(/^Queued/);
  await expect(page.getByRole("progressbar", { name: "Job progress" })).toBeVisible();
  await expect(status).toHaveText(/^Running: Rendering frames: \d+%$/);
  await snapshot(page, "studio-job-running");
  await expect(status).toHaveText("Done. Cost $0.10, charged to your credits (estimated $0.10).", { timeout: 15_000 });
  await expect(page.getByRole("img", { name: "Generated video 1" })).toBeVisible();
  await expect(page.getByRole("progressbar")).toHaveCount(0);
  await expect(page.getByTestId("estimate")).toHaveText("Estimated cost: $0.10 from your credits.");
  await snapshot(page, "studio-job-done");

  await page.goto("/credits");
  await expect(page.getByTestId("balance")).toHaveText("$4.90");
  // Named the same way in the call history and in Transactions.
  await expect(page.getByTestId("usage-history").locator("tr[data-status=succeeded]").first()).toContainText("Video generation");
  await page.goto("/credits?tab=transactions");
  await expect(page.getByRole("row", { name: /Kling 1\.0 Standard/ }).first()).toContainText("fal.ai · Video generation");
});

test("a video job the provider fails charges nothing", async ({ page }) => {
  await signUp(page);
  await page.getByLabel("Model").selectOption("fal-ai/kling-video/v1/standard/text-to-video");
  await page.getByLabel("Prompt").fill("anything");
  await page.getByLabel("Simulate a provider failure (sandbox)").check();
  await page.getByRole("button", { name: "Generate video" }).click();
  await expect(page.getByTestId("job-status")).toHaveText(/could not make this \(provider error\)\. Nothing was charged\./, {
    timeout: 15_000,
  });
  await snapshot(page, "studio-job-failed");
  await page.goto("/credits");
  await expect(page.getByTestId("balance")).toHaveText("$5.00");
});

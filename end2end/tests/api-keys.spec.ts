import { dismissOnboarding, expect, hydrated, newEmail, onboardingDone, snapshot, test } from "./fixtures";

const FAL_KEY = "3f1c2a9e-1b2c-4d5e-8f90-0123456789ab:0123456789abcdef0123456789ab7a9f";

async function signUp(page: import("@playwright/test").Page, next = "/credits"): Promise<void> {
  await page.goto(`/signup?next=${encodeURIComponent(next)}`);
  await hydrated(page);
  await page.getByLabel("Email").fill(newEmail("keys"));
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();
}

test("the Get started dialog greets a new account once and stays dismissed", async ({ page }) => {
  await signUp(page);
  await expect(page).toHaveURL(/\/credits$/);
  await hydrated(page);
  const gate = page.getByRole("dialog", { name: "Get started" });
  await expect(gate).toBeVisible();
  await expect(gate).toContainText("You have $5.00 of credit");
  for (const name of ["Add credits", "Add API keys", "Connect OpenRouter"]) {
    await expect(gate.getByRole("link", { name: new RegExp(name) })).toBeVisible();
  }
  await expect(gate.getByRole("link", { name: "Have a gift code? Redeem it" })).toBeVisible();
  await snapshot(page, "gate-onboarding");

  // Focus stays inside while it is open, both ways round.
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press("Tab");
    expect(await gate.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  }
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press("Shift+Tab");
    expect(await gate.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  }
  const remembered = onboardingDone(page);
  await page.keyboard.press("Escape");
  await expect(gate).toBeHidden();
  await remembered;

  // Remembered by the server: not again after a reload, nor on another visit.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("balance")).toHaveText("$5.00");
  await page.waitForTimeout(300);
  await expect(gate).toBeHidden();
  await page.goto("/settings/api-keys");
  await hydrated(page);
  await page.waitForTimeout(300);
  await expect(gate).toBeHidden();
});

test("choosing Add API keys in the dialog leads to Settings and back", async ({ page }) => {
  await signUp(page, "/credits?tab=transactions");
  await expect(page).toHaveURL(/tab=transactions$/);
  await hydrated(page);
  const gate = page.getByRole("dialog", { name: "Get started" });
  const remembered = onboardingDone(page);
  await gate.getByRole("link", { name: /Add API keys/ }).click();
  await remembered;
  await expect(page).toHaveURL(/\/settings\/api-keys\?next=/);
  await expect(gate).toBeHidden();
  await page.getByRole("link", { name: /Continue where you left off/ }).click();
  await expect(page).toHaveURL(/\/credits\?tab=transactions$/);
  await page.reload();
  await hydrated(page);
  await page.waitForTimeout(300);
  await expect(gate).toBeHidden();
});

test("add, test and remove a fal.ai key; only its last four characters are ever shown", async ({ page }) => {
  await signUp(page, "/settings/api-keys");
  await expect(page).toHaveURL(/\/settings\/api-keys$/);
  await dismissOnboarding(page);
  const fal = page.locator("[data-provider=fal]");
  await expect(fal.getByTestId("key-status")).toHaveText("Not set");

  const input = fal.getByLabel("Add a fal.ai key");
  await expect(input).toHaveAttribute("type", "password");
  await input.fill("not-a-key");
  await fal.getByRole("button", { name: "Save key" }).click();
  await expect(fal.getByText(/This is not a fal.ai key/)).toBeVisible();
  await expect(input).toHaveAttribute("aria-invalid", "true");

  await input.fill(FAL_KEY);
  await fal.getByRole("button", { name: "Save key" }).click();
  await expect(fal.getByTestId("key-status")).toHaveText("Connected");
  await expect(fal.getByTestId("key-last4")).toHaveText("••••7a9f");
  await expect(fal.getByText("fal.ai accepted the key.")).toBeVisible();
  await expect(fal.getByLabel("Replace the fal.ai key")).toHaveValue("");
  await snapshot(page, "api-keys-with-fal");

  // The key never comes back to the browser: not in the page, not after a reload.
  await page.reload();
  await hydrated(page);
  await expect(fal.getByTestId("key-last4")).toHaveText("••••7a9f");
  const html = await page.content();
  expect(html).not.toContain("0123456789abcdef0123456789ab7a9f");

  const tested = page.waitForResponse((r) => r.url().endsWith("/api/provider_key_test"));
  await fal.getByRole("button", { name: "Test key" }).click();
  await tested;
  await expect(fal.getByText("fal.ai accepted the key.")).toBeVisible();

  await fal.getByRole("button", { name: "Remove", exact: true }).click();
  await expect(fal.getByText("Remove your fal.ai key? fal.ai calls will use credits again.")).toBeVisible();
  await fal.getByRole("button", { name: "Cancel" }).click();
  await expect(fal.getByTestId("key-status")).toHaveText("Connected");
  await fal.getByRole("button", { name: "Remove", exact: true }).click();
  await fal.getByRole("button", { name: "Remove key" }).click();
  await expect(fal.getByTestId("key-status")).toHaveText("Not set");
  await expect(fal.getByTestId("key-last4")).toHaveCount(0);
});

test("a key the provider refuses is not saved", async ({ page }) => {
  await signUp(page, "/settings/api-keys");
  await dismissOnboarding(page);
  const or = page.locator("[data-provider=openrouter]");
  // In the sandbox, a key ending in 0000 plays one the provider refuses.
  await or.getByLabel("Add an OpenRouter key").fill("sk-or-v1-abcdef0123456789abcdef0000");
  await or.getByRole("button", { name: "Save key" }).click();
  await expect(or.getByText("OpenRouter refused this key (it may be revoked or mistyped). Nothing was saved.")).toBeVisible();
  await expect(or.getByTestId("key-status")).toHaveText("Not set");
});

test("connect OpenRouter through the sandbox consent page", async ({ page }) => {
  await signUp(page, "/settings/api-keys");
  await dismissOnboarding(page);
  const or = page.locator("[data-provider=openrouter]");
  await or.getByRole("link", { name: "Connect with OpenRouter" }).click();
  await expect(page).toHaveURL(/\/sandbox\/openrouter\/auth\?callback_url=.*code_challenge_method=S256/);
  await expect(page.getByRole("heading", { name: "Authorize Tollgate" })).toBeVisible();
  await snapshot(page, "openrouter-sandbox-consent");
  await page.getByRole("link", { name: "Authorize" }).click();

  await expect(page).toHaveURL(/\/settings\/api-keys\?notice=openrouter_connected$/);
  await expect(page.getByRole("status").getByText("OpenRouter is connected.")).toBeVisible();
  await expect(or.getByTestId("key-status")).toHaveText("Connected");
  await expect(or).toContainText("(connected with OpenRouter)");
  await snapshot(page, "api-keys-openrouter-connected");
});

test("a tampered state is refused with a clear message and nothing is saved", async ({ page }) => {
  await signUp(page, "/settings/api-keys");
  await dismissOnboarding(page);
  await page.locator("[data-provider=openrouter]").getByRole("link", { name: "Connect with OpenRouter" }).click();
  await expect(page).toHaveURL(/\/sandbox\/openrouter\/auth/);
  const allow = (await page.getByRole("link", { name: "Authorize" }).getAttribute("href"))!;
  const tampered = allow.replace(/state=([^&]+)/, "state=$1tampered");
  expect(tampered).not.toBe(allow);
  await page.goto(tampered);

  await expect(page).toHaveURL(/notice=oauth_state$/);
  const alert = page.getByRole("alert").filter({ hasText: "could not be verified as yours" });
  await expect(alert).toBeVisible();
  await expect(page.locator("[data-provider=openrouter]").getByTestId("key-status")).toHaveText("Not set");
  await snapshot(page, "api-keys-oauth-state-error");

  // The genuine link afterwards: the attempt was used up.
  await page.goto(allow);
  await expect(page).toHaveURL(/notice=oauth_used$/);
  await expect(page.getByRole("alert").filter({ hasText: "already used" })).toBeVisible();
});

test("denying on the consent page says so and saves nothing", async ({ page }) => {
  await signUp(page, "/settings/api-keys");
  await dismissOnboarding(page);
  await page.locator("[data-provider=openrouter]").getByRole("link", { name: "Connect with OpenRouter" }).click();
  await page.getByRole("link", { name: "Deny" }).click();
  await expect(page).toHaveURL(/notice=oauth_denied$/);
  await expect(page.getByRole("alert").filter({ hasText: "You declined access on OpenRouter" })).toBeVisible();
  await expect(page.locator("[data-provider=openrouter]").getByTestId("key-status")).toHaveText("Not set");
});

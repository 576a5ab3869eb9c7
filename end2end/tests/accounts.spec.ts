import { dismissOnboarding, expect, hydrated, test } from "./fixtures";

// A fresh person for every test: nothing depends on what another test left behind.
function newEmail(): string {
  return `user-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`;
}

test("sign up, land signed in with $5.00, stay signed in, sign out and back in", async ({ page }) => {
  const email = newEmail();
  const password = "a long enough password";

  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();

  await expect(page).toHaveURL(/\/credits$/);
  await dismissOnboarding(page);
  await expect(page.getByTestId("balance")).toHaveText("$5.00");
  const banner = page.getByRole("banner");
  await expect(banner.getByText(email)).toBeVisible();

  await page.reload();
  await expect(page.getByTestId("balance")).toHaveText("$5.00");
  await hydrated(page);

  await banner.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(banner.getByRole("link", { name: "Sign in" })).toBeVisible();

  await page.goto("/credits");
  await expect(page).toHaveURL(/\/signin\?next=\/credits$/);
  await hydrated(page);
  await page.getByLabel("Email").fill(email.toUpperCase());
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/credits$/);
  await expect(page.getByTestId("balance")).toHaveText("$5.00");
});

test("a wrong password shows an error next to the field", async ({ page }) => {
  const email = newEmail();
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("the right password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/credits$/);
  await dismissOnboarding(page);
  await page.getByRole("banner").getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/$/);

  await page.goto("/signin");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("the wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  const password = page.getByLabel("Password");
  await expect(password).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByText("Wrong email or password.")).toBeVisible();
  await expect(page).toHaveURL(/\/signin$/);
});

test("sign-up errors say what to fix", async ({ page }) => {
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill("not an email");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByText("Enter an email address like name@example.com.")).toBeVisible();
  await page.getByLabel("Email").fill(newEmail());
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByText("Use at least 8 characters.")).toBeVisible();
});

test("API tokens are shown once, listed, and revoked", async ({ page }) => {
  await page.goto("/signup?next=/settings/api-tokens");
  await hydrated(page);
  await page.getByLabel("Email").fill(newEmail());
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/settings\/api-tokens$/);
  await dismissOnboarding(page);

  await page.getByLabel("Token name").fill("build server");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = page.getByTestId("new-token");
  await expect(secret).toHaveText(/^tg_[0-9a-f]{64}$/);
  const row = page.getByRole("row", { name: /build server/ });
  await expect(row).toContainText("Never");

  // Nothing spills sideways at phone width, table included.
  await page.setViewportSize({ width: 360, height: 740 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.setViewportSize({ width: 1280, height: 720 });

  const token = (await secret.textContent())!;
  const me = await page.request.get("/api/v1/me", { headers: { Authorization: `Bearer ${token}` } });
  expect(me.status()).toBe(200);

  await row.getByRole("button", { name: "Revoke build server" }).click();
  await expect(page.getByText("No tokens yet.")).toBeVisible();
  const after = await page.request.get("/api/v1/me", { headers: { Authorization: `Bearer ${token}` } });
  expect(after.status()).toBe(401);
});
